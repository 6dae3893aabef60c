"""Reading the log in one batch must give exactly what reading it line by line gives."""

from __future__ import annotations

import json

from jobdeck.state.events import _parse, _parse_lines

GOOD = [json.dumps({"seq": n, "type": "note", "text": f"n{n}"}).encode() for n in range(5)]


def test_a_clean_batch_is_read_whole() -> None:
    assert _parse_lines(GOOD) == [json.loads(line) for line in GOOD]


def test_a_bad_line_is_skipped_alone_not_with_its_batch() -> None:
    lines = [GOOD[0], b'{"seq": 9, "type": "no', GOOD[1], b"", b"[1, 2]", b'{"seq": 3}', GOOD[2]]
    assert _parse_lines(lines) == [_parse(line) for line in lines]
    assert [r["text"] if r else None for r in _parse_lines(lines)] == ["n0", None, "n1", None, None, None, "n2"]


def test_a_line_holding_two_records_is_not_split_into_them() -> None:
    """Joined with commas, '{..},{..}' would parse as two records: the count check must refuse it."""
    two_in_one = GOOD[3] + b"," + GOOD[4]
    lines = [GOOD[0], two_in_one, GOOD[1]]
    assert _parse_lines(lines) == [json.loads(GOOD[0]), None, json.loads(GOOD[1])]
