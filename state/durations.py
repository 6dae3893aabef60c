"""Durations as people write them: 90, "90s", "5m", "2h", "1h30m", "250ms"."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds in ``value``; raise ValueError with a fix-it message otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like '90s', '5m', '2h'")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT[match.group(2)]
            pos = match.end()
        if not text or pos != len(text):
            if _NUMBER.fullmatch(text):  # "90": a number in quotes
                raise ValueError(f"'{value}' is a string with no unit; write the number {text} (seconds, no quotes) "
                                 f"or '{text}s'")
            raise ValueError(
                f"'{value}' is not a duration; write seconds (90) or '90s', '5m', '2h', '1h30m'"
            )
    else:
        raise ValueError("a duration must be a number of seconds or a string like '90s', '5m', '2h'")
    if seconds <= 0 or seconds != seconds or seconds > 365 * 86400:
        raise ValueError(f"duration {value!r} must be more than 0 and at most a year")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: 0.4s, 12s, 5m03s, 2h10m, 3d4h."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    return f"{total // 86400}d{total % 86400 // 3600}h"
