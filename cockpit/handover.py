"""The terminal handed to another program ($EDITOR for `e`, $PAGER for `o`) and taken back, whatever it does.

Textual 8's ``App.suspend`` takes the terminal back only when its block ends
without an exception: an editor's non-zero exit or a pager that cannot start,
raised through it, would leave the cockpit off its screen with the keys echoed.
Here what the program raises is raised again once the app has its screen back;
and ^C typed in the program (a pager's search stopped) is left to the program
instead of ending the cockpit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from textual.app import App, SuspendNotSupported

T = TypeVar("T")


def handed_over(app: App[object], run: Callable[[], T]) -> T:
    """``run()`` with the terminal handed over, its result returned or its exception raised once the app has the
    terminal back; headless (tests), where there is no terminal to hand over, ``run()`` itself."""
    try:
        with app.suspend(), _interrupt_left_to_the_program():
            try:
                return run()
            except BaseException as exc:  # raised below, past the suspend: raised through it, it would stay suspended
                failure = exc
    except SuspendNotSupported:
        return run()
    raise failure  # (only reached once run() raised)


@contextmanager
def _interrupt_left_to_the_program() -> Iterator[None]:
    """^C on a handed-over terminal signals the cockpit too (the terminal is no longer raw): ignored here while
    the program runs, by a handler (the program starts with the default one, as a signal ignored would be
    inherited)."""
    before = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if before is None:  # (not the main thread, or a handler not set from Python: left as it is)
        yield
        return
    signal.signal(signal.SIGINT, _ignore)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _ignore(signum: int, frame: object) -> None:
    """A SIGINT handler that does nothing."""
