"""Cron schedules: validation and next-fire times, in the job's time zone."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALIASES = {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}


def zone(name: str) -> ZoneInfo:
    """The time zone ``name``; ValueError with a hint when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}'; use an IANA name like 'UTC' or 'Europe/Paris'") from None


def _croniter() -> Any:
    """The croniter module, imported without the process it would start.

    Its import asks ``platform.architecture()`` whether Python is 32-bit, which runs
    `file -b` on the interpreter: a fork and exec, ~6 ms of the ~24 ms the import
    takes, in every runner start and every command that reads a schedule. The
    pointer size answers the same question, so the call is answered from it while
    croniter is imported.
    """
    import sys

    if "croniter" in sys.modules:
        return sys.modules["croniter"]
    import platform
    import struct

    asked = platform.architecture
    platform.architecture = lambda *args, **kwargs: (f"{struct.calcsize('P') * 8}bit", "")  # type: ignore[assignment]
    try:
        import croniter
    finally:
        platform.architecture = asked
    return croniter


def check_cron(expr: str, tz: str = "UTC") -> None:
    """Raise ValueError unless ``expr`` is a 5-field cron or alias that fires at least once."""
    croniter = _croniter().croniter
    from croniter.croniter import CroniterBadDateError, CroniterError

    text = expr.strip()
    if text.startswith("@"):
        if text not in ALIASES:
            raise ValueError(f"unknown schedule alias '{text}'; use one of {', '.join(sorted(ALIASES))}")
    elif len(text.split()) != 5:
        raise ValueError(f"'{expr}' has {len(text.split())} fields; a cron schedule has 5 (minute hour day month weekday)")
    start = datetime(2000, 1, 1, tzinfo=zone(tz))
    try:
        croniter(text, start).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"'{expr}' never fires (no such date, like 31 February)") from None
    except (CroniterError, ValueError, KeyError) as exc:
        raise ValueError(f"'{expr}' is not a valid cron expression: {exc}") from None


def next_fire(expr: str, tz: str, after: float) -> float:
    """The first fire time strictly after the epoch time ``after``."""
    croniter = _croniter().croniter

    start = datetime.fromtimestamp(after, timezone.utc).astimezone(zone(tz))
    return croniter(expr.strip(), start).get_next(datetime).timestamp()


def last_fire(expr: str, tz: str, at_or_before: float) -> float:
    """The latest fire time at or before the epoch time ``at_or_before``."""
    croniter = _croniter().croniter

    start = datetime.fromtimestamp(at_or_before + 1e-6, timezone.utc).astimezone(zone(tz))
    return croniter(expr.strip(), start).get_prev(datetime).timestamp()
