"""Readiness and cards: what may start now, in which order, and why the rest waits."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from jobdeck.state.board import Board, KeptBack
from jobdeck.state.loader import parse_spec
from jobdeck.state.machine import JobState, Status, transition
from jobdeck.state.views import agent_label, card, cards, ready_jobs

NOW = 1_700_000_000.0


def spec_of(*jobs: dict[str, Any]) -> Any:
    return parse_spec(json.dumps({"jobs": list(jobs)}).encode()).spec


def job(job_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": job_id, "command": ["true"], **fields}


def back_in_backlog(job_id: str, at: float, not_before: float | None = None) -> JobState:
    """A job that ran once, failed transiently at ``at`` and waits in the backlog."""
    running = transition(JobState(job_id), {"type": "claimed", "attempt": 1, "seq": 1}, at - 1)
    return transition(running, {"type": "failed", "token": 1, "retry_at": not_before or at}, at)


def test_ready_jobs_highest_priority_first_then_longest_waiting() -> None:
    spec = spec_of(job("never-ran"), job("late", priority=5), job("early", priority=5), job("low", priority=-1),
                   job("fresh", priority=5))
    board = Board({"late": back_in_backlog("late", NOW - 10), "early": back_in_backlog("early", NOW - 50)})
    assert [j.id for j in ready_jobs(spec, board, NOW)] == ["fresh", "early", "late", "never-ran", "low"]


def test_jobs_that_must_wait_are_not_ready() -> None:
    spec = spec_of(
        job("up"), job("down", depends_on=["up"]), job("paused", paused=True),
        job("backoff"), job("risky", risk="high"), job("cron", schedule="@daily"),
        job("inbox", trigger="*.csv"), job("busy"), job("finished"),
    )
    running = transition(JobState("busy"), {"type": "claimed", "attempt": 1, "seq": 1}, NOW)
    done = transition(transition(JobState("finished"), {"type": "claimed", "attempt": 1, "seq": 2}, NOW),
                      {"type": "succeeded", "token": 2}, NOW)
    board = Board({"backoff": back_in_backlog("backoff", NOW - 5, not_before=NOW + 30),
                   "busy": running, "finished": done})
    assert [j.id for j in ready_jobs(spec, board, NOW)] == ["up"]
    assert "backoff" in [j.id for j in ready_jobs(spec, board, NOW + 30)]


def test_dependency_done_approval_given_and_fire_make_jobs_ready() -> None:
    spec = spec_of(job("up"), job("down", depends_on=["up"]), job("risky", risk="high"),
                   job("cron", schedule="@daily"))
    up_done = transition(transition(JobState("up"), {"type": "claimed", "attempt": 1, "seq": 1}, NOW),
                         {"type": "succeeded", "token": 1}, NOW)
    approved = transition(JobState("risky"), {"type": "approved"}, NOW)
    fired = transition(JobState("cron"), {"type": "triggered"}, NOW)
    board = Board({"up": up_done, "risky": approved, "cron": fired})
    assert [j.id for j in ready_jobs(spec, board, NOW)] == ["down", "risky", "cron"]


def test_cards_explain_why_a_job_waits() -> None:
    spec = spec_of(job("up"), job("down", depends_on=["up"], risk="high", paused=True),
                   job("cron", schedule="0 2 * * *", timezone="Europe/Paris"), job("backoff"),
                   job("interrupted", labels=["x"]))
    interrupted = transition(transition(JobState("interrupted"), {"type": "claimed", "attempt": 1, "seq": 9}, NOW),
                             {"type": "interrupted", "token": 9}, NOW)
    board = Board({"backoff": back_in_backlog("backoff", NOW, not_before=NOW + 60), "interrupted": interrupted})
    by_id = {c.id: c for c in cards(spec, board, NOW)}
    assert by_id["down"].flags == ("blocked by up", "awaiting approval", "paused")
    assert by_id["cron"].flags == ("waiting for schedule",)
    assert by_id["cron"].next_fire is not None and NOW < by_id["cron"].next_fire <= NOW + 86400
    assert by_id["backoff"].flags == ("retrying",)
    assert by_id["backoff"].retry_at == NOW + 60
    assert by_id["interrupted"].column == Status.REVIEW
    assert by_id["interrupted"].flags == ("interrupted",)
    assert by_id["interrupted"].to_json()["labels"] == ["x"]
    assert card(spec.job("backoff"), board.state("backoff"), board, NOW + 61).flags == ()


def test_a_deferral_shows_on_the_card_until_its_time_then_goes_and_a_hold_stays() -> None:
    spec = spec_of(job("night"), job("checked"))
    board = Board(kept_back={"night": KeptBack("defer", "window", NOW + 600, "⏱ window 22:00", "window opens"),
                             "checked": KeptBack("hold", "reviews", None, "⏸ reviews", "review queue full")})
    night, checked = (card(spec.job(j), board.state(j), board, NOW) for j in ("night", "checked"))
    assert (night.flags, night.kept_until) == (("⏱ window 22:00",), NOW + 600)
    assert (checked.flags, checked.kept_until) == (("⏸ reviews",), None)
    later = {j: card(spec.job(j), board.state(j), board, NOW + 600) for j in ("night", "checked")}
    assert (later["night"].flags, later["night"].kept_until) == ((), None)  # the window is open: no stale note
    assert later["checked"].flags == ("⏸ reviews",)  # a hold has no time: it stands until a runner looks again


@pytest.mark.parametrize(("command", "label"), [
    (["python3", "fetch.py"], "python3"),
    ("python3 fetch.py --since=1d", "python3"),
    ("TZ=UTC date", "date"),
    ("for f in *.csv; do wc -l \"$f\"; done", "sh"),  # the first word of shell code need not name a program
    ("cd /srv/app && make", "sh"),
    ("(sleep 1; true)", "sh"),
    ("./run.sh", "./run.sh"),
])
def test_a_cards_agent_names_the_program_a_command_starts(command: object, label: str) -> None:
    assert agent_label(SimpleNamespace(model=None, agent=None, command=command)) == label


def test_a_release_of_a_job_kept_back_names_who_keeps_it_back() -> None:
    """A window defers a job in every mode, so a release is told its window keeps it, not the service."""
    from jobdeck.state.actions import ACTIONS, refusal

    spec = spec_of(job("night"), job("draft"))
    board = Board(kept_back={"night": KeptBack("defer", "window", NOW + 600, "⏱ window 22:00",
                                               "window 22:00-06:00 (UTC) opens at 22:00"),
                             "draft": KeptBack("hold", "reviews", None, "⏸ reviews", "review queue 1 of capacity 1")})
    night = refusal(ACTIONS["release"], spec.job("night"), board.state("night"), board=board, now=NOW)
    draft = refusal(ACTIONS["release"], spec.job("draft"), board.state("draft"), board=board, now=NOW)
    assert night is not None and str(night).startswith(
        "cannot release job 'night': the operator did not pin or hold it; its window defers it: window 22:00")
    assert draft is not None and "; the decision service holds it: review queue 1 of capacity 1" in str(draft)
