"""What the board means for a person or a scheduler: readiness and the derived card state.

Shared by ``jobdeck ls``, the cockpit and the runner so all three agree on why a
job is (not) running. Pure functions of spec, board and an injected ``now``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeAlias

from jobdeck.state.card import Card
from jobdeck.state.durations import format_duration
from jobdeck.state.machine import JobState, Status

if TYPE_CHECKING:  # types only: the cockpit builds cards from a preview before it imports pydantic
    from jobdeck.state.board import Board, KeptBack
    from jobdeck.state.lightspec import LightSpec
    from jobdeck.state.preview import JobPreview
    from jobdeck.state.spec import Job, Spec

    CardJob: TypeAlias = Job | JobPreview
    """What a card is built from: a validated job, or a big deck's preview of one (state/preview.py)."""


def is_paused(job: CardJob, state: JobState) -> bool:
    """Operator pause/resume overrides the spec's ``paused``."""
    return state.paused if state.paused is not None else job.paused


def needs_approval(job: CardJob) -> bool:
    """High-risk jobs wait for an operator's approval before each cycle runs."""
    return job.risk == "high"


def waits_for_fire(job: CardJob, state: JobState) -> bool:
    """Scheduled and triggered jobs start only when fired (cron, inbox, `jobdeck trigger`)."""
    return (job.schedule is not None or job.trigger is not None) and state.cycle == 0


def blockers(job: CardJob, board: Board) -> list[tuple[str, Status]]:
    """Dependencies that are not done, with their status."""
    out: list[tuple[str, Status]] = []
    for dep in job.depends_on:
        status = board.state(dep).status
        if status != Status.DONE:
            out.append((dep, status))
    return out


def ready_since(state: JobState, depends_on: Iterable[str], board: Board) -> float | None:
    """When a backlog job last became ready to start, as far as the board tells (None: not known).

    The latest of: its entering the backlog (``since``: a trigger, a retry, a runner
    listing it, a listing that came after the operator's first hold or pause), the time its retry was due, and each dependency's finishing. A wait
    counts from here (``max_wait``, the waits of `stats`), not from the cycle's start:
    an hour spent waiting for its dependencies is not an hour spent waiting for a
    slot. The operator's own gates (an approval, a pause) leave no time on the board:
    a wait for them counts toward ``max_wait``; `stats` leaves it out, from the log
    (state/timeline.py).
    """
    since = state.since if state.since is not None else board.listed.get(state.job)  # (held or paused at first)
    times = [t for t in (since, state.not_before) if t is not None]
    for dep in depends_on:
        dep_state = board.state(dep)
        if dep_state.status == Status.DONE and dep_state.since is not None:
            times.append(dep_state.since)
    return max(times, default=None)


def is_ready(job: Job, state: JobState, board: Board, now: float) -> bool:
    """Whether the job may be claimed now (capacity aside)."""
    return (
        state.status == Status.BACKLOG
        and not is_paused(job, state)
        and state.override != "hold"
        and (state.not_before is None or state.not_before <= now)
        and not waits_for_fire(job, state)
        and (not needs_approval(job) or state.approved)
        and not blockers(job, board)
    )


def override_text(state: JobState) -> str:
    """The operator's override as a card says it: "held by the operator: site down", "pinned to start next"."""
    said = "held by the operator" if state.override == "hold" else "pinned to start next"
    return f"{said}: {state.override_reason}" if state.override_reason else said


def deck_hold_text(held: Mapping[str, Any]) -> str:
    """``held by ana@box since 2026-12-06 14:03 UTC: maintenance``."""
    since = utc_text(float(held.get("ts", 0.0)))
    return f"held by {held.get('by', '?')} since {since}" + (f": {held['reason']}" if held.get("reason") else "")


