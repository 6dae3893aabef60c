"""Closed segments archived as docs/RELIABILITY.md says (moved out of .jobdeck/log/, oldest first): what
remains is checked with `--from`/`--segment`, and a reader that needs the whole log says what is missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from jobdeck.state.board import Store
from jobdeck.state.deck import Deck
from tests.functional.runner_kit import jobdeck


def _archived(deck: Deck, tmp_path: Path) -> None:
    """Seq 1-35 closed as a segment and moved out of the deck; the live file holds seq 36 (its segment
    record) and 37."""
    with Store(deck) as store:
        for n in range(35):
            store.commit([{"type": "note", "text": f"a-{n:03d}"}])
    jobdeck(deck.root, "log", "rotate", check=True)
    jobdeck(deck.root, "pause", "hello", check=True)
    archive = tmp_path / "archive"
    archive.mkdir()
    for segment in (deck.state_dir / "log").iterdir():
        shutil.move(segment, archive / segment.name)


def test_what_remains_after_archiving_verifies_from_a_later_seq_on(deck: Deck, tmp_path: Path) -> None:
    _archived(deck, tmp_path)
    for args in (["--from", "37"], ["--from", "36"], ["--segment", "36"]):
        done = jobdeck(deck.root, "audit", "verify", *args)
        assert done.returncode == 0, (args, done.stderr)
        assert done.stdout.splitlines() == ["chain of work verified: 2 records, no breaks; head seq 37 hash "
                                            + json.loads(deck.events_path.read_text().splitlines()[-1])["hash"],
                                            "segments checked: events.jsonl (seq 36-37)"], args

    whole = jobdeck(deck.root, "audit", "verify")  # from seq 1: the archived records are missing
    assert whole.returncode == 1 and "Traceback" not in whole.stderr
    assert whole.stderr.splitlines() == [
        "chain of work BROKEN at line 1 (seq 36) of events.jsonl: the segments before seq 36 are not in "
        ".jobdeck/log (a segment is missing: archived or removed?); `audit verify --from 36` checks the rest",
        "0 records before it verified; segments checked: events.jsonl (broken at line 1)"]


def test_a_range_from_seq_1_still_checks_the_first_records_link(deck: Deck) -> None:
    """`--segment 1` (and `--from` within it) is a check from the log's start: its first record must link to
    nothing before it."""
    with Store(deck) as store:
        store.commit([{"type": "note", "text": "a"}])
    jobdeck(deck.root, "log", "rotate", check=True)
    segment = deck.state_dir / "log" / "events-000000000001.jsonl"
    record = json.loads(segment.read_text())
    record["prev"] = "f" * 32  # links to a record that was never there; its own hash recomputed to match
    from jobdeck.state.events import encode, record_hash

    record["hash"] = record_hash(record["prev"], {k: v for k, v in record.items() if k != "hash"})
    segment.write_bytes(encode(record))
    for args in (["--segment", "1"], ["--from", "1"]):
        done = jobdeck(deck.root, "audit", "verify", "--json", *args)
        broken = json.loads(done.stdout)["break"]
        assert done.returncode == 1 and (broken["file"], broken["line"], broken["seq"]) == (segment.name, 1, 1), args


def test_a_reader_that_needs_the_archived_segments_says_which_are_missing_and_reads_once_they_are_back(
        deck: Deck, tmp_path: Path) -> None:
    """`stats` and `events` read the log from seq 1 (so does any reader without board.json): after archiving
    they exit 2 naming what is missing and where, not "events.jsonl was moved or replaced ... logrotate"."""
    _archived(deck, tmp_path)
    assert jobdeck(deck.root, "ls").returncode == 0  # board.json stands in the live file: nothing older needed
    log = deck.state_dir / "log"
    expected = (f"jobdeck: the chain of work before seq 36 is not in {log} (segments archived or removed?) "
                f"(hint: put those segments back there to read it; `jobdeck audit verify --from 36` checks what "
                "remains)")
    deck.board_path.unlink()
    assert jobdeck(deck.root, "ls").returncode == 0  # from the checkpoint the rotation left: nothing older needed
    shutil.rmtree(deck.state_dir / "checkpoints")
    (deck.state_dir / "cards.jsonl").unlink()  # the cards that `ls` saved would answer it
    for command in (["stats"], ["events"], ["ls"]):
        done = jobdeck(deck.root, *command)
        assert (done.returncode, done.stderr.splitlines()) == (2, [expected]), command

    for segment in (tmp_path / "archive").iterdir():
        shutil.move(segment, log / segment.name)
    events = jobdeck(deck.root, "events", "--json", check=True).stdout.splitlines()
    assert [json.loads(line)["seq"] for line in events] == list(range(1, 38))
    assert json.loads(jobdeck(deck.root, "stats", "--json", check=True).stdout)
    assert jobdeck(deck.root, "audit", "verify").returncode == 0


def test_a_reader_that_read_a_segment_to_its_end_follows_on_after_it_is_archived(deck: Deck, tmp_path: Path) -> None:
    """A running runner or an open cockpit had read everything when the newest closed segment was moved out."""
    with Store(deck) as reader:
        with Store(deck) as writer:
            writer.commit([{"type": "note", "text": "before"}])
        reader.refresh()  # at the end of the live file
        jobdeck(deck.root, "log", "rotate", check=True)
        archive = tmp_path / "archive"
        archive.mkdir()
        for segment in (deck.state_dir / "log").iterdir():
            shutil.move(segment, archive / segment.name)
        jobdeck(deck.root, "pause", "hello", check=True)
        records = reader.refresh()  # it used to say events.jsonl was moved or replaced, and stop
        assert [r["type"] for r in records] == ["segment", "paused"]
        assert reader.board.state("hello").paused is True


def test_a_jobs_whole_chain_after_archiving_says_what_is_missing(deck: Deck, tmp_path: Path) -> None:
    """`events JOB` and `show --chain 0` printed what remained as if it were all, with exit 0."""
    _archived(deck, tmp_path)
    for command in (["events", "hello"], ["show", "hello", "--chain", "0"]):
        done = jobdeck(deck.root, *command)
        assert done.returncode == 2, (command, done.stdout)
        assert done.stderr.splitlines() == [
            f"jobdeck: the chain of work before seq 36 is not in {deck.state_dir / 'log'} (segments archived or "
            "removed?) (hint: put those segments back there to read it; `jobdeck audit verify --from 36` checks "
            "what remains)"], command
    assert jobdeck(deck.root, "show", "hello").returncode == 0  # its recent records, read back from the end
