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


def test_a_chain_read_after_archiving_says_that_older_events_are_missing(tmp_path: Path) -> None:
    """Closed segments moved out of .jobdeck/log (as docs/RELIABILITY.md says archiving is done): the detail
    screen draws what remains, under a line saying from which seq on it is whole."""
    import shutil

    from rich.console import Console

    from jobdeck.cockpit.job_details import chain_lines

    deck = new_deck(tmp_path / "deck", [{"id": "a", "command": ["true"]}])
    commit(deck, [{"type": "paused", "job": "a", "by": "op"}, {"type": "resumed", "job": "a", "by": "op"}], NOW)
    with open_store(deck) as store:
        store.rotate()
    commit(deck, [{"type": "paused", "job": "a", "by": "op"}], NOW + 1)
    model = DeckModel(deck, lambda: NOW + 2)
    model.load()
    model.chain("a")
    assert model.archived_before("a") is None  # nothing archived yet: no line
    model.close()
    with open_store(deck) as store:
        store.write_snapshot()  # as any runner or long replay leaves it: the state folded up to seq 4

    archive = tmp_path / "archive"
    archive.mkdir()
    for segment in (deck.state_dir / "log").iterdir():
        shutil.move(segment, archive / segment.name)
    model = DeckModel(deck, lambda: NOW + 2)
    model.load()
    records = model.chain("a")
    assert [(r["seq"], r["type"]) for r in records] == [(4, "paused")]
    console = Console(width=80, record=True)
    console.print(chain_lines(records, "a", model.archived_before("a")))
    lines = console.export_text().splitlines()
    assert lines[0] == "… events before seq 3 were archived out of .jobdeck/log"
    assert lines[1].split()[:1] == ["4"] and len(lines) == 2
    model.close()
