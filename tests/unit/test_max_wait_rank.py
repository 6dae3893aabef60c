"""max_wait in the ranking: a bound, not a priority; its breach, as the board and an alert keep it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from jobdeck.decide.heuristic import NORMAL, OVERDUE, URGENT, Heuristic
from jobdeck.decide.outlook import Outlook
from jobdeck.decide.policy import policy_of
from jobdeck.state.board import Board
from jobdeck.state.machine import Attempt, JobState, Status
from jobdeck.state.notify_rules import from_record
from jobdeck.state.spec import Spec

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc).timestamp()


def spec(*jobs: dict[str, Any], **decide: Any) -> Spec:
    return Spec.model_validate({"decide": {"mode": "live", **decide},
                                "jobs": [{"command": ["true"], **job} for job in jobs]})


def board(*states: JobState, p90: dict[str, float] | None = None) -> Board:
    """A board with these states and, per job, five past successes of the given length."""
    found = Board({state.job: state for state in states})
    for job, seconds in (p90 or {}).items():
        for n in range(1, 6):
            found.rollups.add(job, Attempt(n, n, "r", "default", NOW - 86400, NOW - 86400 + seconds, "succeeded"))
    return found


def ready(job: str, since: float = NOW, **fields: Any) -> JobState:
    return JobState(job, Status.BACKLOG, since=since, **fields)


def test_a_safe_max_wait_keeps_your_order_until_half_of_it_is_left() -> None:
    # Every job takes 5m: a slot comes free within 5m. tidy may wait 30m: it goes ahead with 15m left, not at once.
    heuristic = Heuristic(policy_of(spec({"id": "eager", "priority": 5}, {"id": "tidy", "max_wait": "30m"})),
                          board(ready("eager"), ready("tidy"), p90={"eager": 300, "tidy": 300}))
    assert [v.job for v in heuristic.rank(["eager", "tidy"], Outlook(NOW))] == ["eager", "tidy"]
    key, _, reasons, change = heuristic.order("tidy", heuristic.board.state("tidy"), NOW)
    assert key[0] == NORMAL and change == pytest.approx(NOW + 15 * 60)
    assert reasons[0] == "must start by 04:30 UTC (max_wait 30m00s), in 30m00s"
    assert [v.job for v in heuristic.rank(["eager", "tidy"], Outlook(NOW + 15 * 60))] == ["tidy", "eager"]
    key, score, _, change = heuristic.order("tidy", heuristic.board.state("tidy"), NOW + 15 * 60)
    assert key == (URGENT, NOW + 30 * 60) and change == pytest.approx(NOW + 30 * 60) and score == 500.0


def test_a_slot_that_may_stay_busy_longer_than_half_the_max_wait_sets_the_lead() -> None:
    # A 20m job may hold the only slot: tidy (max_wait 30m) must go ahead with 20m left, not 15m.
    heuristic = Heuristic(policy_of(spec({"id": "long", "priority": 5}, {"id": "tidy", "max_wait": "30m"})),
                          board(ready("long"), ready("tidy"), p90={"long": 1200, "tidy": 60}))
    assert heuristic.slot_hold() == pytest.approx(1200, rel=0.1)  # (the histogram's bucket)
    key, _, _, change = heuristic.order("tidy", heuristic.board.state("tidy"), NOW)
    assert key[0] == NORMAL and change == pytest.approx(NOW + 30 * 60 - heuristic.slot_hold())
    # ... and never more than the horizon: a max_wait of 3h goes ahead with 1h left, as a deadline's latest start
    assert heuristic.wait_lead(3 * 3600) == 3600.0


def test_a_max_wait_shorter_than_a_slot_may_stay_busy_is_urgent_from_the_start() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "eager", "priority": 5}, {"id": "tidy", "max_wait": "4m"})),
                          board(ready("eager"), ready("tidy"), p90={"eager": 300}))
    assert [v.job for v in heuristic.rank(["eager", "tidy"], Outlook(NOW))] == ["tidy", "eager"]


def test_past_its_max_wait_a_job_is_first_in_line_and_is_not_promised_a_start() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "tidy", "max_wait": "10m"})),
                          board(ready("tidy", since=NOW - 12 * 60, override="hold")))
    key, _, reasons, change = heuristic.order("tidy", heuristic.board.state("tidy"), NOW)
    assert key[0] == OVERDUE and change is None
    assert reasons[0] == "waited 12m00s, past max_wait 10m00s: first in line"
    assert heuristic.waits_past(NOW) == ([("tidy", NOW - 12 * 60)], None)


def test_waits_past_counts_only_jobs_waiting_and_says_when_the_next_crosses() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "up"}, {"id": "down", "depends_on": ["up"], "max_wait": "1m"},
                                         {"id": "retrying", "max_wait": "1m"}, {"id": "soon", "max_wait": "10m"},
                                         {"id": "late", "max_wait": "1m"})),
                          board(ready("up"), ready("down", since=NOW - 3600),  # waits for up, not for a slot
                                ready("retrying", since=NOW - 3600, not_before=NOW + 60),
                                ready("soon", since=NOW - 60), ready("late", since=NOW - 60.5)))
    assert heuristic.waits_past(NOW) == ([("late", NOW - 60.5)], NOW + 540)
    assert heuristic.waits_past(NOW, grace=1.0) == ([], NOW - 0.5)  # crossed half a second ago: not yet told


def test_a_breach_is_kept_by_the_board_and_raises_a_deadline_alert() -> None:
    found = Board({"tidy": ready("tidy", since=NOW - 600)})
    record = {"type": "decided", "job": "tidy", "action": "overdue", "since": NOW - 600, "max_wait": 540.0,
              "waited": 600.0, "kept_by": "slots", "mode": "live", "seq": 7, "ts": NOW,
              "reasons": ["waited 10m00s, past its max_wait 9m00s, not started: every slot busy (1 of 1: hog)"]}
    found.apply(record)
    assert found.overdue == {"tidy": NOW - 600}
    alert = from_record(record, None, found)
    assert alert is not None and alert.kind == "deadline" and alert.needs_you
    assert alert.text == ("tidy: waited 10m00s, past its max_wait 9m00s, not started: every slot busy (1 of 1: hog); "
                          "jobdeck why tidy")
