"""Operator actions (approve, reject, retry, cancel, pause, resume, trigger, pin, hold, release): one table, applied as events.

The CLI and the cockpit both call ``act``; it checks the action against the spec
and the caught-up board under the lock, then appends one event per affected job,
attributed to the operator. jobs.json is never written here.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from jobdeck.state.board import Board, KeptBack, Store
from jobdeck.state.errors import IllegalTransition, SpecError, SpecErrors, UnknownJob, deck_access_error
from jobdeck.state.graph import downstream
from jobdeck.state.machine import EventType, JobState, Status, allowed
from jobdeck.state.terminal import one_line
from jobdeck.state.views import deck_hold_text, is_paused, kept_back_now, needs_approval, utc_text

if TYPE_CHECKING:
    from jobdeck.state.lightspec import LightSpec
    from jobdeck.state.preview import JobPreview
    from jobdeck.state.spec import Job, Spec


# A NamedTuple, not a dataclass: importing dataclasses (and inspect) costs the CLI ~7 ms at start.
class Action(NamedTuple):
    """One operator action: the event it appends, where it applies, how messages say it."""

    name: str
    """What the operator asks for: ``jobdeck retry``, ``act(..., "retry")``."""
    event: EventType
    """The event it appends to the log."""
    statuses: frozenset[Status]
    """The columns it applies to: the machine handles ``event`` from each of them and no other."""
    done: str
    """What the job is once it is done, for messages: "build queued again"."""
    moves: bool = True
    """Whether it can move a job to another column; pause and resume only set a flag."""


#: Every operator action by name; the CLI, the cockpit and the runner's report read this table.
ACTIONS: Mapping[str, Action] = MappingProxyType({action.name: action for action in (
    Action("approve", EventType.APPROVED, frozenset({Status.REVIEW, Status.BACKLOG}), "approved"),
    Action("reject", EventType.REJECTED, frozenset({Status.REVIEW, Status.BACKLOG}), "rejected"),
    Action("retry", EventType.RETRIED, frozenset({Status.REVIEW, Status.FAILED, Status.DONE, Status.CANCELLED}),
           "queued again"),
    Action("cancel", EventType.CANCELLED, frozenset({Status.BACKLOG, Status.RUNNING, Status.REVIEW}), "cancelled"),
    Action("pause", EventType.PAUSED, frozenset(Status), "paused", moves=False),
    Action("resume", EventType.RESUMED, frozenset(Status), "resumed", moves=False),
    Action("trigger", EventType.TRIGGERED, frozenset(Status) - {Status.RUNNING}, "triggered"),
    Action("pin", EventType.PINNED, frozenset({Status.BACKLOG}), "pinned to start next", moves=False),
    Action("hold", EventType.HELD, frozenset({Status.BACKLOG}), "held until released", moves=False),
    Action("release", EventType.RELEASED, frozenset({Status.BACKLOG}), "released", moves=False),
)})

#: The action that appends each operator event.
ACTION_OF_EVENT: Mapping[str, Action] = MappingProxyType({action.event: action for action in ACTIONS.values()})


def operator() -> str:
    """Who is acting: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{os.uname().nodename}"  # gethostname(), without importing socket (~5 ms)


class Outcome(NamedTuple):
    """What an operator action recorded, and what the operator should be told of it."""

    records: list[dict[str, Any]]
    """The stored event records."""
    notes: list[str]
    """What the action did beyond its name or did not achieve, one sentence each: the override a pin or hold
    replaced ("it replaces the hold by ana@box since ..."), what still keeps a pinned job from starting."""


def act(store: Store, spec: Spec | LightSpec, job_id: str, action: str, *, reason: str | None = None,
        via: str = "cli", by: str | None = None, inputs: Mapping[str, str] | None = None,
        now: float | None = None) -> list[dict[str, Any]]:
    """Apply an operator ``action`` to a job; return the stored event records (``perform``'s, without its notes)."""
    return perform(store, spec, job_id, action, reason=reason, via=via, by=by, inputs=inputs, now=now).records


