"""A toast's text broken into lines the toast can hold, a path at its separators, a long name after a ``-``.

Textual wraps a toast at spaces and folds a word longer than a line wherever the
line ends, so a path (an output file, a deck directory, the copy an edit is kept
in) would break in the middle of a name, and a long job id in the middle of a
word. Where a word is longer than a line, the cockpit breaks the lines itself
before Textual sees them; a line that fits is left whole. No Textual here.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

TOAST_WIDTH = 60
"""Cells of Textual's toast (``Toast { width: 60; max-width: 50% }``), at most half the width its rack lays out."""
RACK_GUTTER = 2
"""Cells the toast rack keeps for its vertical scrollbar (``overflow-y: scroll``)."""
TOAST_FRAME = 3
"""Cells of a toast that hold no text: its left border and one of padding on either side."""

_AFTER_SEPARATOR = re.compile(r"(?<=/)")
_NAME_SEPARATORS = "-_."
"""Where a name longer than a line breaks before it is cut (a job id, a file name)."""


def toast_text_width(screen_width: int) -> int:
    """Cells of text per line in a toast on a screen ``screen_width`` cells wide (tests/functional checks it)."""
    return max(min(TOAST_WIDTH, (screen_width - RACK_GUTTER) // 2) - TOAST_FRAME, 1)


def fit_toast(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` cells: at spaces, and a word longer than a line (a path)
    after a ``/``, a name longer than a line (a job id) after a ``-``, ``_`` or ``.``; only a piece with none of them
    that fits is cut where the line ends. Text whose every word fits a line is returned as it is: Textual breaks
    it at the same spaces."""
    if all(cell_len(word) <= width for word in text.split()):
        return text
    return "\n".join(line for paragraph in text.split("\n") for line in _fit_line(paragraph, width))


def _fit_line(paragraph: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in paragraph.split(" "):
        joined = f"{line} {word}" if line else word
        if cell_len(joined) <= width:
            line = joined
            continue
        if cell_len(word) <= width:  # it fits a line of its own
            lines.append(line)
            line = word
            continue
        pieces = [piece for piece in _AFTER_SEPARATOR.split(word) if piece]
        line = f"{line} " if line else ""  # a long word starts where the line is, as Textual's own fold does
        for piece in pieces:
            if cell_len(line + piece) > width and line.strip():
                lines.append(line.rstrip(" "))
                line = ""
            while cell_len(line + piece) > width:  # a name longer than a whole line: after a - _ or ., else cut
                room = _breaking(piece, _fitting(piece, width - cell_len(line)))
                lines.append(line + piece[:room])
                line, piece = "", piece[room:]
            line += piece
    lines.append(line)
    return lines


def _breaking(name: str, room: int) -> int:
    """Where to break ``name`` within its first ``room`` characters: after the last ``-``, ``_`` or ``.`` there
    (not one that starts it: ``.config``), else at ``room``."""
    after = max(name.rfind(separator, 1, room) for separator in _NAME_SEPARATORS)
    return after + 1 if after > 0 else room


def _fitting(text: str, cells: int) -> int:
    """How many characters from the start of ``text`` fit ``cells`` cells (at least one)."""
    count = 0
    while count < len(text) and cell_len(text[:count + 1]) <= cells:
        count += 1
    return max(count, 1)
