"""Make agent output inert before it reaches the screen.

Agent output is untrusted: it may carry terminal control sequences (cursor
moves, title changes, OSC 52 clipboard writes, hyperlinks) and text that looks
like Rich/Textual markup. Everything shown in the cockpit goes through
``inert`` and is then wrapped in ``rich.text.Text`` so it is never parsed.
"""

from __future__ import annotations

import re

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
    """``text`` without control sequences; a bare carriage return keeps only what follows it."""
    if text.isascii() and text.isprintable():  # the common case, checked in C
        return text
    text = _SEQUENCE.sub("", text)
    if "\r" in text:
        text = "\n".join(_overwrite(line) for line in text.replace("\r\n", "\n").split("\n"))
    return _CONTROL.sub("", text).expandtabs(tab_size)


def _overwrite(line: str) -> str:
    """What a terminal would show for a line redrawn with ``\\r`` (progress bars)."""
    parts = [part for part in line.split("\r") if part]
    return parts[-1] if parts else ""
