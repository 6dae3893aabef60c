"""Is the deck being looked after? The problems `jobdeck status --check` reports, as a pure function.

A monitor (cron, systemd timer, Nagios-style check) needs one answer it can act on:
a runner is alive and nothing is stuck, or a line per problem. Time is passed in,
so the rules are tested without clocks (only ``Heartbeat.gone`` looks at /proc, and
never for a heartbeat that does not name its process); the CLI only reads the files
and prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobdeck.state.attempt_dirs import read_remote
from jobdeck.state.durations import format_duration
from jobdeck.state.heartbeat import STALE_AFTER, Heartbeat
from jobdeck.state.machine import Status
from jobdeck.state.sizes import format_size
from jobdeck.state.space import Room
from jobdeck.state.views import blockers, is_paused, needs_approval, waits_for_fire

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.deck import Deck
    from jobdeck.state.spec import Spec

OVERRUN_SLACK = 5.0
"""Seconds past hard timeout + grace before a running job counts as stuck: the runner stops it at the
deadline, but a turn, a kill and the outcome's fsync take a moment."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that needs a person."""

    kind: str
    """no_runner, stale_heartbeat, spec_error, deck_held, overrun, review_waiting, approval_waiting,
    deadline_missed, max_wait_passed or disk_low."""
    message: str
    """One line: what, where, how to fix."""
    job: str | None = None
    """The job concerned, if any."""
    age: float | None = None
    """How long it has been so (seconds), when that is known."""

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in (("kind", self.kind), ("message", self.message), ("job", self.job),
                                  ("age", None if self.age is None else round(self.age, 1))) if v is not None}


def runner_problems(beats: list[Heartbeat], now: float) -> list[Problem]:
    """No runner, or none alive: every heartbeat stale or its process gone (a dead runner's file beside a
    live runner is only its leftover)."""
    if not beats:
        return [Problem("no_runner", "no runner: no heartbeat in .jobdeck/runners/ (hint: start `jobdeck run`)")]
    if any(beat.alive(now) for beat in beats):
        return []
    newest = max(beats, key=lambda beat: beat.at)
    age = now - newest.at
    if newest.gone():
        return [Problem("stale_heartbeat",
                        f"runner {newest.runner} (pid {newest.pid}, {newest.host}): its process is gone (killed or "
                        f"crashed; last beat {format_duration(age)} ago) (hint: restart `jobdeck run`)", age=age)]
    return [Problem("stale_heartbeat",
                    f"runner {newest.runner} (pid {newest.pid}, {newest.host}): heartbeat {format_duration(age)} old, "
                    f"stale after {STALE_AFTER:g}s (hint: is it stopped or hung? restart `jobdeck run`)",
                    age=age)]


def room_problems(where: str, left: Room | None, floor: int) -> list[Problem]:
    """The filesystem holding the deck (at ``where``) with less than ``floor`` bytes, or no inodes, left."""
    short = left.short(floor) if left is not None and floor > 0 else None
    if short is None:
        return []
    return [Problem("disk_low", f"the deck's filesystem ({where}) has {short}, below --min-free "
                                f"{format_size(floor)}: jobs writing there will fail (hint: `jobdeck gc`, or free "
                                f"space)")]


def job_problems(spec: Spec | None, board: Board, now: float, *, waiting_age: float | None,
                 deck: Deck | None = None) -> list[Problem]:
    """A held deck; running jobs past their hard timeout; reviews and approvals waiting longer than ``waiting_age``.

    With ``deck``, a job on a batch system counts from when it started running there (``remote.json``).

    Without a valid spec only reviews are judged (timeouts and risk are in jobs.json).
    """
    found: list[Problem] = []
    if board.held is not None:  # deliberate, but a hold forgotten after maintenance is what this check is for
        held_for = now - float(board.held.get("ts", now))
        who = board.held.get("by", "?")
        why = f" ({board.held['reason']})" if board.held.get("reason") else ""
        found.append(Problem("deck_held", f"the deck is held by {who} for {format_duration(held_for)}{why}: no new "
                                          f"starts (hint: `jobdeck release`)", age=held_for))
    for job_id, state in board.jobs.items():
        job = spec.job(job_id) if spec is not None else None
        if state.status == Status.RUNNING and job is not None and job.timeout.hard is not None:
            attempt = state.attempt
            started = attempt.started if attempt is not None else state.since
            if deck is not None and attempt is not None and spec is not None and spec.executor_of(job) is not None:
                # on a batch system, time in its queue is not running time
                record = read_remote(deck.attempt_dir(attempt.workspace, job_id, attempt.n))
                started = record.get("running_since") if record is not None else started
            if started is not None and now - started > job.timeout.hard + job.timeout.grace + OVERRUN_SLACK:
                age = now - started
                found.append(Problem(
                    "overrun", f"job {job_id}: running {format_duration(age)}, past its hard timeout of "
                               f"{format_duration(job.timeout.hard)} (hint: is its runner alive? "
                               f"`jobdeck cancel {job_id}`)", job=job_id, age=age))
        elif (state.status == Status.REVIEW and waiting_age is not None and state.since is not None
              and now - state.since > waiting_age):
            age = now - state.since
            found.append(Problem("review_waiting",
                                 f"job {job_id}: output waiting for review for {format_duration(age)} "
                                 f"(hint: `jobdeck show {job_id}`, then approve or reject)", job=job_id, age=age))
    if waiting_age is not None and spec is not None:
        found += _approvals_waiting(spec, board, now, waiting_age)
    return found


def _approvals_waiting(spec: Spec, board: Board, now: float, waiting_age: float) -> list[Problem]:
    """High-risk jobs that could run but for an approval, waiting longer than ``waiting_age``.

    The wait runs from the later of the job's return to the backlog and its last dependency's end; a job
    that never ran and has no dependencies has no such moment, and is not judged.
    """
    found: list[Problem] = []
    for job in spec.jobs:
        if not needs_approval(job):
            continue
        state = board.state(job.id)
        if (state.status != Status.BACKLOG or state.approved or waits_for_fire(job, state)
                or is_paused(job, state) or blockers(job, board)):
            continue
        moments = [t for t in (state.since, *(board.state(dep).since for dep in job.depends_on)) if t is not None]
        if moments and now - max(moments) > waiting_age:
            age = now - max(moments)
            found.append(Problem("approval_waiting",
                                 f"job {job.id}: high-risk job waiting for approval for {format_duration(age)} "
                                 f"(hint: `jobdeck approve {job.id}`)", job=job.id, age=age))
    return found