def perform(store: Store, spec: Spec | LightSpec, job_id: str, action: str, *, reason: str | None = None,
            via: str = "cli", by: str | None = None, inputs: Mapping[str, str] | None = None,
            replace: bool = False, now: float | None = None) -> Outcome:
    """Apply an operator ``action`` to a job; return the stored event records and what to tell the operator.

    Raises UnknownJob for an id not in the spec, IllegalTransition (with the
    job's status) when the action does not apply now, and DeckAccessError when
    the chain of work cannot be read or written (then nothing was recorded).
    A trigger of a job whose earlier trigger's inputs have not started yet is
    refused unless ``replace``: the new cycle would replace them, and that run
    would never happen.
    """
    job = spec.job(job_id)
    if job is None:
        if action == "cancel":  # a job taken out of jobs.json while its attempt runs: that attempt may still be stopped
            return _cancel_removed(store, spec, job_id, reason=reason, via=via, by=by or operator(), now=now)
        raise UnknownJob.among([job_id], (j.id for j in spec.jobs), "jobs.json")
    event_type = ACTIONS[action].event
    who = by or operator()
    notes: list[str] = []

    def decide(board: Board) -> list[dict[str, Any]]:
        state = board.state(job_id)
        at = time.time() if now is None else now
        base = {"type": event_type, "by": who, "via": via}
        if reason:
            base["reason"] = reason
        if action == "trigger":
            refused = trigger_refusal(spec.dependencies, board, job_id) or \
                (None if replace else waiting_inputs_refusal(state))
            if refused is not None:
                raise refused
            targets = downstream([job_id], spec.dependencies)
            events = []
            for target in targets:
                event: dict[str, Any] = {**base, "job": target, "source": f"{via}:{who}", "root": job_id}
                if target == job_id and inputs:
                    event["inputs"] = dict(inputs)
                events.append(event)
            return events
        refused = refusal(ACTIONS[action], job, state, board=board, now=at)
        if refused is not None:
            raise refused
        notes[:] = override_notes(ACTIONS[action], job, state, board, at)
        if action == "pause" and state.status == Status.RUNNING:
            notes.append(f"it runs on to the end of this attempt, then starts no new one until resumed "
                         f"(`jobdeck cancel {job_id}` stops it now)")
        return [{**base, "job": job_id}]

    try:
        records, _ = store.transact(decide, now=now)
    except OSError as exc:
        raise deck_access_error(exc, f"record {action} of job '{job_id}'", store.deck.events_path) from None
    return Outcome(records, notes)


def _cancel_removed(store: Store, spec: Spec | LightSpec, job_id: str, *, reason: str | None, via: str, by: str,
                    now: float | None) -> Outcome:
    """Cancel the running attempt of a job no longer in jobs.json (a hand edit took it out while it ran: `rm`
    refuses that); UnknownJob for any other id, as for every action on a job jobs.json does not declare."""
    def decide(board: Board) -> list[dict[str, Any]]:
        if board.state(job_id).status != Status.RUNNING or job_id not in board.jobs:
            raise UnknownJob.among([job_id], (j.id for j in spec.jobs), "jobs.json")
        return [{"type": EventType.CANCELLED, "job": job_id, "by": by, "via": via, **({"reason": reason} if reason else {})}]

    try:
        records, _ = store.transact(decide, now=now)
    except OSError as exc:
        raise deck_access_error(exc, f"record cancel of job '{job_id}'", store.deck.events_path) from None
    return Outcome(records, ["no longer in jobs.json: its running attempt is stopped"])


