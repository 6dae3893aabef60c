"""The job state machine: one table of pure transitions, time injected.

``transition(state, event, now)`` returns the job's next state or raises
IllegalTransition; it never reads the clock or touches a file. Events are plain
dicts as stored in events.jsonl (see state/events.py for the envelope).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing.NamedTuple compiles
# each string annotation (the first ~0.6 ms, then ~15 µs a field), and every command imports these classes.

import math
from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from jobdeck.state.errors import IllegalTransition, StaleToken


class Status(StrEnum):
    """The column a job is in."""

    BACKLOG = "backlog"
    RUNNING = "running"
    REVIEW = "review"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


    @property
    def words(self) -> str:
        """As a sentence says it: 'is in the backlog', 'is in review', 'is done'."""
        return {"backlog": "in the backlog", "review": "in review"}.get(self.value, self.value)


class EventType(StrEnum):
    """What a record in events.jsonl says happened to a job.

    A StrEnum, so a record carries its plain value on disk and a record read back
    (a str) compares equal to the member.
    """

    # Written by a runner about an attempt.
    CLAIMED = "claimed"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    # Appended by an operator (see OPERATOR_EVENTS and state/actions.py); a runner triggers too.
    APPROVED = "approved"
    REJECTED = "rejected"
    RETRIED = "retried"
    CANCELLED = "cancelled"
    TRIGGERED = "triggered"
    PAUSED = "paused"
    RESUMED = "resumed"
    # Operator overrides of the decision service (state/actions.py): run next, keep from starting, undo either.
    PINNED = "pinned"
    HELD = "held"
    RELEASED = "released"
    # The decision service's verdict on a job (start, defer, hold), with its reasons; the job stays where it is.
    DECIDED = "decided"
    # A note on the way (an LLM retry, a cron fire armed or skipped); the job stays where it is.
    PROGRESS = "progress"


COLUMNS = (Status.BACKLOG, Status.RUNNING, Status.REVIEW, Status.DONE, Status.FAILED)


NOT_STARTED = "not_started"
"""The reason of a failed attempt that could not be set up (runner/attempt_events.py): nothing ran."""
NOT_CALLED = "not_called"
"""The reason of a failed llm attempt that called no model, every one it names cooling down (agents/llm.py); one
that called a model and then skipped the rest ends with the reason of what it met (``cooldown``, ``rate_limit``)."""
NOT_A_TRY = frozenset({NOT_STARTED, NOT_CALLED})
"""Reasons of a failed attempt in which nothing ran: it does not count as one of the job's tries."""


def not_a_try(reason: object) -> bool:
    """Whether an ended attempt's ``reason`` says nothing ran (NOT_A_TRY); any value a log may hold."""
    return isinstance(reason, str) and reason in NOT_A_TRY

ATTEMPTS_KEPT = 20
"""Attempts a JobState keeps, the newest: the state's size (and a claim's cost) is the present, not the past.

Older attempts stay on disk (their directories, until retention removes them) and in the log."""


class Attempt(NamedTuple):
    """One execution of a job: when, by whom, how it ended."""

    n: int
    token: int
    runner: str
    workspace: str
    started: float
    ended: float | None = None
    outcome: str | None = None  # succeeded | failed | interrupted | cancelled
    reason: str | None = None
    exit_code: int | None = None
    output_bytes: int | None = None
    usage: Mapping[str, Any] | None = None
    cost: float | None = None
    accepted: bool | None = None
    """True when the operator approved it in review without it having succeeded (interrupted, say): its
    output is then what dependents are given, as a success's is (``JobState.last_success``). False when the
    operator rejected its output in review: a success that settles no deadline."""
    pin: Mapping[str, Any] | None = None
    """While it runs, the operator's pin its claim spent (``at``, ``by``, ``reason``): the job gets it back if the
    attempt ends having run nothing (NOT_A_TRY), so a pin is spent by an attempt that runs, not by a claim that
    came to nothing. Dropped when the attempt ends."""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in zip(self._fields, self) if v is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Attempt":
        """The attempt ``to_json`` gave; a key that names no field raises TypeError."""
        return cls(**data)


