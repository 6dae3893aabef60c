"""Cron decisions, pure and with time injected: is a fire due, and what to do with it.

Missed fires while the runner was down coalesce into one run (the latest fire).
A fire while the job or anything downstream of it is running is skipped and
recorded, so it is not considered again. A job seen for the first time is
"armed" at the current time: it fires at the next occurrence, not for the past.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobdeck.state.schedule import last_fire

if TYPE_CHECKING:
    from jobdeck.state.spec import Job


@dataclass(frozen=True, slots=True)
class FireDecision:
    """What to do about a scheduled job now."""

    action: str  # "arm" | "fire" | "skip"
    fire: float
    missed: int = 0
    """Fires coalesced into this one (0 = none missed)."""


def decide(job: Job, last_handled: float | None, now: float, busy: bool) -> FireDecision | None:
    """The decision for ``job`` at ``now``, or None when nothing is due.

    ``last_handled`` is the JobState's ``last_fire``; ``busy`` says whether the job
    or anything downstream of it is running.
    """
    if job.schedule is None:
        return None
    if last_handled is None:
        return FireDecision("arm", now)
    latest = last_fire(job.schedule, job.timezone, now)
    if latest <= last_handled:
        return None
    missed = _count_between(job.schedule, job.timezone, last_handled, latest)
    return FireDecision("skip" if busy else "fire", latest, missed)


def _count_between(schedule: str, timezone: str, after: float, upto: float, cap: int = 1000) -> int:
    """How many fires fall in (after, upto), not counting ``upto`` itself (capped)."""
    from jobdeck.state.schedule import next_fire

    count, t = 0, after
    while count < cap:
        t = next_fire(schedule, timezone, t)
        if t >= upto:
            break
        count += 1
    return count


def next_due(jobs: list[Job], last: dict[str, float | None], now: float) -> float | None:
    """The earliest upcoming fire among ``jobs`` (for the runner's timer)."""
    from jobdeck.state.schedule import next_fire

    times = [next_fire(job.schedule, job.timezone, max(now, last.get(job.id) or now))
             for job in jobs if job.schedule is not None]
    return min(times) if times else None
