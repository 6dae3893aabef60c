"""Cron schedules: validation and next-fire times, in the job's time zone."""

from __future__ import annotations

import re
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
        count = len(text.split())
        raise ValueError(f"'{expr}' has {count} field{'' if count == 1 else 's'}; a cron schedule has 5 "
                         "(minute hour day month weekday)")
    start = datetime(2000, 1, 1, tzinfo=zone(tz))
    try:
        croniter(text, start).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"'{expr}' never fires (no such date, like 31 February)") from None
    except (CroniterError, ValueError, KeyError) as exc:
        problem = field_problem(text)
        raise ValueError(f"{problem} in '{expr}'" if problem else
                         f"'{expr}' is not a valid cron expression: {exc}") from None


#: Each field of a cron expression: its name, its range, and the names it takes for numbers.
FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day", 1, 31, ()),
          ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
          ("weekday", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")))
_NAMED = {"month": "a month's name (jan-dec)", "weekday": "a day's name (sun-sat)"}
_SPECIAL = re.compile(r"(?i)[LWH]|LW|\d+[LW]|\d+#\d+")
"""croniter's extensions (last day, nearest weekday, hashed, nth weekday): left to its own words."""


def field_problem(expr: str) -> str | None:
    """What is wrong with a field of the 5-field cron ``expr`` croniter refused, in plain words: a number out
    of its field's range, a step that is 0 or not a number, a word that is no number or name, a misplaced '?'.
    None when it is something else, which croniter's own words then say."""
    for (name, low, high, names), field in zip(FIELDS, expr.split()):
        for part in field.split(","):
            base, slash, step = part.partition("/")
            if slash and not step.isdigit():
                return f"{name} step '{step}' is not a number"
            if slash and int(step) == 0:
                return f"{name} step 0 is not allowed (a step is 1 or more)"
            if not base:
                return f"{name} '{field}' has an empty item"
            if base == "?" and name not in ("day", "weekday"):
                return f"{name} cannot be '?' (only day and weekday can)"
            if base.startswith("-") and base[1:].isdigit():
                return f"{name} -{int(base[1:])} is out of range ({_range(name, low, high)})"
            for value in base.split("-") if base not in ("*", "?") else ():
                if value.isdigit():
                    if not low <= int(value) <= high:
                        return f"{name} {int(value)} is out of range ({_range(name, low, high)})"
                elif not value:
                    return f"{name} '{base}' is not a number or a range like {low}-{high}"
                elif not _SPECIAL.fullmatch(value) and value.lower() not in names:
                    kinds = f"a number ({low}-{high})" + (f" or {_NAMED[name]}" if name in _NAMED else "")
                    return f"{name} '{value}' is not {kinds}"
    return None


def _range(name: str, low: int, high: int) -> str:
    return f"{low}-{high}, Sunday is 0 or 7" if name == "weekday" else f"{low}-{high}"


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
