"""The state machine table: every transition of the architecture, refusals, fencing tokens.

Pure: states and events are plain values, time is passed in, nothing touches a file.
"""

from __future__ import annotations

from typing import Any

import pytest

from jobdeck.state.actions import ACTION_OF_EVENT, ACTIONS, Action
from jobdeck.state.errors import IllegalTransition, StaleToken
from jobdeck.state.events import encode, record_hash
from jobdeck.state.machine import OPERATOR_EVENTS, TABLE, EventType, JobState, Status, allowed, transition

T0 = 1_700_000_000.0


def ev(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def claimed(state: JobState | None = None, *, seq: int = 7, at: float = T0) -> JobState:
    """The job claimed by a runner: running, with fencing token ``seq``."""
    state = state or JobState("job")
    return transition(state, ev("claimed", attempt=state.next_attempt, seq=seq, runner="r1"), at)


def in_status(status: Status) -> JobState:
    """A job in ``status``, reached through legal transitions only."""
    running = claimed()
    return {
        Status.BACKLOG: JobState("job"),
        Status.RUNNING: running,
        Status.REVIEW: transition(running, ev("succeeded", token=7, review=True), T0 + 1),
        Status.DONE: transition(running, ev("succeeded", token=7), T0 + 1),
        Status.FAILED: transition(running, ev("failed", token=7, reason="exit 1"), T0 + 1),
        Status.CANCELLED: transition(JobState("job"), ev("cancelled"), T0 + 1),
    }[status]


# -- the architecture's table, row by row -------------------------------------------------------


def test_backlog_claimed_is_running_with_a_fencing_token() -> None:
    state = claimed(at=T0 + 5)
    assert state.status == Status.RUNNING
    assert state.token == 7
    assert state.tries == 1
    assert state.since == T0 + 5
    assert state.attempt is not None and (state.attempt.n, state.attempt.runner) == (1, "r1")


def test_running_succeeded_without_review_is_done() -> None:
    state = transition(claimed(), ev("succeeded", token=7, exit_code=0, output_bytes=12), T0 + 3)
    assert state.status == Status.DONE
    assert state.token is None
    assert state.attempt.outcome == "succeeded"
    assert (state.attempt.started, state.attempt.ended, state.attempt.output_bytes) == (T0, T0 + 3, 12)


def test_running_succeeded_needing_review_goes_to_review_with_reasons() -> None:
    event = ev("succeeded", token=7, review=True, reason="output invalid",
               reasons=["missing field 'title'"])
    state = transition(claimed(), event, T0 + 3)
    assert state.status == Status.REVIEW
    assert state.reason == "output invalid"
    assert state.reasons == ("missing field 'title'",)


def test_an_interrupted_attempt_approved_in_review_is_the_output_dependents_are_given() -> None:
    """Not an older cycle's success (it was), nor none at all when the job had never succeeded."""
    done = transition(claimed(), ev("succeeded", token=7), T0 + 1)
    again = claimed(transition(done, ev("triggered", by="op"), T0 + 2), seq=9, at=T0 + 3)
    review = transition(again, ev("interrupted", token=9, review=True), T0 + 4)
    assert review.status == Status.REVIEW and review.last_success.n == 1
    approved = transition(review, ev("approved"), T0 + 5)
    assert approved.status == Status.DONE
    assert approved.last_success.n == 2 and approved.attempt.accepted is True
    assert JobState.from_json(approved.to_json()) == approved  # as board.json keeps it
    assert done.attempt.accepted is None  # a success needs no acceptance


def test_running_failed_transiently_goes_back_to_backlog_until_retry_at() -> None:
    state = transition(claimed(), ev("failed", token=7, reason="rate limited", retry_at=T0 + 60), T0 + 3)
    assert state.status == Status.BACKLOG
    assert state.not_before == T0 + 60
    assert state.reason == "rate limited"
    assert state.token is None


def test_running_failed_persistently_is_failed() -> None:
    state = transition(claimed(), ev("failed", token=7, reason="auth error", exit_code=1), T0 + 3)
    assert state.status == Status.FAILED
    assert state.reason == "auth error"
    assert state.attempt.exit_code == 1


def test_running_interrupted_not_idempotent_goes_to_review() -> None:
    state = transition(claimed(), ev("interrupted", token=7), T0 + 3)
    assert state.status == Status.REVIEW
    assert state.reason == "interrupted"
    assert state.attempt.outcome == "interrupted"


def test_running_interrupted_idempotent_is_retried() -> None:
    state = transition(claimed(), ev("interrupted", token=7, retry_at=T0 + 10), T0 + 3)
    assert (state.status, state.not_before) == (Status.BACKLOG, T0 + 10)


@pytest.mark.parametrize(("action", "to"), [
    ("approved", Status.DONE), ("rejected", Status.FAILED), ("retried", Status.BACKLOG)])
def test_review_approve_reject_retry(action: str, to: Status) -> None:
    state = transition(in_status(Status.REVIEW), ev(action, by="op"), T0 + 9)
    assert state.status == to
    assert state.since == T0 + 9


def test_failed_retry_is_backlog_with_a_fresh_try_count() -> None:
    state = transition(in_status(Status.FAILED), ev("retried"), T0 + 9)
    assert (state.status, state.tries, state.reason) == (Status.BACKLOG, 0, None)
    again = claimed(state, seq=20)
    assert again.attempt.n == 2  # attempt numbers never repeat


@pytest.mark.parametrize("status", [Status.BACKLOG, Status.RUNNING, Status.REVIEW])
def test_any_open_job_can_be_cancelled(status: Status) -> None:
    state = transition(in_status(status), ev("cancelled", reason="not needed"), T0 + 9)
    assert state.status == Status.CANCELLED
    assert state.reason == "not needed"


def test_high_risk_approval_before_running_keeps_the_job_in_backlog() -> None:
    state = transition(JobState("job"), ev("approved"), T0)
    assert (state.status, state.approved) == (Status.BACKLOG, True)
    assert not allowed(state, "approved")
    with pytest.raises(IllegalTransition):
        transition(state, ev("approved"), T0)


def test_the_end_of_a_cancelled_attempt_is_recorded_and_it_stays_cancelled() -> None:
    cancelled = transition(claimed(), ev("cancelled"), T0 + 1)
    state = transition(cancelled, ev("failed", token=7, reason="SIGTERM"), T0 + 2)
    assert state.status == Status.CANCELLED
    assert state.attempt.outcome == "cancelled"
    assert state.token is None


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "kind"), [
    (Status.BACKLOG, "succeeded"), (Status.BACKLOG, "failed"), (Status.BACKLOG, "interrupted"),
    (Status.RUNNING, "claimed"), (Status.REVIEW, "claimed"), (Status.DONE, "claimed"),
    (Status.FAILED, "claimed"), (Status.CANCELLED, "claimed"),
    (Status.RUNNING, "approved"), (Status.RUNNING, "retried"), (Status.RUNNING, "triggered"),
    (Status.DONE, "approved"), (Status.DONE, "rejected"), (Status.DONE, "cancelled"),
    (Status.FAILED, "approved"), (Status.FAILED, "cancelled"), (Status.CANCELLED, "cancelled"),
    (Status.REVIEW, "succeeded"), (Status.DONE, "succeeded"), (Status.BACKLOG, "no-such-event"),
])
def test_illegal_transitions_are_refused(status: Status, kind: str) -> None:
    state = in_status(status)
    with pytest.raises(IllegalTransition) as refused:
        transition(state, ev(kind, token=state.token, attempt=state.next_attempt, seq=99), T0)
    assert "job 'job'" in str(refused.value)
    assert not allowed(state, kind)


