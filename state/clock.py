"""How a moment is named in words: ``06:00``, ``Dec 24 06:00``, ``06:00 Europe/Berlin``.

One home for it below every layer that names a time: the decision service's reasons (decide/) and what
keeps a job back (state/blocking.py) say a time the same way.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from jobdeck.state.schedule import zone


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return zone(name)


def clock_text(moment: float, tz: str, now: float) -> str:
    """``06:00``, or ``Dec 24 06:00`` when not within the next day: how reasons name a time."""
    local = datetime.fromtimestamp(moment, timezone.utc).astimezone(_zone(tz))
    if abs(moment - now) < 20 * 3600:
        return local.strftime("%H:%M")
    return local.strftime("%b %d %H:%M")


def zoned_text(moment: float, tz: str, now: float, *, seconds: bool = False) -> str:
    """``clock_text`` with its zone: ``06:00 Europe/Berlin``, ``06:00 UTC``, as a deadline's reason names it.

    ``seconds``: a moment that is exact, not an estimate (a cooldown's end), is said to the second when it is
    within ten minutes and not on the minute: "until 13:56" read as over at 13:56:23 for 13:56:53."""
    if seconds and abs(moment - now) < 600 and int(moment) % 60:
        local = datetime.fromtimestamp(moment, timezone.utc).astimezone(_zone(tz))
        return f"{local.strftime('%H:%M:%S')} {tz}"
    return f"{clock_text(moment, tz, now)} {tz}"