def override_notes(action: Action, job: Job | JobPreview, state: JobState, board: Board, now: float) -> list[str]:
    """What to tell an operator who pins or holds ``job`` (in ``state``, on ``board``, before the event).

    An override always wins, so a pin replaces a hold and a hold a pin; the operator is told whose, since when
    and why. A pin passes the decision service's gates, not the operator's own: those it still waits for
    (``state.blocking``, as `why` lists them) are said, each with what lifts it."""
    notes = []
    if action.event in (EventType.PINNED, EventType.HELD) and state.override is not None:
        notes.append(f"it replaces the {state.override}{_override_made(state)}")
    if action.event != EventType.PINNED:
        return notes
    from jobdeck.state.blocking import Blocked, blocking  # (a pin's notes only: not every action's import)

    for blocker in blocking(job, state, board, now):
        if blocker.kind == Blocked.HELD:  # the pin replaces it: said above
            continue
        if blocker.kind in (Blocked.SCHEDULE, Blocked.INBOX):
            notes.append(f"it {blocker.fact}; a pin starts no cycle ({blocker.lift})")
        else:
            notes.append(blocker.said("it"))
    kept = board.kept_back.get(job.id)
    if kept is not None and kept.needs == "cooldown" and (kept.until is None or kept.until > now):
        # (as a runner last found it: a provider's cooldown, which a pin does not pass either)
        notes.append(f"it waits for its models' cooldown" + (f": {kept.reason}" if kept.reason else "")
                     + "; it starts when that ends, pinned first")
    return notes


def _override_made(state: JobState) -> str:
    """Who made the job's override, since when and why, as it follows "the hold": `` by ana@box since 2026-12-06
    14:03 UTC: site down``."""
    made = f" by {state.override_by}" if state.override_by else ""  # (a board.json from before it was kept: not known)
    if state.override_at is not None:
        made += f" since {utc_text(state.override_at)}"
    return made + (f": {state.override_reason}" if state.override_reason else "")


_OVERRIDE_STATE = {EventType.PINNED: "already pinned", EventType.HELD: "already held",
                   EventType.RELEASED: "neither pinned nor held"}


def hold_deck(store: Store, hold: bool, *, reason: str | None = None, via: str = "cli", by: str | None = None,
              now: float | None = None) -> dict[str, Any]:
    """Hold the whole deck (no new starts; running attempts finish, fires and inbox files are kept) or release it.

    Raises IllegalTransition when the deck is already held (or not held, to release).
    """
    def decide(board: Board) -> list[dict[str, Any]]:
        if hold and board.held is not None:
            raise IllegalTransition(f"the deck is already held ({deck_hold_text(board.held)})",
                                    hint="`jobdeck release` lets jobs start again")
        if not hold and board.held is None:
            raise IllegalTransition("the deck is not held", hint="`jobdeck release ID` releases one job")
        body: dict[str, Any] = {"type": EventType.HELD if hold else EventType.RELEASED, "by": by or operator(),
                                "via": via}
        if reason:
            body["reason"] = reason
        return [body]

    try:
        records, _ = store.transact(decide, now=now)
    except OSError as exc:
        raise deck_access_error(exc, "hold the deck" if hold else "release the deck", store.deck.events_path) from None
    return records[0]


def refusal(action: Action, job: Job | JobPreview, state: JobState, *, board: Board | None = None,
            now: float | None = None) -> IllegalTransition | None:
    """Why ``action`` does not apply to ``job`` in ``state`` now, or None when it does.

    The cockpit enables its keys by the same test ``act`` refuses by. Given the ``board`` (and ``now``), a release
    of a job the decision service keeps back says so, and how to start it anyway.
    """
    if action.event in (EventType.APPROVED, EventType.REJECTED) and state.status == Status.BACKLOG \
            and not needs_approval(job):
        return IllegalTransition(
            f"job '{job.id}' is in the backlog and needs no approval",
            hint="approve/reject apply to jobs in review and to high-risk jobs before they run",
        )
    if action.event in (EventType.PAUSED, EventType.RESUMED) and \
            is_paused(job, state) == (action.event == EventType.PAUSED):  # nothing to change: no event
        return IllegalTransition(
            f"cannot {action.name} job '{job.id}': it is {'already' if action.event == EventType.PAUSED else 'not'} paused")
    if not allowed(state, action.event):
        if state.status == Status.BACKLOG and action.event == EventType.RELEASED and board is not None:
            kept_back = kept_back_now(board, job.id, time.time() if now is None else now)
            if kept_back is not None:
                return _service_keeps(job.id, kept_back)
            if board.held is not None:
                return IllegalTransition(f"cannot release job '{job.id}': the operator did not pin or hold it; "
                                         f"the whole deck is {deck_hold_text(board.held)}",
                                         hint="`jobdeck release` with no id releases the deck")
        if state.status == Status.BACKLOG and action.event in _OVERRIDE_STATE:
            return IllegalTransition(f"cannot {action.name} job '{job.id}': it is {_OVERRIDE_STATE[action.event]}")
        return IllegalTransition(
            f"cannot {action.name} job '{job.id}': it is {state.status.words}"
            + (" and already approved" if action.event == EventType.APPROVED and state.approved else ""),
            hint="pin, hold and release apply to jobs in the backlog" if action.event in _OVERRIDE_STATE else None,
        )
    return None


