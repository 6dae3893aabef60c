"""An outcome event's own end (``ended``, from result.json when recovery records it later) in the fold."""

from __future__ import annotations

import pytest

from jobdeck.state.machine import EventType, JobState, recorded_end, transition


def _running(started: float) -> JobState:
    return transition(JobState("a"), {"type": EventType.CLAIMED, "job": "a", "attempt": 1, "seq": 1}, started)


def test_a_recovered_outcome_ends_when_result_json_says() -> None:
    state = transition(_running(100.0), {"type": EventType.SUCCEEDED, "job": "a", "token": 1, "ended": 108.0,
                                         "recovered": True}, 122.5)
    assert state.attempts[-1].ended == 108.0 and state.since == 122.5  # the move is still when it was recorded


def test_an_outcome_without_its_own_end_ends_when_recorded() -> None:
    state = transition(_running(100.0), {"type": EventType.FAILED, "job": "a", "token": 1}, 122.5)
    assert state.attempts[-1].ended == 122.5


@pytest.mark.parametrize(("ended", "expected"), [
    (90.0, 100.0), (130.0, 122.5), (float("inf"), 122.5), (float("nan"), 122.5), ("108", 122.5), (True, 122.5),
    (None, 122.5), (108, 108),
])
def test_an_end_out_of_the_attempt_or_not_a_time_is_not_taken(ended: object, expected: float) -> None:
    assert recorded_end({"ended": ended}, 100.0, 122.5) == expected
