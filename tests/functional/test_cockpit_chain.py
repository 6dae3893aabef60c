"""The detail screen's chain of work: read from every segment, compressed ones too, then kept live."""

from __future__ import annotations

from pathlib import Path

from cockpit_decks import NOW, commit, new_deck
from jobdeck.cockpit.model import DeckModel
from jobdeck.state.board import open_store


def test_a_jobs_chain_spans_compressed_segments_and_takes_each_later_record_once(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck", [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"]}])
    commit(deck, [{"type": "paused", "job": "a", "by": "op"}, {"type": "paused", "job": "b", "by": "op"}], NOW)
    with open_store(deck) as store:
        store.rotate(compress_closed=True)  # the first two records now only in a .gz segment
    commit(deck, [{"type": "resumed", "job": "a", "by": "op"}], NOW + 1)
    assert list((deck.state_dir / "log").glob("*.gz"))

    model = DeckModel(deck, lambda: NOW + 2)
    model.load()
    assert [(r["seq"], r["type"]) for r in model.chain("a")] == [(1, "paused"), (4, "resumed")]  # (seq 3: the new segment's first record)
    commit(deck, [{"type": "paused", "job": "a", "by": "op"}], NOW + 3)
    model.refresh()
    assert [(r["seq"], r["type"]) for r in model.chain("a")] == [(1, "paused"), (4, "resumed"), (5, "paused")]
    model.close()


def test_the_detail_screen_draws_the_newest_records_and_says_how_many_older_there_are() -> None:
    from rich.console import Console

    from jobdeck.cockpit.job_details import CHAIN_SHOWN, chain_lines

    records = [{"seq": n, "ts": NOW + n, "type": "progress", "job": "a", "n": n} for n in range(1, CHAIN_SHOWN + 51)]
    console = Console(width=200, record=True)
    console.print(chain_lines(records, "a"))
    lines = console.export_text().splitlines()
    assert lines[0] == "… 50 older events: jobdeck events a"
    assert len(lines) == CHAIN_SHOWN + 1 and lines[1].split()[0] == "51" and lines[-1].split()[0] == str(CHAIN_SHOWN + 50)
