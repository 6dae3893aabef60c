"""Where in an output its failed validation points: the line the review pane opens at.

A validation reason names a place: a JSON path ("at $.signals[1].strength: 'very
high' is not one of ...", agents/validation.py) or a line ("output is not valid
JSON: Expecting ',' delimiter (line 12, column 5)"). The review pane opens there
rather than at the end of the output, which is past it. No Textual here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from json.decoder import scanstring

_AT_PATH = re.compile(r"^at (?P<path>\$\S*): ")
_AT_LINE = re.compile(r"^output is not valid JSON: .*\(line (?P<line>\d+), column \d+\)$")
_PART = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+)\]")
_FENCE = re.compile(r"\A\s*```[A-Za-z0-9_-]*[ \t]*\r?\n")
_DECODER = json.JSONDecoder()


def failed_line(output: str, reasons: Sequence[str]) -> int | None:
    """The line of ``output`` (0: the first) that the first placeable reason points at; None if none does."""
    fence = _FENCE.match(output)
    body_start = fence.end() if fence else 0  # (the validator reads the JSON inside one wrapping fence)
    for reason in reasons:
        offset: int | None = None
        if match := _AT_PATH.match(reason):
            offset = json_offset(output, match["path"], body_start)
        elif match := _AT_LINE.match(reason):
            return output.count("\n", 0, body_start) + int(match["line"]) - 1
        if offset is not None:
            return output.count("\n", 0, offset)
    return None


def json_offset(text: str, path: str, start: int = 0) -> int | None:
    """Where the JSON document at ``text[start:]`` has the value at ``path`` ("$.signals[1].strength"): the offset
    of its key in its object, or of the value in its array; None if the path is not there (or the text is not
    JSON up to it)."""
    parts = [m["key"] if m["key"] is not None else int(m["index"]) for m in _PART.finditer(path)]
    if "".join(m[0] for m in _PART.finditer(path)) != path[1:]:
        return None
    position, found = _space(text, start), start
    try:
        for part in parts:
            if isinstance(part, int):
                position, found = _item(text, position, part)
            else:
                position, found = _member(text, position, part)
    except (IndexError, ValueError, _NotThere):
        return None
    return found if parts else position


class _NotThere(Exception):
    """The path leaves the document."""


def _item(text: str, position: int, index: int) -> tuple[int, int]:
    """The value of item ``index`` of the array at ``position``: where it starts, twice (an item has no key)."""
    if text[position] != "[":
        raise _NotThere
    position = _space(text, position + 1)
    for _ in range(index):
        position = _space(text, _DECODER.raw_decode(text, position)[1])
        if text[position] != ",":
            raise _NotThere
        position = _space(text, position + 1)
    if text[position] == "]":
        raise _NotThere
    return position, position


def _member(text: str, position: int, name: str) -> tuple[int, int]:
    """The value of member ``name`` of the object at ``position``: (where the value starts, where its key does)."""
    if text[position] != "{":
        raise _NotThere
    position = _space(text, position + 1)
    while text[position] == '"':
        key_at = position
        key, position = scanstring(text, position + 1)
        position = _space(text, position)
        if text[position] != ":":
            raise _NotThere
        position = _space(text, position + 1)
        if key == name:
            return position, key_at
        position = _space(text, _DECODER.raw_decode(text, position)[1])
        if text[position] != ",":
            raise _NotThere
        position = _space(text, position + 1)
    raise _NotThere


def _space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