class JobState(NamedTuple):
    """Everything the event log says about one job.

    A NamedTuple rather than a frozen dataclass: folding the log makes one new state
    per record, and ``_replace`` costs less than half of ``dataclasses.replace``.
    """

    job: str
    status: Status = Status.BACKLOG
    cycle: int = 0
    tries: int = 0
    token: int | None = None
    attempts: tuple[Attempt, ...] = ()
    """The newest ATTEMPTS_KEPT attempts, oldest first."""
    not_before: float | None = None
    approved: bool = False
    paused: bool | None = None
    reason: str | None = None
    reasons: tuple[str, ...] = ()
    inputs: Mapping[str, str] = MappingProxyType({})
    since: float | None = None
    updated: float | None = None
    last_fire: float | None = None
    """The latest cron fire time handled (triggered, skipped or armed)."""
    override: str | None = None
    """The operator's override of the decision service: "pin" (start next; cleared by its claim, given back if
    that attempt ran nothing: ``Attempt.pin``) or "hold"."""
    override_at: float | None = None
    """When the override was made (pins run in the order they were made)."""
    began: float | None = None
    """When the current cycle began (its cron fire or trigger; the first cycle: when a runner listed the job): a
    daily deadline is the first after it, however the job moved since (a claim, a failure waiting to retry, a fire
    skipped while it runs)."""
    override_by: str | None = None
    """Who made the override (user@host), so the one who replaces or releases it is told whose it was."""
    override_reason: str | None = None
    """The reason given with the override (``--reason``), shown wherever the override is."""

    @property
    def attempt(self) -> Attempt | None:
        """The latest attempt, if any."""
        return self.attempts[-1] if self.attempts else None

    @property
    def last_success(self) -> Attempt | None:
        """The latest kept attempt that succeeded, or that the operator accepted in review: the one whose
        output dependents are given."""
        for attempt in reversed(self.attempts):
            if attempt.outcome == "succeeded" or attempt.accepted:
                return attempt
        return None

    @property
    def next_attempt(self) -> int:
        """Number the next attempt of this job gets (attempt numbers never repeat)."""
        return self.attempts[-1].n + 1 if self.attempts else 1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job": self.job, "status": self.status.value}
        for name in ("cycle", "tries", "token", "not_before", "approved", "reason", "since", "updated",
                     "last_fire", "override", "override_at", "began", "override_by", "override_reason"):
            value = getattr(self, name)
            if value not in (None, False, 0):
                out[name] = value
        if self.paused is not None:  # three states: False is the operator's resume of a job jobs.json pauses
            out["paused"] = self.paused
        if self.reasons:
            out["reasons"] = list(self.reasons)
        if self.inputs:
            out["inputs"] = dict(self.inputs)
        if self.attempts:
            out["attempts"] = [a.to_json() for a in self.attempts]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "JobState":
        """The state ``to_json`` gave (board.json reads every job's at each start); a key that names no
        field raises TypeError, a missing ``job`` too."""
        fields = dict(data)
        fields["status"] = Status(data["status"])
        if "attempts" in data:
            fields["attempts"] = tuple(Attempt.from_json(attempt) for attempt in data["attempts"])
        if "reasons" in data:
            fields["reasons"] = tuple(data["reasons"])
        return cls(**fields)


Event = Mapping[str, Any]
Handler = Callable[[JobState, Event, float], JobState]


def _moved(state: JobState, status: Status, now: float, **changes: Any) -> JobState:
    changes["status"] = status
    changes["since"] = changes["updated"] = now
    return _evolve(state, changes)


def _evolve(state: JobState, changes: dict[str, Any]) -> JobState:
    """``state._replace(**changes)`` without its call overhead: this is the fold's hottest line."""
    new = _new_tuple(JobState, map(changes.pop, JobState._fields, state))
    if changes:
        raise TypeError(f"JobState has no field {', '.join(changes)}")
    return new


_new_tuple = tuple.__new__


