"""Where a failed validation points in an output (cockpit/output_place.py)."""

from __future__ import annotations

import json

from jobdeck.cockpit.output_place import failed_line, json_offset

SIGNALS = json.dumps({"signals": [{"domain": "a.example", "strength": "high"},
                                  {"domain": "b.example", "strength": "very high"}]}, indent=2)


def line_of(text: str, n: int | None) -> str | None:
    return None if n is None else text.split("\n")[n]


def test_a_json_path_points_at_its_key() -> None:
    reasons = ["at $.signals[1].strength: 'very high' is not one of ['low', 'medium', 'high']"]
    assert line_of(SIGNALS, failed_line(SIGNALS, reasons)).strip() == '"strength": "very high"'


def test_an_array_item_points_at_its_value_and_a_fence_is_counted() -> None:
    fenced = "```json\n" + SIGNALS + "\n```\n"
    assert line_of(fenced, failed_line(fenced, ["at $.signals[1]: bad"])).strip() == "{"
    assert failed_line(fenced, ["at $.signals[1]: bad"]) == failed_line(SIGNALS, ["at $.signals[1]: bad"]) + 1


def test_a_json_syntax_error_points_at_its_line() -> None:
    broken = '{\n  "a": 1\n  "b": 2\n}'
    assert failed_line(broken, ["output is not valid JSON: Expecting ',' delimiter (line 3, column 3)"]) == 2


def test_a_reason_with_no_place_or_a_path_not_there_points_nowhere() -> None:
    assert failed_line(SIGNALS, ["missing required field 'rows'", "at $.signals[5].strength: x"]) is None
    assert json_offset("not json", "$.a") is None and json_offset('{"a": [1]}', "$") == 0
