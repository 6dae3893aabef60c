"""Wall-clock questions of the policy: the next "06:00" after a time, whether a daily window is open."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from jobdeck.state.clock import clock_text, zoned_text  # (named in state/, where what keeps a job back names them too)
from jobdeck.state.schedule import zone

ClockTime = tuple[int, int]
"""Hour and minute of a time of day."""


def parse_clock(text: str) -> ClockTime:
    """``"06:00"`` as (6, 0) (the spec has validated the form)."""
    hour, minute = text.split(":")
    return int(hour), int(minute)


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return zone(name)


def next_clock(at: ClockTime, tz: str, after: float) -> float:
    """The first moment at or after ``after`` when the clock in ``tz`` reads ``at``."""
    local = datetime.fromtimestamp(after, timezone.utc).astimezone(_zone(tz))
    candidate = local.replace(hour=at[0], minute=at[1], second=0, microsecond=0)
    if candidate.timestamp() < after:
        candidate = (candidate + timedelta(days=1)).replace(hour=at[0], minute=at[1])
    return candidate.timestamp()


def local_day_start(moment: float, tz: str) -> float:
    """Midnight (in ``tz``) of the day ``moment`` is in there: when a daily deadline's day began."""
    local = datetime.fromtimestamp(moment, timezone.utc).astimezone(_zone(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def parse_instant(text: str, tz: str) -> float:
    """An ISO-8601 datetime as epoch seconds; one without an offset is read in ``tz``."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_zone(tz))
    return moment.timestamp()


def window_state(start: ClockTime, end: ClockTime, tz: str, now: float) -> tuple[bool, float]:
    """Whether the daily window start-end (it may cross midnight) is open at ``now``, and when that changes."""
    minutes = _minute_of_day(now, tz)
    begin, finish = start[0] * 60 + start[1], end[0] * 60 + end[1]
    inside = begin <= minutes < finish if begin < finish else minutes >= begin or minutes < finish
    # strictly after now (at an edge the minute above has already flipped the state), and not a second later:
    # at 21:59:59.6 a window from 22:00 opens in 0.4 s, not tomorrow
    return inside, next_clock(end if inside else start, tz, now + 0.001)


def _minute_of_day(now: float, tz: str) -> int:
    local = datetime.fromtimestamp(now, timezone.utc).astimezone(_zone(tz))
    return local.hour * 60 + local.minute


def day_start(now: float) -> float:
    """Midnight UTC of the day ``now`` is in: the budget's day."""
    return now - now % 86400
