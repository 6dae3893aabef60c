"""Strict JSON for hand-edited files: one error with line:column, never a traceback.

The fast path is the C parser with hooks that refuse what plain JSON allows but a
registry must not (duplicate keys, NaN/Infinity, huge numbers). When a hook fires,
or nesting is too deep, a small position-tracking scanner re-reads the text to
say exactly where the problem is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NoReturn

MAX_DEPTH = 64
MAX_INT_DIGITS = 30


class StrictJSONError(ValueError):
    """A JSON problem at a 1-based line and column."""

    def __init__(self, message: str, line: int, column: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column, self.hint = message, line, column, hint


class _Refused(Exception):
    """Raised from a parser hook; the scanner then finds where."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Refused
    return obj


def _constant(name: str) -> Any:
    raise _Refused


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused
    return value


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, column


def loads(text: str) -> Any:
    """Parse ``text`` as strict JSON or raise StrictJSONError with a position."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # text decoded with errors="surrogateescape"
            line, column = _line_col(text, exc.start)
            raise StrictJSONError("not UTF-8 text", line, column, "save the file as UTF-8") from None
    value = _loads(text)
    if _deeper_than(value, MAX_DEPTH):
        # The C parser's own limit depends on the caller's stack depth; apply ours always.
        _raise_located(text)
    if "\\u" in text and _LONE_SURROGATE.search(text) and _has_surrogate(value):
        _raise_surrogate(text)
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below = []
        for item in level:
            if type(item) is dict or type(item) is list:
                for child in item.values() if type(item) is dict else item:
                    if type(child) is dict or type(child) is list:
                        below.append(child)
        level = below
    return False


def _raise_located(text: str) -> NoReturn:
    problem = _Scanner(text).find_problem()
    if problem is None:  # pragma: no cover - the hooks and scanner agree
        raise StrictJSONError("invalid JSON", 1, 1)
    message, pos, hint = problem
    line, column = _line_col(text, pos)
    raise StrictJSONError(message, line, column, hint)


def _loads(text: str) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=_constant,
            parse_int=_int,
            parse_float=_float,
        )
    except json.JSONDecodeError as exc:
        if exc.msg.startswith("Expecting") and not text[exc.pos:].strip() and text.strip():
            raise StrictJSONError("the file ends before the JSON does", exc.lineno, exc.colno,
                                  "a bracket or brace is not closed, or the file was cut off mid-save") from None
        if exc.msg == "Invalid control character at" and text[exc.pos] in "\r\n":
            raise StrictJSONError("a string is not closed before the end of the line", exc.lineno, exc.colno,
                                  'add its closing "; a line break inside a string is written \\n') from None
        raise StrictJSONError(_explain(exc.msg), exc.lineno, exc.colno, _hint(text, exc)) from None
    except (_Refused, RecursionError, ValueError):
        # ValueError: int() beyond Python's digit limit. Locate the culprit.
        pass
    _raise_located(text)


# A \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one, or the reverse: valid JSON
# syntax, but the string cannot be written as UTF-8 (to a file, an argv, an environment).
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _raise_surrogate(text: str) -> NoReturn:
    line, column, escape = 1, 1, "\\uD800"
    for match in _LONE_SURROGATE.finditer(text):
        before = text[: match.start()]
        if (len(before) - len(before.rstrip("\\"))) % 2 == 0:  # not an escaped backslash + 'u'
            line, column = _line_col(text, match.start())
            escape = match.group(0)
            break
    raise StrictJSONError(
        f"unpaired surrogate escape {escape} in a string", line, column,
        "a \\uD800-\\uDFFF escape must be half of a pair; write the character itself",
    )


def _explain(msg: str) -> str:
    return {
        "Expecting value": "expected a value (string, number, object, array, true, false or null)",
        "Expecting property name enclosed in double quotes": "expected a key in double quotes",
        "Extra data": "unexpected text after the end of the JSON document",
        "Unterminated string starting at": "unterminated string",
        "Invalid control character at": "raw control character in a string (write it as \\n, \\t...)",
    }.get(msg, msg[0].lower() + msg[1:] if msg else "invalid JSON")


_COMMENT = re.compile(r"[ \t\r\n]*/[/*]")
_COMMENT_HINT = "JSON has no comments; use a \"//\" key instead"
_TYPOGRAPHIC_QUOTES = "\u201c\u201d\u201e\u2018\u2019\u00ab\u00bb"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_CAPITALISED = {"True": "true", "False": "false", "None": "null", "TRUE": "true", "FALSE": "false",
                "NULL": "null", "Null": "null"}


def _hint(text: str, exc: json.JSONDecodeError) -> str | None:
    before, here = text[: exc.pos].rstrip(), text[exc.pos: exc.pos + 2]
    word = _WORD.match(text, exc.pos)
    key = exc.msg.startswith("Expecting property name")
    if _COMMENT.match(text, exc.pos):  # whatever the parser expected there: a comment is what a person wrote
        return _COMMENT_HINT
    if (key or exc.msg == "Expecting value") and before.endswith(",") and here[:1] in "}]":
        return "remove the trailing comma; JSON does not allow one"
    if (key or exc.msg == "Expecting value") and here[:1] == ",":
        return "two commas in a row: remove one"
    if exc.msg == "Expecting value" and not text.strip():
        return "the file is empty; a deck needs at least {\"jobs\": []}"
    if exc.msg.startswith("Expecting ',' delimiter"):
        return "a comma is missing between two items, or a bracket is not closed"
    if here[:1] in _TYPOGRAPHIC_QUOTES:
        return f"JSON needs straight double quotes (\"), not {here[:1]}"
    if here[:1] == "'":
        return "JSON strings use double quotes"
    if word is not None and word.group() in _CAPITALISED and not key:
        return f"JSON writes {_CAPITALISED[word.group()]} in lower case"
    if word is not None and key:
        closed = text[word.end(): word.end() + 1] == '"'
        return (f"its opening quote is missing: write \"{word.group()}\"" if closed
                else f"a key is written in double quotes: \"{word.group()}\"")
    if word is not None:
        return f"text is written in double quotes: \"{word.group()}\""
    return None


class _Scanner:
    """An iterative JSON scanner that reports the first refused construct's position.

    Only run after the C parser refused the text through a hook, so the syntax is
    known to be otherwise valid up to the problem.
    """

    _WS = " \t\n\r"

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in self._WS:
            pos += 1
        self.pos = pos

    def _string(self) -> str:
        end = self.pos + 1
        text = self.text
        while True:
            ch = text[end]
            if ch == "\\":
                end += 2
            elif ch == '"':
                break
            else:
                end += 1
        raw = text[self.pos: end + 1]
        self.pos = end + 1
        return json.loads(raw)

    def find_problem(self) -> tuple[str, int, str | None] | None:
        # Each frame: ("obj", keys_seen) or ("arr", None)
        stack: list[tuple[str, set[str] | None]] = []
        text = self.text
        expect_key = False
        while True:
            self._skip_ws()
            if self.pos >= len(text):
                return None
            ch = text[self.pos]
            if expect_key:
                expect_key = False
                if ch == "}":
                    stack.pop()
                    self.pos += 1
                    continue
                key_pos = self.pos
                key = self._string()
                keys = stack[-1][1]
                assert keys is not None
                if key in keys:
                    return (f"duplicate key '{key}'", key_pos,
                            "each key may appear once per object; remove or rename one")
                keys.add(key)
                self._skip_ws()
                self.pos += 1  # ':'
                continue
            if ch in "{[":
                if len(stack) >= MAX_DEPTH:
                    return (f"nesting deeper than {MAX_DEPTH} levels", self.pos,
                            "jobs.json never needs this depth; is the file generated wrongly?")
                stack.append(("obj", set()) if ch == "{" else ("arr", None))
                self.pos += 1
                expect_key = ch == "{"
                if ch == "[":
                    self._skip_ws()
                    if text[self.pos] == "]":
                        stack.pop()
                        self.pos += 1
                continue
            if ch in "]}":
                stack.pop()
                self.pos += 1
                continue
            if ch == ",":
                self.pos += 1
                expect_key = bool(stack) and stack[-1][0] == "obj"
                continue
            if ch == '"':
                self._string()
                continue
            start = self.pos
            while self.pos < len(text) and text[self.pos] not in self._WS + ",]}":
                self.pos += 1
            token = text[start: self.pos]
            if token in ("NaN", "Infinity", "-Infinity"):
                return (f"{token} is not valid JSON", start, "use null or a number")
            if token not in ("true", "false", "null"):
                if any(c in token for c in ".eE"):
                    if float(token) in (float("inf"), float("-inf")):
                        return (f"number {token[:20]} is too large", start, None)
                elif len(token.lstrip("-")) > MAX_INT_DIGITS:
                    return (f"number {token[:20]}... has {len(token)} digits, too large", start,
                            f"integers are limited to {MAX_INT_DIGITS} digits")


_DECODER = json.JSONDecoder()


def locate(text: str, path: Sequence[str | int]) -> tuple[int, int | None] | None:
    """Where the value at ``path`` (object keys and list indexes) is in ``text``, a document ``loads`` accepted.

    Returns the offset of the value and, when the last step of ``path`` is a key, the offset of that key
    (None for a list item or the whole document); None when ``path`` is not in the document. Only for
    pointing at a problem: it reads ``text`` again, skipping the values before each step.
    """
    pos, key_at = _space(text, 0), None
    for step in path:
        opener = text[pos: pos + 1]
        if opener == "{" and isinstance(step, str):
            pos = _space(text, pos + 1)
            while text[pos] == '"':
                key_at = pos
                key, pos = json.decoder.scanstring(text, pos + 1)
                pos = _space(text, _space(text, pos) + 1)  # past the ':'
                if key == step:
                    break
                pos = _past(text, pos)
            else:
                return None
        elif opener == "[" and isinstance(step, int) and not isinstance(step, bool):
            pos = _space(text, pos + 1)
            for _ in range(step):
                if text[pos] == "]":
                    return None
                pos = _past(text, pos)
            if text[pos] == "]":
                return None
            key_at = None
        else:
            return None
    return pos, key_at


def _past(text: str, pos: int) -> int:
    """The offset of what follows the value at ``pos`` in its object or list: the next item, or the closing bracket."""
    pos = _space(text, _DECODER.raw_decode(text, pos)[1])
    return _space(text, pos + 1) if text[pos] == "," else pos


def _space(text: str, pos: int) -> int:
    """The offset of the first character at or after ``pos`` that is not JSON whitespace."""
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos


def nul_escape(text: str, pos: int) -> int | None:
    """The offset of the first ``\\u0000`` escape in the string literal at ``pos``: JSON text holds a NUL no other way
    (``loads`` refuses raw control characters); None if it has none."""
    end = pos + 1
    while text[end] != '"':
        if text[end] == "\\":
            if text.startswith("u0000", end + 1):
                return end
            end += 2
        else:
            end += 1
    return None


def json_string(value: str) -> str:
    """``value`` as a JSON string literal, the way it appears in a file."""
    return json.dumps(value, ensure_ascii=False)
