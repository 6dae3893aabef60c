"""board.json keeps the format every jobdeck since format 4 reads, but while an attempt carries a pin: an upgrade, or
two versions on one deck, must not make every command fold the log again (on a deck whose old segments are
archived, a fold from the start cannot be done at all)."""

from __future__ import annotations

import json
from pathlib import Path

from jobdeck.state.board import SNAPSHOT_FORMAT, SNAPSHOT_READ, open_store, read_snapshot_file
from jobdeck.state.deck import init_deck

JOBS = {"jobs": [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"]}]}


def test_a_board_with_no_pinned_attempt_under_way_is_written_in_the_older_format_and_both_are_read(
        tmp_path: Path) -> None:
    deck = init_deck(tmp_path / "deck", json.dumps(JOBS).encode())
    with open_store(deck) as store:
        store.commit([{"type": "pinned", "job": "a", "by": "op"}])
        store.commit([{"type": "claimed", "job": "b", "attempt": 1, "runner": "r"}])
        assert store.snapshot()["format"] == 4, "a pin waiting for its claim is the job's, not an attempt's"
        store.commit([{"type": "claimed", "job": "a", "attempt": 1, "runner": "r"}])
        with_pin = store.snapshot()
        assert with_pin["format"] == SNAPSHOT_FORMAT == 5 and with_pin["states"]["a"]["attempts"][-1]["pin"]
        token = store.board.state("a").token
        store.commit([{"type": "succeeded", "job": "a", "token": token}])
        after = store.snapshot()
        assert after["format"] == 4 and "pin" not in after["states"]["a"]["attempts"][-1]
        deck.board_path.write_text(json.dumps(after))
        assert read_snapshot_file(deck.board_path) is not None
        deck.board_path.write_text(json.dumps(with_pin))
        assert read_snapshot_file(deck.board_path) is not None
        deck.board_path.write_text(json.dumps({**after, "format": min(SNAPSHOT_READ) - 1}))
        assert read_snapshot_file(deck.board_path) is None
    deck.board_path.write_text(json.dumps(after))
    with open_store(deck) as resumed:
        assert resumed.resumed_at == after["events"]["seq"], "a format-4 board.json is resumed from, not refolded"
