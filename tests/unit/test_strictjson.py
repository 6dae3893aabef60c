"""Strict JSON: what plain json accepts but a hand-edited registry must not, located exactly."""

from __future__ import annotations

import pytest

from jobdeck.state.strictjson import MAX_DEPTH, StrictJSONError, locate, loads, nul_escape


def located(text: str) -> StrictJSONError:
    with pytest.raises(StrictJSONError) as caught:
        loads(text)
    return caught.value


def test_plain_json_loads() -> None:
    assert loads('{"a": [1, 2.5, "x", true, null], "b": {"c": -3}}') == {
        "a": [1, 2.5, "x", True, None], "b": {"c": -3}}


@pytest.mark.parametrize(("text", "line", "column", "message"), [
    ('{"a": 1,\n "a": 2}', 2, 2, "duplicate key 'a'"),
    ('{"x": {"a": 1, "b": {"k": 1, "k": 2}}}', 1, 30, "duplicate key 'k'"),
    ('[1,\n  NaN]', 2, 3, "NaN is not valid JSON"),
    ('{"v": -Infinity}', 1, 7, "-Infinity is not valid JSON"),
    ('[\n\n   1e999]', 3, 4, "number 1e999 is too large"),
    ("[" + "1" * 31 + "]", 1, 2, "has 31 digits, too large"),
    ("[" + "9" * 5000 + "]", 1, 2, "has 5000 digits"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), 1, MAX_DEPTH + 1, f"deeper than {MAX_DEPTH}"),
    ("[" * 100_000, 1, MAX_DEPTH + 1, f"deeper than {MAX_DEPTH}"),
    ('{"a": 1,}', 1, 9, "expected a key in double quotes"),
    ('[1, 2,\n]', 2, 1, "expected a value"),
    ('{"a" 1}', 1, 6, "expecting ':' delimiter"),
    ('{"a": "b\nc"}', 1, 9, "a string is not closed before the end of the line"),
    ('{"a": "b\tc"}', 1, 9, "raw control character"),
    ('{"a": 1} x', 1, 10, "unexpected text after the end"),
    ('{"a": [1, 2', 1, 12, "the file ends before the JSON does"),
    ('["\\ud800"]', 1, 3, "unpaired surrogate escape \\ud800"),
    ('[\n "ok", "\\udc00x"]', 2, 9, "unpaired surrogate escape \\udc00"),
])
def test_problems_are_located(text: str, line: int, column: int, message: str) -> None:
    error = located(text)
    assert message in error.message
    assert (error.line, error.column) == (line, column)


@pytest.mark.parametrize(("text", "hint"), [
    ('[\n {"id": "a", "command": ["echo", "a]},\n {"id": "b"}\n]', 'add its closing "'),
    ('{"id": "a", command": ["true"]}', 'its opening quote is missing: write "command"'),
    ('{"id": "a", command: ["true"]}', 'a key is written in double quotes: "command"'),
    ('{"shell": True}', "JSON writes true in lower case"),
    ('{"x": None}', "JSON writes null in lower case"),
    ("{'id': 'a'}", "JSON strings use double quotes"),
    ('{"id": \'a\'}', "JSON strings use double quotes"),
    ('{"id": \u201ca\u201d}', "JSON needs straight double quotes (\"), not \u201c"),
    ('{"id": a}', 'text is written in double quotes: "a"'),
    ('{"id": "a",}', "remove the trailing comma"),
    ('["a", ]', "remove the trailing comma"),
    ('{"id": "a",, "b": 1}', "two commas in a row"),
    ('[ // x\n {"id": "a"}]', 'JSON has no comments; use a "//" key instead'),
    ('{"id": "a",\n // owner: data team\n "command": ["true"]}', 'JSON has no comments; use a "//" key instead'),
    ('{"id": "a", /* owner */ "command": ["true"]}', 'JSON has no comments; use a "//" key instead'),
    ('[{"id": "a"} // trailing note\n]', 'JSON has no comments; use a "//" key instead'),
    ('[{"id": "a"} /* old */]', 'JSON has no comments; use a "//" key instead'),
    ('{"jobs": []} // trailing note', 'JSON has no comments; use a "//" key instead'),
    ('{"jobs": []}\n/* old */', 'JSON has no comments; use a "//" key instead'),
    ('{"id": "a", // x\n}', 'JSON has no comments; use a "//" key instead'),
    ('{"id" // x\n: "a"}', 'JSON has no comments; use a "//" key instead'),
])
def test_the_hint_names_the_mistake_a_hand_editor_made(text: str, hint: str) -> None:
    """A missing quote is not a trailing comma, and a Python literal is not "expected a value" alone."""
    assert hint in (located(text).hint or ""), located(text)


