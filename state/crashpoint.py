"""Named crash points for the torture tests: ``kill -9`` of this process at an exact step.

``JOBDECK_CRASH_AT=name`` (or ``name:n`` for the n-th time the point is reached)
makes ``crash_point(name)`` send SIGKILL to the process itself, so a test can
prove that a crash between any two steps of a write (before/after the write,
the fsync, the rename, the directory fsync) loses nothing. With
``JOBDECK_CRASH_SIGNAL=SIGSTOP`` the process stops there instead, so a test can
act while it is frozen at that step (and SIGCONT it). The variables are read
once at import; when they are unset, ``crash_point`` is a function that returns
at once, so the hooks cost one call in production.
"""

from __future__ import annotations

import os

ENV_VAR = "JOBDECK_CRASH_AT"
SIGNAL_VAR = "JOBDECK_CRASH_SIGNAL"


def _parse(value: str) -> tuple[str, int]:
    name, _, count = value.partition(":")
    return name, int(count) if count.isdigit() and int(count) > 0 else 1


_TARGET = _parse(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else None
_hits = 0


def _signal() -> int:
    # (imported here: the signal module builds its enums at import, ~4 ms of every command)
    import signal

    return signal.Signals[os.environ.get(SIGNAL_VAR) or "SIGKILL"]


def _off(name: str) -> None:
    """No crash point armed."""


def _armed(name: str) -> None:
    """Signal this process on the armed point's n-th hit (only that one: a stopped process goes on)."""
    global _hits
    assert _TARGET is not None
    if name != _TARGET[0]:
        return
    _hits += 1
    if _hits == _TARGET[1]:
        os.kill(os.getpid(), _signal())


crash_point = _off if _TARGET is None else _armed


def armed(name: str) -> bool:
    """Whether ``name`` is the armed point (for hooks that must tear a write first)."""
    return _TARGET is not None and _TARGET[0] == name
