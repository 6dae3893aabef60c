"""A long-running reader keeps the last good spec: a bad save never empties the board."""

from __future__ import annotations

import pytest

from conftest import TWO_JOBS
from jobdeck.state.deck import Deck
from jobdeck.state.loader import SpecSource


@pytest.mark.parametrize(("bad", "message"), [
    (b"", "the file is empty"),
    (b'{"jobs": [\n  {"id": "hello", "command": ["echo", "hi"]},\n  {"id": "wor', "unterminated string"),
    (b'{"agents": {}}', "no 'jobs' list"),
    (b'{"jobs": [{"id": "hello", "command": ["echo"], "depends_on": ["hello"]}]}', "cannot depend on itself"),
    (None, "file not found"),
])
def test_bad_save_keeps_the_last_good_spec_and_reports_why(deck: Deck, bad: bytes | None, message: str) -> None:
    source = SpecSource(deck.spec_path)
    assert source.refresh() is True
    good = source.current
    assert good is not None and [j.id for j in good.spec.jobs] == ["hello", "world"]
    assert source.refresh() is False  # unchanged file: nothing to do

    if bad is None:
        deck.spec_path.unlink()
    else:
        deck.spec_path.write_bytes(bad)
    assert source.refresh() is True
    assert source.current is good
    assert source.error is not None and message in str(source.error)
    assert str(deck.spec_path) in str(source.error)

    deck.spec_path.write_bytes(TWO_JOBS.replace(b'"world"]', b'"world", "again"]'))
    assert source.refresh() is True
    assert source.error is None
    assert source.current is not good
    assert source.current.spec.job("world").command == ["echo", "world", "again"]


def test_first_read_of_a_bad_file_has_no_spec_and_an_error(deck: Deck) -> None:
    deck.spec_path.write_bytes(b"{")
    source = SpecSource(deck.spec_path)
    source.refresh()
    assert source.current is None
    assert source.error is not None and "the file ends before the JSON does" in str(source.error)