def _check_token(state: JobState, event: Event) -> None:
    if state.token is None or event.get("token") != state.token:
        raise StaleToken(
            f"job '{state.job}': event '{event['type']}' carries token {event.get('token')}, "
            f"current is {state.token}"
        )


def _end_attempt(state: JobState, event: Event, now: float, outcome: str) -> tuple[Attempt, ...]:
    last = state.attempts[-1]
    ended = last._replace(
        ended=recorded_end(event, last.started, now),
        outcome=outcome,
        reason=event.get("reason"),
        exit_code=event.get("exit_code"),
        output_bytes=event.get("output_bytes"),
        usage=event.get("usage"),
        cost=event.get("cost"),
        pin=None,  # (needed only while it runs: the board keeps the format older jobdecks read, SNAPSHOT_READ)
    )
    return state.attempts[:-1] + (ended,)


def recorded_end(event: Event, started: float, now: float) -> float:
    """When the attempt an outcome event ends did end: its ``ended`` (an outcome recovered from result.json
    after its runner died, recorded later) kept between the attempt's start and ``now``, else ``now``."""
    ended = event.get("ended")
    if (type(ended) is float or type(ended) is int) and math.isfinite(ended):
        return min(max(ended, started), now)
    return now


_NO_OVERRIDE = MappingProxyType({"override": None, "override_at": None, "override_by": None, "override_reason": None})
"""A JobState's fields with no override: a release, a pin spent by its claim."""


def _claimed(state: JobState, event: Event, now: float) -> JobState:
    attempt = Attempt(
        n=event["attempt"], token=event["seq"], runner=event.get("runner", "?"),
        workspace=event.get("workspace", "default"), started=now,
    )
    if attempt.n != state.next_attempt:
        raise IllegalTransition(f"job '{state.job}': claim of attempt {attempt.n}, expected {state.next_attempt}")
    if state.override == "hold":
        raise IllegalTransition(f"job '{state.job}' is held by the operator; release it first")
    pinned = state.override == "pin"
    if pinned:
        attempt = attempt._replace(pin={k: v for k, v in (("at", state.override_at), ("by", state.override_by),
                                                          ("reason", state.override_reason)) if v is not None})
    return _moved(
        state, Status.RUNNING, now, token=attempt.token, tries=state.tries + 1,
        attempts=(*state.attempts[1 - ATTEMPTS_KEPT:], attempt), not_before=None, reason=None, reasons=(),
        **(_NO_OVERRIDE if pinned else {}),
    )


def _succeeded(state: JobState, event: Event, now: float) -> JobState:
    _check_token(state, event)
    attempts = _end_attempt(state, event, now, "succeeded")
    reasons = tuple(event.get("reasons", ()))
    if event.get("review"):
        return _moved(state, Status.REVIEW, now, attempts=attempts, token=None,
                      reason=event.get("reason") or "review", reasons=reasons)
    return _moved(state, Status.DONE, now, attempts=attempts, token=None, reason=None, reasons=())


def _failed(state: JobState, event: Event, now: float) -> JobState:
    _check_token(state, event)
    attempts = _end_attempt(state, event, now, "failed")
    reason = event.get("message") or event.get("reason", "failed")
    retry_at = event.get("retry_at")
    cause = event.get("reason")
    # An attempt that could not be set up, or that could call no model, never ran: it is not one of the job's tries.
    tries = state.tries - 1 if not_a_try(cause) and state.tries > 0 else state.tries
    if retry_at is not None:
        reasons = tuple(event.get("reasons", ()))
        pin = state.attempts[-1].pin if not_a_try(cause) and state.attempts else None
        if pin is None:  # (no override can be made while it runs: pin, hold and release apply to a waiting job)
            return _moved(state, Status.BACKLOG, now, attempts=attempts, token=None, tries=tries,
                          not_before=retry_at, reason=reason, reasons=reasons)
        return _moved(state, Status.BACKLOG, now, attempts=attempts, token=None, tries=tries,
                      not_before=retry_at, reason=reason, reasons=(*reasons, _pin_kept(attempts[-1].n, cause)),
                      override="pin", override_at=pin.get("at"), override_by=pin.get("by"),
                      override_reason=pin.get("reason"))
    return _moved(state, Status.FAILED, now, attempts=attempts, token=None, reason=reason,
                  reasons=tuple(event.get("reasons", ())))