def utc_text(ts: float) -> str:
    """``2026-12-06 14:03 UTC``."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def kept_back_words(job_id: str, action: object, needs: object, why: str) -> str:
    """A hold or deferral as the runner and `run --job` say it: "held by the decision service: WHY (hint: ...)",
    or "deferred: WHY" for the job's own window, which holds in every mode, and for its models' cooldown, which
    a pin does not pass either (an attempt then could call nothing): that one gets no hint."""
    said = "deferred" if action == "defer" else "held"
    if needs == "cooldown":
        return f"{said}: {why}"
    by = "" if needs == "window" else " by the decision service"
    return f"{said}{by}: {why} (hint: `jobdeck pin {job_id}` starts it now anyway)"


def kept_back_now(board: Board, job_id: str, now: float) -> KeptBack | None:
    """The decision service's last hold or deferral of a backlog job, if it still keeps the job back at ``now``.

    A deferral whose time has come, or a hold the board shows is over, keeps nothing back: the job waits for a
    runner to look again, like any ready job."""
    kept_back = board.kept_back.get(job_id)
    if kept_back is None:
        return None
    until = kept_back.until if isinstance(kept_back.until, (int, float)) else None
    if (until is not None and until <= now) or kept_back.outlived(board):
        return None
    reason = kept_back.reason
    if isinstance(reason, str) and until is not None:  # "opens at 02:00, in 11h58m", said then: counted from now
        reason = _COUNTDOWN.sub(f", in {format_duration(until - now)}", reason, count=1)
    return kept_back._replace(until=until, reason=reason)


_COUNTDOWN = re.compile(r", in \d+(?:\.\d+)?[smhd](?:\d+[smhd])*(?=$|[;,)])")
"""A reason's "in 11h58m" (state.durations.format_duration's forms), which the reason's moment counted."""


def ready_jobs(spec: Spec, board: Board, now: float) -> list[Job]:
    """Jobs that may start now, highest priority first, then longest waiting."""
    ready = [(job, board.state(job.id)) for job in spec.jobs]
    ready = [(job, st) for job, st in ready if is_ready(job, st, board, now)]
    ready.sort(key=lambda pair: (-pair[0].priority, pair[1].since or 0.0))
    return [job for job, _ in ready]


#: Words that start shell code without naming a program ("for f in *.csv; do ...", "cd /srv && make").
SHELL_WORDS = frozenset({"for", "while", "until", "if", "case", "select", "function", "set", "export", "cd",
                         "source", ".", "eval", "trap", "umask", "ulimit", "!"})


def agent_label(job: CardJob) -> str:
    """A short name for how the job runs: model, agent, or the program its command starts with ("sh" for shell
    code whose first word is a keyword, a builtin or punctuation, which names no program)."""
    if job.model:
        return job.model
    if job.agent:
        return job.agent
    command = job.command
    if not isinstance(command, str):
        return command[0] if command else "?"
    words = [word for word in command.split() if "=" not in word or word.startswith(("/", "."))]  # (FOO=1 cmd)
    first = words[0].rstrip(";&|") if words else ""
    if not first or first in SHELL_WORDS or not (first[:1].isalnum() or first[:1] in "/._~"):
        return "sh"
    return first