def test_hints_for_common_hand_editing_mistakes() -> None:
    assert "trailing comma" in located('{"a": [1,]}').hint
    assert "trailing comma" in located('{"a": 1,}').hint
    assert "comma is missing" in located('{"a": 1 "b": 2}').hint
    assert '"//" key' in located('{"a": // note\n 1}').hint
    assert "double quotes" in located("{'a': 1}").hint


def test_exactly_max_depth_is_allowed() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads('{"a": ' * (MAX_DEPTH - 2) + '{"b": [1]}' + "}" * (MAX_DEPTH - 2)) is not None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 990, 5000])
def test_the_depth_limit_does_not_depend_on_the_callers_stack(depth: int) -> None:
    """Python's parser gives up near its recursion limit, which varies with the call site;
    the limit here is the same for the CLI, the runner and the cockpit."""
    def nested(levels: int) -> str:
        return loads("[" * depth + "]" * depth) if levels == 0 else nested(levels - 1)

    for stack in (0, 400):
        with pytest.raises(StrictJSONError, match=f"deeper than {MAX_DEPTH}") as caught:
            nested(stack)
        assert (caught.value.line, caught.value.column) == (1, MAX_DEPTH + 1)


def test_a_paired_surrogate_and_an_escaped_backslash_are_fine() -> None:
    assert loads('["\\ud83d\\ude00"]') == ["\U0001F600"]
    assert loads('["\\\\ud800"]') == ["\\ud800"]


def test_surrogate_escaped_text_is_refused() -> None:
    """Text read with errors='surrogateescape' (a non-UTF-8 stdin) is not valid to write back."""
    error = located('{"a":\n "caf\udce9"}')
    assert (error.message, error.line, error.column) == ("not UTF-8 text", 2, 6)


def test_twenty_nine_digit_integers_are_fine() -> None:
    assert loads("[" + "9" * 30 + "]") == [int("9" * 30)]


@pytest.mark.parametrize(("path", "value", "key"), [
    ((), "{", None),
    (("jobs",), "[", '"jobs"'),
    (("jobs", 1), '{"id": "b"', None),
    (("jobs", 1, "command", 1), '"x\\u0000"', None),
    (("jobs", 0, "env", "K"), '"v"', '"K"'),
])
def test_locate_finds_the_value_and_its_key(path: tuple[str | int, ...], value: str, key: str | None) -> None:
    text = ('{"//": {"jobs": []},\n "jobs": [{"id": "a", "env": {"J": [1, {"K": 2}], "K": "v"}},\n'
            '   {"id": "b", "command": ["echo", "x\\u0000"]}]}')
    assert loads(text)  # locate reads documents loads accepted
    found = locate(text, path)
    assert found is not None
    assert text[found[0]:].startswith(value)
    assert (text[found[1]:].startswith(key) if key else found[1] is None)


@pytest.mark.parametrize("path", [("nope",), ("jobs", 2), ("jobs", "0"), ("jobs", 0, "id", 0), ("jobs", 0, "env", "k")])
def test_locate_says_none_for_a_path_not_in_the_document(path: tuple[str | int, ...]) -> None:
    assert locate('{"jobs": [{"id": "a", "env": {}}, []]}', path) is None


def test_nul_escape_finds_the_escape_not_an_escaped_backslash() -> None:
    text = '["\\\\u0000 then \\u0000", "\\\\u0000"]'
    assert loads(text) == ["\\u0000 then \x00", "\\u0000"]
    assert nul_escape(text, 1) == text.index(" then ") + len(" then ")
    assert nul_escape(text, text.index('", "') + 3) is None
