"""state/outcomes.py: output that failed validation counts as a failure of class invalid_output, the same in the
board's rollups, in `stats`' history and in the decision service's estimates, whichever event recorded it."""

from __future__ import annotations

from typing import Any

import pytest

from jobdeck.decide.heuristic import Heuristic
from jobdeck.decide.policy import policy_of
from jobdeck.state.board import Board
from jobdeck.state.history import History
from jobdeck.state.outcomes import counted_as, failure_class
from jobdeck.state.spec import Spec

T0 = 1_800_000_000.0
INVALID = {"type": "succeeded", "review": True, "reason": "invalid output", "reasons": ["output: no match"]}
"""The event runner/verdict.py writes for output that failed validation under the default review policy."""
NEVER = {"type": "failed", "reason": "invalid_output", "reasons": ["output: no match"],
         "message": "output failed validation and review is 'never'"}
"""Its event when the job's review is "never"."""


def records(*ends: tuple[float, dict[str, Any]]) -> list[dict[str, Any]]:
    """Job ``j`` claimed and ended once per ``(seconds it ran, outcome fields)``, a retry between."""
    log: list[dict[str, Any]] = []

    def add(at: float, **fields: Any) -> int:
        log.append({"seq": len(log) + 1, "ts": T0 + at, "job": "j", **fields})
        return len(log)

    at = 0.0
    for n, (seconds, end) in enumerate(ends, 1):
        token = add(at, type="claimed", attempt=n, runner="r")
        add(at + seconds, token=token, **end)
        add(at + seconds + 1, type="retried", by="op")
        at += seconds + 10
    return log


def test_the_rule() -> None:
    assert counted_as("succeeded", "invalid output") == ("failed", "invalid_output")
    assert counted_as("failed", "invalid_output") == ("failed", "invalid_output")  # review "never" wrote it so
    policy = "review required (review: always)"
    assert counted_as("succeeded", policy) == ("succeeded", policy)  # a success a person must look at
    assert counted_as("succeeded", None) == ("succeeded", None)
    assert counted_as("cancelled", "invalid output") == ("cancelled", "invalid output")  # no failure
    assert failure_class("invalid_output") == "invalid_output"


def test_the_rollups_count_it_as_a_failure_and_keep_its_time_out_of_the_durations() -> None:
    board = Board()
    for record in records((10, {"type": "succeeded"}), (600, INVALID), (20, NEVER)):
        board.apply(record)
    rollup = board.rollups.jobs["j"]
    assert rollup.outcomes == {"succeeded": 1, "failed": 2}
    assert rollup.reasons == {"invalid_output": 2}  # the review's and review "never"'s alike
    assert rollup.durations.total == 1 and rollup.durations.quantile(0.9) == pytest.approx(10, rel=0.09)
    assert rollup.failure_rate() == pytest.approx(2 / 3)
    assert sum(hour.succeeded for hour in board.rollups.hours.values()) == 1
    assert sum(hour.failed for hour in board.rollups.hours.values()) == 2
    assert board.rollups.failures_since(T0) == 2


def test_the_decision_service_does_not_plan_on_its_duration() -> None:
    board = Board()
    for record in records((10, {"type": "succeeded"}), *[(600, INVALID)] * 4):
        board.apply(record)
    spec = Spec.model_validate({"decide": {"mode": "live"}, "jobs": [{"id": "j", "command": ["true"]}]})
    estimate = Heuristic(policy_of(spec), board).estimate("j")
    assert estimate.runs == 1 and estimate.p90 == pytest.approx(10, rel=0.09)  # not 600 s
    assert estimate.failure_rate == pytest.approx(0.8)


def test_the_history_counts_it_as_the_rollups_do() -> None:
    log = records((10, {"type": "succeeded"}), (600, INVALID))
    history = History()
    history.fold(log)
    tally = history.total["job:j"]
    assert tally.outcomes == {"succeeded": 1, "failed": 1} and tally.reasons == {"invalid_output": 1}
    assert tally.failures_by_class() == {"invalid_output": 1}
    assert tally.run.total == 1 and tally.run.quantile(0.9) == pytest.approx(10, rel=0.09)
    board = Board()
    for record in log:
        board.apply(record)
    assert board.rollups.jobs["j"].outcomes == tally.outcomes and board.rollups.jobs["j"].reasons == tally.reasons
