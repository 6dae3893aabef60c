"""A line of progress for long work on a terminal's stderr: rewritten in place, erased at the end.

Nothing at all where stderr is not a terminal (a script's, a cron mail's), and
nothing for work that ends within a second. `stats` folding a long log (~20 s at
a million records with no cache) and `audit verify` reading one (~11 s) would
read as hangs otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO


class Progress:
    """``what`` has come to N (of M) ``unit``: pass it as the ``progress`` callback of the work, in a ``with``."""

    DELAY = 1.0
    """Seconds of work before the line shows: a short run prints nothing."""
    EVERY = 0.2
    """Seconds between rewrites at most."""

    def __init__(self, what: str, unit: str, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.unit = what, unit
        self.stream = stream or sys.stderr
        self.clock = clock
        self.live = _interactive(self.stream)
        self.shown = False
        self.next_at = clock() + self.DELAY

    def __call__(self, done: int, total: int | None) -> None:
        if not self.live:
            return
        now = self.clock()
        if now < self.next_at:
            return
        self.next_at = now + self.EVERY
        of = f" of {total:,}" if total is not None and total >= done else ""
        self._write(f"\r\x1b[K{self.what} ({done:,}{of} {self.unit})...")
        self.shown = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.shown:
            self._write("\r\x1b[K")  # erased before the answer (or an error) is printed
            self.shown = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed terminal: the work matters more than its commentary
            self.live = False


def _interactive(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal that takes a line rewritten in place."""
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
