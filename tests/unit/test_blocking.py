"""What is written down that keeps a job from starting, as data, and the one phrasing each command says it in."""

from __future__ import annotations

from datetime import datetime, timezone

from jobdeck.state.blocking import Blocked, blocking
from jobdeck.state.board import Board
from jobdeck.state.machine import JobState, Status
from jobdeck.state.spec import Spec

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc).timestamp()
SPEC = Spec.model_validate({"jobs": [
    {"id": "up", "command": ["true"]},
    {"id": "pub", "command": ["true"], "risk": "high", "paused": True, "depends_on": ["up"],
     "schedule": "0 2 * * *", "timezone": "Europe/Berlin"},
    {"id": "inbox", "command": ["true"], "trigger": "*.csv"}]})


def test_a_backlog_job_lists_each_blocker_in_order_with_what_lifts_it() -> None:
    state = JobState("pub", Status.BACKLOG, override="hold", override_reason="site down", not_before=NOW + 90,
                     reason="exit code 1")
    board = Board({"pub": state}, held={"by": "ana@box", "ts": NOW - 60, "reason": "maintenance"})
    found = blocking(SPEC.by_id["pub"], state, board, NOW)
    assert [(b.kind, b.fact, b.commands) for b in found] == [
        (Blocked.DECK_HELD, "the whole deck is held by ana@box since 2026-12-06 11:59 UTC: maintenance",
         ("jobdeck release",)),
        (Blocked.PAUSED, "is paused", ("jobdeck resume pub",)),
        (Blocked.HELD, "is held by the operator: site down", ("jobdeck release pub",)),
        (Blocked.SCHEDULE, "waits for its schedule (0 2 * * *): next fire 02:00 Europe/Berlin",
         ("jobdeck trigger pub",)),
        (Blocked.APPROVAL, "is high-risk and waits for approval", ("jobdeck approve pub",)),
        (Blocked.RETRY, "waits to retry until 12:01 UTC, in 1m30s (exit code 1)", ()),
        (Blocked.DEPENDENCY, "depends on up, which is in the backlog", ()),
    ]
    assert [b.kind for b in found if b.by_operator] == [Blocked.DECK_HELD, Blocked.PAUSED, Blocked.HELD,
                                                        Blocked.APPROVAL]
    deck, paused, *_ = found
    assert paused.said() == "is paused (`jobdeck resume pub`)"  # as `why` lists it
    assert paused.said("pub") == "pub is paused (`jobdeck resume pub`)"  # as `run --job --wait` says it
    assert deck.said("pub") == deck.said() == deck.fact + " (`jobdeck release`)"  # the deck is its own subject
    assert found[3].lift == "`jobdeck trigger pub` starts a cycle now"
    assert found[-1].said("it") == "it depends on up, which is in the backlog"  # nothing to type: no hint


def test_a_job_in_review_waits_for_its_review_and_a_running_one_for_nothing() -> None:
    review = JobState("up", Status.REVIEW)
    [waits] = blocking(SPEC.by_id["up"], review, Board({"up": review}), NOW)
    assert waits.said("up") == "up waits for review of its output (`jobdeck approve up` or `jobdeck reject up`)"
    assert waits.by_operator
    running = JobState("up", Status.RUNNING)
    assert blocking(SPEC.by_id["up"], running, Board({"up": running}, held={"by": "a@b", "ts": NOW}), NOW) == []
    inbox = JobState("inbox", Status.BACKLOG)
    [fire] = blocking(SPEC.by_id["inbox"], inbox, Board({"inbox": inbox}), NOW)
    assert (fire.kind, fire.fact, fire.by_operator) == (Blocked.INBOX, "waits for a file matching *.csv in its inbox",
                                                        False)
