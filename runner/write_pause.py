"""The runner's writes, paused while the deck refuses them (disk full, file size limit, read-only).

A failed write stores nothing (the log is cut back and the board re-read), so
the runner need only start nothing new, say so once, and try again a second
later; the outcomes it could not record wait in memory, their leases held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jobdeck.state.errors import DeckAccessError

WRITE_RETRY = 1.0
"""Seconds between tries while writes fail."""


class WritePause:
    """Whether the runner's writes are paused after a failure, and until when."""

    def __init__(self, report: Callable[[Mapping[str, Any]], None], resync: Callable[[], None]) -> None:
        self.report = report
        self.resync = resync
        """Brings the runner's own bookkeeping back in line with the re-read board."""
        self.retry_at = 0.0
        """When to try writing again; 0.0 while writes succeed."""
        self.since = 0.0
        """When the current streak of failed writes began (0.0 while writes succeed)."""
        self.error: OSError | DeckAccessError | None = None
        """The last failed write of the current streak."""

    @property
    def failing(self) -> bool:
        return bool(self.retry_at)

    def paused(self, now: float) -> bool:
        """Whether it is too soon after a failed write to try another."""
        return now < self.retry_at

    def failed(self, exc: OSError | DeckAccessError, now: float) -> None:
        """Report a failed write once per streak, pause writing, and resync with the re-read board."""
        if not self.retry_at:
            self.since = now
            self.report({"type": "write_error", "message": describe(exc),
                         "next": "starting nothing new; retrying every second"})
        self.retry_at = now + WRITE_RETRY
        self.error = exc
        self.resync()

    def resumed(self) -> None:
        """Writes succeed again: report it and stop pausing."""
        self.retry_at = self.since = 0.0
        self.error = None
        self.report({"type": "write_resumed"})


def describe(exc: OSError | DeckAccessError) -> str:
    """``exc`` in one line: the file, then the problem ("/deck/.jobdeck/events.jsonl: Permission denied")."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def write_quietly(write: Callable[[], None]) -> None:
    """Run a write whose loss is safe (result.json, diagnostics): a full disk must not kill the attempt's task."""
    try:
        write()
    except OSError:
        pass
