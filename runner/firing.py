"""What a cron fire or an inbox file turns into: the events that start a new cycle.

Pure functions of the spec, the board and an injected ``now``; the runner commits
what they return. A new cycle covers the fired job and everything downstream of
it; a fire while any of those runs is skipped (cron) or deferred (inbox).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jobdeck.runner import cron
from jobdeck.state.board import Board
from jobdeck.state.graph import downstream
from jobdeck.state.machine import EventType, JobState, Status

if TYPE_CHECKING:
    from jobdeck.state.spec import Job


def _busy(targets: Sequence[str], board: Board) -> bool:
    return any(board.state(t).status == Status.RUNNING for t in targets)


def _cycle(job_id: str, targets: Sequence[str], source: str, runner_id: str,
           head: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``triggered`` events for ``targets``; ``head`` fields go on the fired job's own event."""
    events = []
    for target in targets:
        event = {"type": EventType.TRIGGERED, "job": target, "source": source, "root": job_id, "by": runner_id}
        if target == job_id:
            event.update(head)
        events.append(event)
    return events


def schedule_events(scheduled: Sequence[Job], deps: Mapping[str, Sequence[str]], board: Board,
                    now: float, runner_id: str) -> list[dict[str, Any]]:
    """Events for every scheduled job whose fire is due: armed, skipped, or a new cycle."""
    events: list[dict[str, Any]] = []
    for job in scheduled:
        targets = downstream([job.id], deps)
        decision = cron.decide(job, board.state(job.id).last_fire, now, _busy(targets, board))
        if decision is None:
            continue
        if decision.action == "arm":
            events.append({"type": EventType.PROGRESS, "job": job.id, "what": "schedule_armed", "fire": decision.fire})
        elif decision.action == "skip":
            events.append({"type": EventType.PROGRESS, "job": job.id, "what": "fire_skipped", "fire": decision.fire,
                           "reason": "previous cycle still running"})
        else:
            events += _cycle(job.id, targets, "cron", runner_id,
                             {"fire": decision.fire, "missed": decision.missed})
    return events


def trigger_pending(state: JobState) -> bool:
    """Whether the job was triggered with an input file and has not been claimed since."""
    return state.status == Status.BACKLOG and state.cycle > 0 and state.tries == 0 and "input" in state.inputs


def inbox_events(found: Sequence[tuple[Job, str, str]], deps: Mapping[str, Sequence[str]], board: Board,
                 runner_id: str) -> tuple[list[dict[str, Any]], set[str]]:
    """(events, deferred file keys) for new inbox files ``(job, key, path)``.

    One file per trigger: a second trigger of a job still running, or triggered and
    not yet claimed (e.g. two files in one scan), would replace the first file's
    input while both were marked as seen, so the first would never run. Such files
    are deferred until the open cycle ends.
    """
    events: list[dict[str, Any]] = []
    covered: set[str] = set()
    deferred: set[str] = set()
    for job, key, path in found:
        targets = downstream([job.id], deps)
        if covered & set(targets) or trigger_pending(board.state(job.id)) or _busy(targets, board):
            deferred.add(key)
            continue
        covered.update(targets)
        events += _cycle(job.id, targets, "inbox", runner_id, {"file": key, "inputs": {"input": path}})
    return events, deferred