@pytest.mark.parametrize("kind", ["succeeded", "failed", "interrupted", "progress"])
def test_stale_fencing_token_is_refused(kind: str) -> None:
    """An event from an earlier attempt (or a runner that lost its claim) changes nothing."""
    first = claimed(seq=7)
    backoff = transition(first, ev("failed", token=7, retry_at=T0), T0)
    second = claimed(backoff, seq=30)
    assert second.token == 30
    for token in (7, None, 31):
        with pytest.raises(StaleToken):
            transition(second, ev(kind, token=token), T0 + 5)


def test_claim_must_name_the_next_attempt() -> None:
    with pytest.raises(IllegalTransition, match="claim of attempt 3, expected 1"):
        transition(JobState("job"), ev("claimed", attempt=3, seq=1), T0)


def test_transitions_are_pure() -> None:
    """The input state is untouched; the same input gives the same output; time comes from ``now``."""
    start = claimed()
    event = ev("failed", token=7, reason="x", retry_at=T0 + 5)
    first, second = transition(start, event, T0 + 1), transition(start, event, T0 + 1)
    assert first == second
    assert start.status == Status.RUNNING and start.token == 7
    assert transition(start, event, T0 + 2).since == T0 + 2


def test_operator_events_apply_to_the_columns_an_operator_sees() -> None:
    assert {"approved", "rejected", "retried", "cancelled"} <= OPERATOR_EVENTS
    assert "claimed" not in OPERATOR_EVENTS and "succeeded" not in OPERATOR_EVENTS