def card(job: CardJob, state: JobState, board: Board, now: float, fires: Mapping[str, float] | None = None) -> Card:
    """The card for ``job``: its column and every derived flag worth showing.

    ``fires`` may give scheduled jobs' next fires at ``now``, known without cron arithmetic
    (state/cardcache.known_fires)."""
    status = state.status
    backlog = status == Status.BACKLOG
    flags: list[str] = []
    if backlog:
        for dep, dep_status in blockers(job, board):
            flags.append(f"blocked by {dep}" + ("" if dep_status in (Status.BACKLOG, Status.RUNNING)
                                                else f" ({dep_status.value})"))
        if needs_approval(job) and not state.approved:
            flags.append("awaiting approval")
        if state.not_before is not None and state.not_before > now:
            flags.append("retrying")
    fire = None
    if job.schedule is not None:
        fire = fires.get(job.id) if fires else None
        if fire is None:
            fire = _fire_after(job.schedule, job.timezone, now)
        if backlog and state.cycle == 0:
            flags.append("waiting for schedule")
    elif backlog and job.trigger is not None and state.cycle == 0:
        flags.append(f"waiting for {job.trigger} in inbox")
    if is_paused(job, state):  # (a running attempt is not stopped by a pause: it runs on, and is the last)
        flags.append("paused after this run" if state.status == Status.RUNNING else "paused")
    if backlog and state.override is not None:
        flags.append(override_text(state))
    kept_back = kept_back_now(board, job.id, now) if backlog else None
    kept_until = None
    if kept_back is not None and isinstance(kept_back.note, str):
        flags.append(kept_back.note)
        kept_until = kept_back.until
    if state.reason == "interrupted":
        flags.append("interrupted")
    return Card(
        id=job.id,
        title=job.name,
        column=status,
        agent=agent_label(job),
        attempt=state.tries,
        max_attempts=job.retry.max_attempts,
        workspace=job.workspace,
        priority=job.priority,
        labels=tuple(job.labels),
        since=state.since,
        flags=tuple(flags),
        reason=state.reason,
        next_fire=fire,
        retry_at=state.not_before if backlog else None,
        kept_until=kept_until,
    )


@lru_cache(maxsize=256)
def _fire_after(schedule: str, tz: str, now: float) -> float | None:
    # Cards are built for every job at one ``now``: jobs sharing a schedule share the answer.
    from jobdeck.state.schedule import next_fire  # datetime, zoneinfo and croniter: only for scheduled jobs

    try:
        return next_fire(schedule, tz, now)
    except (ValueError, KeyError):
        return None


def noted(card: Card, note: str | None) -> Card:
    """``card`` with its runner's note (where a running attempt is) first among its flags."""
    if note is None or card.column != Status.RUNNING:
        return card
    return card._replace(flags=(note, *card.flags))


UNDECLARED = "no longer in jobs.json"
"""The flag of a card whose job jobs.json no longer declares (``undeclared_card``)."""


def holds_claim(state: JobState) -> bool:
    """Whether an attempt of the job is under way: claimed and not yet ended (running, or cancelled and
    still being stopped): the fencing token its end must carry is still set."""
    return state.token is not None


def undeclared(spec: Spec | LightSpec, board: Board) -> list[JobState]:
    """States of the jobs ``spec`` does not declare that still hold a claim (taken out of jobs.json by hand
    while an attempt ran), by id: what a runner is still running, or stopping, that no card would show."""
    return sorted((state for job_id, state in board.jobs.items() if holds_claim(state) and spec.job(job_id) is None),
                  key=lambda state: state.job)


def undeclared_card(state: JobState) -> Card:
    """The card of a job jobs.json no longer declares whose attempt is under way (``holds_claim``): what the
    board knows of it (its column, tries, workspace, since), the rest unknown (``agent`` "?", ``max_attempts``
    0), flagged UNDECLARED and ``declared`` False; it goes once the attempt's end is recorded."""
    attempt = state.attempt
    return Card(
        id=state.job,
        title=state.job,
        column=state.status,
        agent="?",
        attempt=state.tries,
        max_attempts=0,
        workspace=attempt.workspace if attempt is not None else "default",
        priority=0,
        labels=(),
        since=state.since,
        flags=(UNDECLARED,),
        reason=state.reason,
        declared=False,
    )


def cards(spec: Spec | LightSpec, board: Board, now: float, fires: Mapping[str, float] | None = None) -> list[Card]:
    """Cards for every job in the spec, in spec order (``fires``: as for ``card``), then those of jobs it no
    longer declares whose attempt is still under way (``undeclared_card``), by id."""
    declared = [card(job, board.state(job.id), board, now, fires) for job in spec.jobs]
    return declared + [undeclared_card(state) for state in undeclared(spec, board)]
