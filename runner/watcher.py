"""Wake the runner when something it cares about changes in the deck directory.

The watch runs in a thread of its own (watchfiles' blocking ``watch``), not as
an asyncio task: ``awatch`` sets up an anyio task group, events and a worker
thread hand-off for every batch, which a busy runner, whose own appends to
events.jsonl are changes too, pays for many times a second. The thread only
posts a call to the loop per batch.

Watched: the deck root (jobs.json saves, however the editor saves them), the
state directory (events.jsonl appended by other processes) and the inbox of
every workspace with a triggered job. Directories, not files: a watch on a
file goes silent after the first save that renames over it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # watchfiles (and anyio) are imported when the watch starts
    from watchfiles import Change

_T = TypeVar("_T")

WATCHED_NAMES = ("jobs.json", "events.jsonl")
READY_LOOK_MS = 250
"""How long the watch waits for a change before it hands back an empty batch: the first one says it is up
(the runner then takes a turn); the later ones are passed over."""


class DeckWatcher:
    """Calls ``notify(inbox_changed)`` on the loop after each batch of relevant changes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, root: Path, state_dir: Path,
                 inboxes: Iterable[Path], notify: Callable[[bool], None],
                 report: Callable[[dict[str, Any]], None] = lambda record: None) -> None:
        self.loop = loop
        self.paths = [root, state_dir, *inboxes]
        self.inboxes = {str(p) for p in self.paths[2:]}
        self.notify = notify
        self.report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobdeck-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; the thread notices within one step (20 ms)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def _interesting(self, change: Change, path: str) -> bool:
        return os.path.basename(path) in WATCHED_NAMES or os.path.dirname(path) in self.inboxes

    def _run(self) -> None:
        import watchfiles

        watching = False
        try:
            for changes in watchfiles.watch(*self.paths, watch_filter=self._interesting, recursive=False,
                                            step=20, debounce=200, stop_event=self._stop, raise_interrupt=False,
                                            rust_timeout=READY_LOOK_MS, yield_on_timeout=True):
                if not changes and watching:
                    continue  # (a quiet READY_LOOK_MS: nothing to say)
                # The first batch, changes or none, says the watch is up: a change made between the runner's last
                # read and now (the import and the setup take ~0.1 s) would otherwise wait for the heartbeat.
                watching = True
                inbox = any(os.path.dirname(path) in self.inboxes for _, path in changes)
                if not self._post(self.notify, inbox):
                    return
        except Exception as exc:  # e.g. a watched directory vanished: keep running on timers
            self._post(self.report, {"type": "watch_error", "message": f"{type(exc).__name__}: {exc}",
                                     "next": "changes by other processes are noticed only on timers"})

    def _post(self, call: Callable[[_T], None], arg: _T) -> bool:
        if self._stop.is_set():
            return False
        try:
            self.loop.call_soon_threadsafe(call, arg)
        except RuntimeError:  # the loop is closed
            return False
        return True