def test_every_event_type_the_machine_handles_is_an_event_type_member() -> None:
    handled = [event_type for _, event_type in TABLE]
    assert all(type(event_type) is EventType for event_type in handled)
    assert set(handled) == set(EventType)
    assert all(type(event_type) is EventType for event_type in OPERATOR_EVENTS)


@pytest.mark.parametrize("event_type", list(EventType))
def test_an_event_type_is_written_as_its_plain_value(event_type: EventType) -> None:
    """A record built with a member is the same bytes, and the same hash, as one built with its string."""
    member, plain = {"type": event_type, "job": "a"}, {"type": event_type.value, "job": "a"}
    assert encode(member) == encode(plain) == f'{{"type":"{event_type.value}","job":"a"}}\n'.encode()
    assert record_hash("0", member) == record_hash("0", plain)


def test_every_operator_event_has_one_action_and_every_action_appends_one() -> None:
    assert {action.event for action in ACTIONS.values()} == OPERATOR_EVENTS
    assert {event_type: action.name for event_type, action in ACTION_OF_EVENT.items()} == \
        {action.event: name for name, action in ACTIONS.items()}


@pytest.mark.parametrize("action", list(ACTIONS.values()), ids=list(ACTIONS))
def test_the_machine_handles_an_action_from_exactly_the_columns_the_table_claims(action: Action) -> None:
    assert {status for status, event_type in TABLE if event_type == action.event} == action.statuses
    # (release undoes a pin or a hold, so it is tried on a held job)
    start = {"release": {"override": "hold", "override_at": T0}}.get(action.name, {})
    moved = {status for status in action.statuses
             if transition(in_status(status)._replace(**start), ev(action.event, by="op"), T0 + 9).status != status}
    assert bool(moved) == action.moves


def test_a_pin_is_spent_by_the_claim_a_hold_refuses_claims_and_release_undoes_either() -> None:
    pinned = transition(JobState("j"), ev("pinned", by="op"), T0 + 1)
    assert (pinned.override, pinned.override_at) == ("pin", T0 + 1)
    assert JobState.from_json(pinned.to_json()) == pinned
    running = transition(pinned, ev("claimed", attempt=1, seq=5), T0 + 2)
    assert running.override is None and running.override_at is None
    held = transition(JobState("j"), ev("held", by="op"), T0 + 1)
    assert not allowed(held, "held") and allowed(held, "released") and allowed(held, "pinned")
    with pytest.raises(IllegalTransition, match="held by the operator"):
        transition(held, ev("claimed", attempt=1, seq=5), T0 + 2)
    assert transition(held, ev("released", by="op"), T0 + 3).override is None
    with pytest.raises(IllegalTransition, match="nothing to release"):
        transition(JobState("j"), ev("released", by="op"), T0 + 3)


