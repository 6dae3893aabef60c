"""A live, inert view of an attempt's output file.

The widget reads only the bytes appended since its last read, keeps the last
``KEEP`` characters, and shows them as plain ``Text`` after stripping control
sequences, so agent output can neither drive the terminal nor inject markup.
A watcher on the attempt's directory (workers post, the handler reads) keeps it
live while the attempt runs.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from jobdeck.state.terminal import inert
from jobdeck.cockpit.watcher import changes

KEEP = 64 * 1024
"""Characters of output kept on screen (the tail end)."""
ABOVE = 2
"""Lines of output shown above the line a file opens at, for its context."""


class OutputTail(VerticalScroll):
    """The tail of one output file, following it as it grows."""

    class Grew(Message):
        """The followed file may have grown (bursts coalesce into one read)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, OutputTail.Grew)

    def __init__(self, *, placeholder: str = "(no output yet)", id: str | None = None,
                 live: bool = True) -> None:
        super().__init__(id=id)
        self.path: Path | None = None
        self.placeholder = placeholder
        """Shown while the file has nothing to show; the owner says "(no output)" once the attempt has ended."""
        self.live = live
        self._offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._dropped = False
        self._stop: asyncio.Event | None = None
        self._opens_at: Callable[[str], int | None] | None = None
        self._opening: tuple[str, int] | None = None
        """The text shown and the line to scroll to once it is laid out."""

    def compose(self) -> ComposeResult:
        yield Static(Text(self.placeholder, "dim"), classes="tail-text", markup=False)

    @property
    def text(self) -> str:
        """What is shown now (already made inert)."""
        return inert(self._buffer)

    def follow(self, path: Path | None, *, opens_at: Callable[[str], int | None] | None = None) -> None:
        """Show ``path`` (re-reading it from the start when it is a different file) at its end, following it as it
        grows; with ``opens_at``, a different file opens at the line it finds in the text shown (None: its start)."""
        if path != self.path:
            self.path = path
            self._opens_at, self._opening = opens_at, None
            self._offset, self._buffer, self._dropped = 0, "", False
            self._decoder.reset()
            self._stop_watching()
        self.read_more()
        if path is not None and self._stop is None and self.live and path.parent.is_dir():
            self._stop = asyncio.Event()
            self._watch(path, self._stop)

    def read_more(self) -> None:
        """Append whatever the file gained since the last read."""
        if self.path is None:
            self._show()
            return
        try:
            with open(self.path, "rb") as output:
                size = output.seek(0, 2)
                if size < self._offset:  # rewritten from the start
                    self._offset, self._buffer = 0, ""
                    self._decoder.reset()
                start = max(self._offset, size - 4 * KEEP)
                if start > self._offset:
                    self._dropped = True
                output.seek(start)
                data = output.read(size - start)
        except OSError:
            self._show()
            return
        self._offset = start + len(data)
        if not data:
            if not self._buffer:
                self._show()
            return
        self._buffer += self._decoder.decode(data)
        if len(self._buffer) > KEEP:
            self._buffer, self._dropped = self._buffer[-KEEP:], True
        self._show()

    def _show(self) -> None:
        at_end = self.scroll_y >= self.max_scroll_y
        static = self.query_one(".tail-text", Static)
        if not self._buffer:
            static.update(Text(self.placeholder, "dim"))
            return
        shown = Text("… earlier output not shown\n", "dim") if self._dropped else Text()
        shown.append(inert(self._buffer))
        static.update(shown)
        if self._opens_at is not None:
            line = self._opens_at(self.text) or 0
            self._opens_at = None
            self._opening = (shown.plain, line + (1 if self._dropped else 0))
            self.call_after_refresh(self._open)
        elif at_end:
            self.call_after_refresh(self.scroll_end, animate=False)

    def _open(self) -> None:
        """Scroll to the line the file opens at, ``ABOVE`` lines below the top, once the text is laid out."""
        if self._opening is None:
            return
        shown, line = self._opening
        static = self.query_one(".tail-text", Static)
        width = static.size.width
        if not width or self.virtual_size.height < Content(shown).get_height(static.styles, width):
            return  # not laid out yet: the resize that lays it out comes back here
        self._opening = None
        above = "\n".join(shown.split("\n")[:max(line - ABOVE, 0)])  # lines wrap: count the rows they take
        self.scroll_to(y=Content(above).get_height(static.styles, width) if above else 0, animate=False,
                       immediate=True)

    def on_resize(self) -> None:
        self._open()

    @work(exclusive=True, group="tail")
    async def _watch(self, path: Path, stop: asyncio.Event) -> None:
        target = str(path)
        async for _ in changes([path.parent], lambda _change, changed: changed == target, stop):
            self.post_message(self.Grew())

    @on(Grew)
    def _grew(self) -> None:
        self.read_more()

    def _stop_watching(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    def on_unmount(self) -> None:
        self._stop_watching()
