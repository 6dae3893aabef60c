"""A toast's text broken into lines the toast can hold, a path at its separators, never inside a name.

Textual wraps a toast at spaces and folds a word longer than a line wherever the
line ends, so a path (an output file, a deck directory, the copy an edit is kept
in) would break in the middle of a name. Where a word is longer than a line, the
cockpit breaks the lines itself before Textual sees them; a line that fits is
left whole. No Textual here.
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


def toast_text_width(screen_width: int) -> int:
    """Cells of text per line in a toast on a screen ``screen_width`` cells wide (tests/functional checks it)."""
    return max(min(TOAST_WIDTH, (screen_width - RACK_GUTTER) // 2) - TOAST_FRAME, 1)


def fit_toast(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` cells: at spaces, and a word longer than a line (a path)
    after a ``/``; only a piece with no separator that fits is cut where the line ends. Text whose every word fits
    a line is returned as it is: Textual breaks it at the same spaces."""
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
            while cell_len(line + piece) > width:  # a name longer than a whole line: cut, there is no choice
                room = _fitting(piece, width - cell_len(line))
                lines.append(line + piece[:room])
                line, piece = "", piece[room:]
            line += piece
    lines.append(line)
    return lines


def _fitting(text: str, cells: int) -> int:
    """How many characters from the start of ``text`` fit ``cells`` cells (at least one)."""
    count = 0
    while count < len(text) and cell_len(text[:count + 1]) <= cells:
        count += 1
    return max(count, 1)