_RAN_NOTHING = {NOT_CALLED: "called no model (every one cools down)", NOT_STARTED: "could not be set up"}


def _pin_kept(n: int, cause: str) -> str:
    """Why a job whose pinned attempt ran nothing is pinned still (its state's reasons: `show`, the cockpit)."""
    what = _RAN_NOTHING.get(cause, "ran nothing")
    return f"still pinned: attempt {n} {what}, so the pin waits for an attempt that runs"


def _interrupted(state: JobState, event: Event, now: float) -> JobState:
    _check_token(state, event)
    attempts = _end_attempt(state, event, now, "interrupted")
    if event.get("retry_at") is not None:  # an idempotent job: its runner stopped, the try is given back
        return _moved(state, Status.BACKLOG, now, attempts=attempts, token=None, tries=max(state.tries - 1, 0),
                      not_before=event["retry_at"], reason="interrupted")
    return _moved(state, Status.REVIEW, now, attempts=attempts, token=None, reason="interrupted",
                  reasons=("the runner stopped while this attempt ran; it may or may not have finished",))


def _ended_after_cancel(state: JobState, event: Event, now: float) -> JobState:
    # The attempt of a cancelled job ends later; record how, stay cancelled.
    if state.token is None or event.get("token") != state.token:
        raise StaleToken(f"job '{state.job}': late event with stale token {event.get('token')}")
    return state._replace(attempts=_end_attempt(state, event, now, "cancelled"), token=None, updated=now)


def _approved(state: JobState, event: Event, now: float) -> JobState:
    if state.status == Status.REVIEW:
        attempts = state.attempts
        if attempts and attempts[-1].outcome != "succeeded":  # accepted as it is: dependents get its output
            attempts = (*attempts[:-1], attempts[-1]._replace(accepted=True))
        return _moved(state, Status.DONE, now, reason=None, reasons=(), attempts=attempts)
    if state.approved:
        raise IllegalTransition(f"job '{state.job}' is already approved")
    return state._replace(approved=True, updated=now)


def _rejected(state: JobState, event: Event, now: float) -> JobState:
    why = event.get("reason") or "rejected by the operator"
    attempts = state.attempts
    if state.status == Status.REVIEW and attempts:  # its output refused: a success that settles nothing (deadlines)
        attempts = (*attempts[:-1], attempts[-1]._replace(accepted=False))
    return _moved(state, Status.FAILED, now, reason=f"rejected: {why}", approved=False, not_before=None,
                  attempts=attempts)


def _retried(state: JobState, event: Event, now: float) -> JobState:
    return _moved(state, Status.BACKLOG, now, tries=0, approved=False, not_before=None,
                  reason=None, reasons=())


def _triggered(state: JobState, event: Event, now: float) -> JobState:
    fire = event.get("fire")  # a cron fire caught up late began its cycle when it was due, not when recorded
    began = min(fire, now) if (type(fire) is float or type(fire) is int) and math.isfinite(fire) else now
    return _moved(state, Status.BACKLOG, now, cycle=state.cycle + 1, began=began, tries=0, approved=False,
                  not_before=None, reason=None, reasons=(), inputs=dict(event.get("inputs", {})),
                  last_fire=event.get("fire", state.last_fire))


def _cancelled(state: JobState, event: Event, now: float) -> JobState:
    why = event.get("reason") or "cancelled by the operator"
    # token stays set while running, so the attempt's late end can still be recorded.
    return _moved(state, Status.CANCELLED, now, reason=why, not_before=None)


def _paused(state: JobState, event: Event, now: float) -> JobState:
    return state._replace(paused=True, updated=now)


def _resumed(state: JobState, event: Event, now: float) -> JobState:
    return state._replace(paused=False, updated=now)