def test_an_override_keeps_who_made_it_and_why_until_it_is_replaced_spent_or_released() -> None:
    held = transition(JobState("j"), ev("held", by="ana@box", reason="site down"), T0 + 1)
    assert (held.override, held.override_by, held.override_reason) == ("hold", "ana@box", "site down")
    assert JobState.from_json(held.to_json()) == held  # as board.json keeps it
    pinned = transition(held, ev("pinned", by="bo@box"), T0 + 2)  # the latest override replaces the one before
    assert (pinned.override, pinned.override_at, pinned.override_by, pinned.override_reason) == \
        ("pin", T0 + 2, "bo@box", None)
    running = transition(pinned, ev("claimed", attempt=1, seq=5), T0 + 3)
    assert (running.override, running.override_by, running.override_reason) == (None, None, None)
    released = transition(held, ev("released", by="bo@box"), T0 + 3)
    assert (released.override, released.override_by, released.override_reason) == (None, None, None)
    old = {"job": "j", "status": "backlog", "override": "hold", "override_at": T0}  # a board.json from before
    assert JobState.from_json(old) == JobState("j", override="hold", override_at=T0)


def test_a_decision_is_a_note_in_every_column() -> None:
    for status in Status:
        state = in_status(status)
        assert transition(state, ev("decided", action="start", reasons=["x"]), T0 + 9) == state


def test_pause_and_resume_override_and_survive_a_round_trip_through_json() -> None:
    state = transition(claimed(), ev("paused"), T0 + 1)
    assert state.status == Status.RUNNING and state.paused is True
    assert JobState.from_json(state.to_json()) == state
    assert transition(state, ev("resumed"), T0 + 2).paused is False


def test_an_attempt_that_never_started_gives_its_try_back_and_waits_longer_each_time() -> None:
    """A deck that refuses files for a while must not use up a job's tries: nothing ran."""
    from jobdeck.runner.attempt import Claimed
    from jobdeck.runner.attempt_events import MAX_NOT_STARTED_WAIT, not_started_event

    state, waits = claimed(), []
    ran = transition(state, ev("failed", token=7, reason="exit 1", retry_at=T0 + 1), T0 + 1)
    state = claimed(ran, seq=8)
    assert state.tries == 2
    for n in range(9):
        attempt = state.attempts[-1]
        event = not_started_event(Claimed("job", attempt.n, attempt.token, "default", state.tries, None, -1, T0),  # type: ignore[arg-type]
                                  state, T0 + 10, OSError("read-only file system"))
        waits.append(event["retry_at"] - (T0 + 10))
        state = transition(state, event, T0 + 10)
        assert (state.status, state.tries) == (Status.BACKLOG, 1), "only the attempt that ran counts"
        state = claimed(state, seq=9 + n)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60] and MAX_NOT_STARTED_WAIT == 60


def test_a_state_keeps_only_its_newest_attempts_and_numbers_on() -> None:
    """Claims cost the same at the thousandth attempt as at the first: the tuple is bounded."""
    from jobdeck.state.machine import ATTEMPTS_KEPT

    state = JobState("a")
    for seq in range(1, 2 * (ATTEMPTS_KEPT + 5), 2):
        state = transition(state, {"type": "claimed", "job": "a", "attempt": state.next_attempt, "seq": seq,
                                   "runner": "r"}, float(seq))
        state = transition(state, {"type": "failed", "job": "a", "token": state.token, "seq": seq + 1,
                                   "reason": "x", "retry_at": 0.0}, float(seq + 1))
    assert len(state.attempts) == ATTEMPTS_KEPT
    assert [a.n for a in state.attempts] == list(range(6, ATTEMPTS_KEPT + 6))
    assert state.next_attempt == ATTEMPTS_KEPT + 6
