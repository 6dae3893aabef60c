"""Short, clock-injected time texts for cards and headers."""

from __future__ import annotations

from datetime import datetime, timezone

from jobdeck.state.durations import format_duration


def age(seconds: float) -> str:
    """A compact age for a card: 12s, 5m, 3h, 2d (coarse, so it changes rarely)."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def relative(ts: float | None, now: float) -> str:
    """'12s ago' / 'in 5m03s' / '-'."""
    if ts is None:
        return "-"
    delta = now - ts
    return f"{format_duration(delta)} ago" if delta >= 0 else f"in {format_duration(-delta)}"


def stamp(ts: float | None) -> str:
    """An absolute UTC time, the same on every machine: 2024-05-01 12:00:03Z."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def start_of_day(now: float) -> float:
    """Epoch seconds of the start of ``now``'s local day (the operator's "today")."""
    day = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()
