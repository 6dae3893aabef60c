"""Keys typed in a burst act in the order typed: each is let through once the key before it is handled.

Textual's App hands a typed key to the focused widget's own message queue and
reads the next key at once; a key's binding runs only when the key has bubbled
back up to the App. So in a burst (`v j a`, `Esc j p`, a reason and its Enter
pasted over a slow SSH link) every key goes to the widget that had the focus when
the burst began: the `j` of `v j a` moved the board's cursor under the review
queue `v` opened, and the `a` opened an approval there, found on leaving the
queue. ``KeyOrder`` holds each typed key until the one before it has passed every
queue it went into (a callback queued behind it in each, from the widget it was
handed to up to the App), so a key typed after one that opens a screen, closes
one or moves the focus goes where that left the focus, as it would for slower
hands.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual import events
    from textual.app import App
    from textual.message_pump import MessagePump

HOLD_AT_MOST = 1.0
"""Seconds a key waits for the one before it at most: a key whose way was cut (a widget removed with its queue,
and the callback queued there) does not stop the keyboard."""


class KeyOrder:
    """The App's typed keys, one at a time: ``admit`` each as it arrives, ``handed`` once the App handled it."""

    def __init__(self, app: App[object]) -> None:
        self.app = app
        self.busy = False
        """A key was let through and is not yet handled."""
        self.waiting: deque[events.Key] = deque()
        self.released: events.Key | None = None
        """The waiting key handed back to the App, which ``admit`` lets through."""
        self._turn = 0
        """Which key's end the chain of callbacks and the timer are for (the second to arrive finds it ended)."""

    def admit(self, key: events.Key) -> bool:
        """Whether the App may handle ``key`` now; if not, it is kept, and handed back to the App in its turn."""
        if key is self.released:
            self.released = None
            return True
        if self.busy:
            self.waiting.append(key)
            return False
        self.busy = True
        return True

    def handed(self, target: MessagePump) -> None:
        """The key just admitted was handled by the App and handed to ``target`` (the focused widget, or the
        screen): let the next through once every queue from ``target`` up to the App has passed it, and then
        what its handling posted (an Input's Enter posts Submitted, whose handler moves the focus), in those
        queues and in those of wherever the focus is then."""
        self._turn += 1
        turn = self._turn
        first = _up_from(target)

        def step(chain: list[MessagePump], i: int, then: Callable[[], None]) -> None:
            if turn != self._turn:
                return
            if i == len(chain):
                then()
            elif not chain[i].call_later(step, chain, i + 1, then):  # (a queue closed meanwhile: on up)
                step(chain, i + 1, then)

        def again() -> None:
            now = _up_from(self.app.focused or self.app.screen)
            step(first + [node for node in now if node not in first], 0, partial(self._ended, turn))

        step(first, 0, again)
        self.app.set_timer(HOLD_AT_MOST, partial(self._ended, turn))

    def _ended(self, turn: int) -> None:
        """The key of ``turn`` is handled (or waited for long enough): hand the next one back to the App."""
        if turn != self._turn:
            return
        self._turn += 1
        if self.waiting:
            self.released = self.waiting.popleft()
            self.app.post_message(self.released)
        else:
            self.busy = False


def _up_from(node: MessagePump) -> list[MessagePump]:
    """``node`` and its ancestors up to the App: the queues a key handed to it goes through."""
    return list(getattr(node, "ancestors_with_self", [node]))