def _pinned(state: JobState, event: Event, now: float) -> JobState:
    # A pin replaces a hold (and a hold a pin): the operator's latest word is the override (state/actions.py says so).
    return state._replace(override="pin", override_at=now, override_by=event.get("by"),
                          override_reason=event.get("reason"), updated=now)


def _held(state: JobState, event: Event, now: float) -> JobState:
    return state._replace(override="hold", override_at=now, override_by=event.get("by"),
                          override_reason=event.get("reason"), updated=now)


def _released(state: JobState, event: Event, now: float) -> JobState:
    if state.override is None:
        raise IllegalTransition(f"job '{state.job}' is neither pinned nor held; there is nothing to release")
    return state._replace(**_NO_OVERRIDE, updated=now)


def _decided(state: JobState, event: Event, now: float) -> JobState:
    return state


def _noted(state: JobState, event: Event, now: float) -> JobState:
    if "token" in event:
        _check_token(state, event)
    if "fire" in event:  # a cron fire that was armed or skipped (overlap) still counts as handled
        return state._replace(last_fire=event["fire"])
    return state


B, R, V, D, F, C = (Status.BACKLOG, Status.RUNNING, Status.REVIEW, Status.DONE, Status.FAILED,
                    Status.CANCELLED)
ANY = (B, R, V, D, F, C)

#: (status, event type) -> handler. Anything missing is an illegal transition.
TABLE: dict[tuple[Status, EventType], Handler] = {
    (B, EventType.CLAIMED): _claimed,
    (R, EventType.SUCCEEDED): _succeeded,
    (R, EventType.FAILED): _failed,
    (R, EventType.INTERRUPTED): _interrupted,
    (C, EventType.SUCCEEDED): _ended_after_cancel,
    (C, EventType.FAILED): _ended_after_cancel,
    (C, EventType.INTERRUPTED): _ended_after_cancel,
    (V, EventType.APPROVED): _approved,
    (B, EventType.APPROVED): _approved,
    (V, EventType.REJECTED): _rejected,
    (B, EventType.REJECTED): _rejected,
    (V, EventType.RETRIED): _retried,
    (F, EventType.RETRIED): _retried,
    (D, EventType.RETRIED): _retried,
    (C, EventType.RETRIED): _retried,
    (B, EventType.CANCELLED): _cancelled,
    (R, EventType.CANCELLED): _cancelled,
    (V, EventType.CANCELLED): _cancelled,
    **{(s, EventType.TRIGGERED): _triggered for s in (B, V, D, F, C)},
    **{(s, EventType.PAUSED): _paused for s in ANY},
    **{(s, EventType.RESUMED): _resumed for s in ANY},
    **{(s, EventType.PROGRESS): _noted for s in ANY},
    **{(s, EventType.DECIDED): _decided for s in ANY},
    (B, EventType.PINNED): _pinned,
    (B, EventType.HELD): _held,
    (B, EventType.RELEASED): _released,
}

#: Event types an operator may append (from the CLI or the cockpit).
OPERATOR_EVENTS = frozenset({EventType.APPROVED, EventType.REJECTED, EventType.RETRIED, EventType.CANCELLED,
                             EventType.TRIGGERED, EventType.PAUSED, EventType.RESUMED, EventType.PINNED,
                             EventType.HELD, EventType.RELEASED})


def transition(state: JobState, event: Event, now: float) -> JobState:
    """The job's state after ``event`` at time ``now``; IllegalTransition if not allowed."""
    handler = TABLE.get((state.status, event["type"]))
    if handler is None:
        raise IllegalTransition(
            f"job '{state.job}' is {state.status.words}; '{event['type']}' does not apply",
        )
    return handler(state, event, now)


def allowed(state: JobState, event_type: str) -> bool:
    """Whether ``event_type`` applies to a job in ``state`` (for enabling actions)."""
    if (state.status, event_type) not in TABLE:
        return False
    if event_type == EventType.APPROVED and state.status == Status.BACKLOG:
        return not state.approved
    if event_type == EventType.RELEASED:
        return state.override is not None
    if event_type == EventType.PINNED:
        return state.override != "pin"
    if event_type == EventType.HELD:
        return state.override != "hold"
    return True
