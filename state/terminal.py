"""Make text from jobs inert before it reaches a terminal: the cockpit's and the CLI's.

Agent output is untrusted: it may carry terminal control sequences (cursor
moves, title changes, OSC 52 clipboard writes, hyperlinks) and text that looks
like Rich/Textual markup. Output shown as text goes through ``inert`` (sequences
removed, as a terminal would not show them); a value printed within a line (an id,
a reason, a message) goes through ``one_line`` (line breaks become spaces, other
controls visible escapes). Neither is ever parsed as markup by the caller.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import IO

_SEQUENCE = re.compile(
    r"""
      \x1b\[[0-?]*[\ -/]*[@-~]            # CSI: colours, cursor moves, erase
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC: titles, clipboard, hyperlinks
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?       # DCS / SOS / PM / APC strings
    | \x1b[\ -/]*[0-~]                    # other escape sequences (charset, keypad...)
    | \x1b                                # a lone ESC (e.g. a sequence cut at a chunk end)
    | \x9b[0-?]*[\ -/]*[@-~]              # 8-bit CSI
    """,
    re.VERBOSE,
)
# C0 and C1 controls except tab and newline, DEL, and bidi overrides that can
# make text read differently from how it is stored.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def inert(text: str, *, tab_size: int = 4) -> str:
    """``text`` without control sequences; a bare carriage return redraws its line from the start, as a terminal
    does."""
    if text.isascii() and text.isprintable():  # the common case, checked in C
        return text
    text = _SEQUENCE.sub("", text)
    if "\r" in text:
        text = "\n".join(_overwrite(line) for line in text.replace("\r\n", "\n").split("\n"))
    return _CONTROL.sub("", text).expandtabs(tab_size)


def inert_line(text: str) -> str:
    """``inert(text)`` on one line: line breaks become spaces (a title, a flag: what a one-line cell shows)."""
    shown = inert(text)
    return " ".join(shown.splitlines()) if "\n" in shown else shown


def _overwrite(line: str) -> str:
    """What a terminal would show for a line redrawn with ``\\r``: each part written over the last from its
    first column, so a progress bar shows its last state and "secret\\rOVER" shows "OVERet", not "OVER"."""
    shown = ""
    for part in line.split("\r"):
        shown = part + shown[len(part):]
    return shown


def one_line(text: str) -> str:
    """``text`` safe within one line: line breaks become spaces, other controls visible escapes (``\\x1b``)."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else " " if ch in "\n\r\t" else f"\\x{ord(ch):02x}" if ord(ch) < 256
        else f"\\u{ord(ch):04x}"
        for ch in text
    )


def exit_words(code: int | None) -> str:
    """An exit code as people say it: ``0``, ``1``, ``killed by SIGTERM`` (a negative code is the signal)."""
    if code is None:
        return ""
    if code >= 0:
        return str(code)
    import signal

    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


CHUNK = 1 << 16
HELD_LINE = 1 << 16
"""The longest line held back to be made inert whole (a longer one is cut)."""


class Copier:
    """Copies output to ``out`` chunk by chunk, made inert when ``clean`` (a terminal: `jobdeck logs`, the pager)."""

    def __init__(self, out: IO[bytes], *, clean: bool) -> None:
        self.out = out
        self.clean = clean
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.held = ""

    def from_file(self, path: Path, offset: int) -> int:
        """Copy what ``path`` holds past ``offset``; the new offset."""
        try:
            with open(path, "rb") as source:
                source.seek(offset)
                while chunk := source.read(CHUNK):
                    self.write(chunk)
                    offset += len(chunk)
        except FileNotFoundError:
            pass
        self.out.flush()
        return offset

    def write(self, chunk: bytes) -> None:
        if not self.clean:
            self.out.write(chunk)
            return
        text = self.held + self.decoder.decode(chunk)
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) > HELD_LINE:
            cut = len(text)
        self.held = text[cut:]
        if cut:
            self.out.write(inert(text[:cut]).encode())

    def finish(self) -> None:
        """Write what is held back; on a terminal, end with a newline so the prompt starts a line of its own."""
        if self.clean:
            rest = self.held + self.decoder.decode(b"", final=True)
            self.held = ""
            if rest:
                self.out.write(inert(rest).encode() + b"\n")
        self.out.flush()