def trigger_refusal(dependencies: Mapping[str, Sequence[str]], board: Board, job_id: str) -> IllegalTransition | None:
    """Why a new cycle of ``job_id`` cannot start now: it, or a job downstream of it, is running."""
    busy = [t for t in downstream([job_id], dependencies) if board.state(t).status == Status.RUNNING]
    if busy:
        return IllegalTransition(f"job '{busy[0]}' is running; a new cycle would overlap it",
                                 hint="wait for it to finish, or cancel it first")
    return None


def waiting_inputs_refusal(state: JobState) -> IllegalTransition | None:
    """Why a trigger would lose a run: the job was triggered with inputs that have not started yet (a new cycle
    takes their place). One run per trigger, as one per inbox file."""
    if not (state.status == Status.BACKLOG and state.cycle > 0 and state.tries == 0 and state.inputs):
        return None
    given = ", ".join(f"{key}={value}" for key, value in sorted(state.inputs.items()))
    return IllegalTransition(f"job '{state.job}' waits to run with the inputs of an earlier trigger ({one_line(given)}); "
                             f"a new trigger would replace them",
                             hint="trigger again once it has started, or pass --replace to replace them")


STOPS_WORK = frozenset({"cancel", "pause", "hold", "reject"})
"""The actions that stop or keep back work. While jobs.json is invalid they act on its last valid version, the
one runners keep running (a runaway job, mid-edit); the others let work start, and wait for the file."""


def waits_for_valid_spec(action: str, problem: SpecError) -> IllegalTransition:
    """The refusal of an action that lets work start (not in STOPS_WORK; "release" for the deck's) while jobs.json
    is invalid (``problem``: what is wrong with it; its first problem is said)."""
    first = problem.errors[0] if isinstance(problem, SpecErrors) else problem
    fix = first.hint or "fix it (`jobdeck validate` lists every problem)"
    return IllegalTransition(f"{action} waits for jobs.json to be valid, as it lets work start: "
                             f"{one_line(first.location)}: {one_line(first.message)}",
                             hint=f"{fix}; pause, cancel, hold and reject act meanwhile")


def _service_keeps(job_id: str, kept_back: KeptBack) -> IllegalTransition:
    """The refusal of a release of a job that the decision service, not the operator, keeps back."""
    verb = "holds" if kept_back.action == "hold" else "defers"
    who = "its window" if kept_back.needs == "window" else "the decision service"  # (a window holds in every mode)
    why = kept_back.reason or (f"it needs {kept_back.needs}" if kept_back.needs else kept_back.note or "")
    if kept_back.needs == "cooldown":  # a provider's, which a pin does not pass either: it starts when it ends
        return IllegalTransition(f"cannot release job '{job_id}': the operator did not pin or hold it; it waits "
                                 f"for its models' cooldown" + (f": {why}" if why else ""),
                                 hint="it starts when the cooldown ends; nothing starts it sooner")
    return IllegalTransition(f"cannot release job '{job_id}': the operator did not pin or hold it; "
                             f"{who} {verb} it" + (f": {why}" if why else ""),
                             hint=f"`jobdeck pin {job_id}` starts it anyway")
