"""The event log on disk: concurrent writers lose nothing, torn tails heal, edits are caught."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT, cli_env, run_cli
from jobdeck.state.board import Store, open_store
from jobdeck.state.deck import Deck
from jobdeck.state.events import GENESIS, grown_since, verify

WRITER = """
import sys
import time
from pathlib import Path
from jobdeck.state.board import Store
from jobdeck.state.deck import Deck

deck, who, count = Deck(Path(sys.argv[1])), sys.argv[2], int(sys.argv[3])
with Store(deck, from_snapshot=False) as store:
    print("ready", flush=True)
    sys.stdin.readline()  # start together, once both are ready
    started = time.monotonic()
    n = commits = 0
    while n < count:
        batch = min(1 + commits % 8, count - n)  # 1 to 8 events per commit (one fsync each), in turn
        store.commit([{"type": "progress", "job": f"job-{who}", "writer": who, "n": n + k}
                      for k in range(batch)])
        n, commits = n + batch, commits + 1
print("done", started, time.monotonic(), flush=True)
"""


def records(deck: Deck) -> list[dict]:
    """Every complete record in the log, parsed."""
    return [json.loads(line) for line in deck.events_path.read_bytes().splitlines(keepends=True)
            if line.endswith(b"\n")]


def commit_notes(deck: Deck, count: int) -> None:
    """Append ``count`` deck-level records whose ``text`` is note-000, note-001, ..."""
    with Store(deck) as store:
        for n in range(count):
            store.commit([{"type": "note", "text": f"note-{n:03d}"}])


def test_two_processes_appending_concurrently_lose_nothing(deck: Deck) -> None:
    """Two writers x 2,000 events: exact count, seq 1..N, each writer's order kept, chain verifies."""
    per_writer = 2000
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(deck.root), who, str(per_writer)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=cli_env(), cwd=ROOT, text=True)
        for who in ("A", "B")
    ]
    for writer in writers:
        assert writer.stdout.readline() == "ready\n"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    spans = []
    for writer in writers:
        out, err = writer.communicate(timeout=240)
        assert writer.returncode == 0, err
        word, started, ended = out.split()
        assert word == "done"
        spans.append((float(started), float(ended)))
    (a_start, a_end), (b_start, b_end) = spans
    assert a_start < b_end and b_start < a_end, "the writers did not run at the same time"

    stored = records(deck)
    assert len(stored) == 2 * per_writer
    assert [r["seq"] for r in stored] == list(range(1, 2 * per_writer + 1))
    for who in ("A", "B"):
        assert [r["n"] for r in stored if r["writer"] == who] == list(range(per_writer))
    # A writer in a tight loop can keep re-taking the lock while the other backs off, so
    # the log may hold one long run per writer; the order within each run is still checked.
    switches = sum(1 for a, b in zip(stored, stored[1:]) if a["writer"] != b["writer"])
    assert switches >= 1
    assert verify(deck.events_path) == (2 * per_writer, None)
    with open_store(deck, from_snapshot=False) as store:
        assert store.log.seq == 2 * per_writer
        assert not store.board.rejected


def test_log_torn_mid_record_loads_and_next_append_repairs_it(deck: Deck) -> None:
    """A crash mid-append leaves half a line: readers skip it, the next writer cuts it off."""
    commit_notes(deck, 5)
    whole = deck.events_path.read_bytes()
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    torn_at = last_start + (len(whole) - last_start) // 2
    with open(deck.events_path, "r+b") as f:
        f.truncate(torn_at)

    assert verify(deck.events_path) == (4, None)
    with open_store(deck, from_snapshot=False) as store:
        assert store.log.seq == 4
        assert store.log.offset == last_start
        store.commit([{"type": "note", "text": "after-crash"}])

    stored = records(deck)
    assert [r.get("text") for r in stored] == ["note-000", "note-001", "note-002", "note-003", "after-crash"]
    assert [r["seq"] for r in stored] == [1, 2, 3, 4, 5]
    assert deck.events_path.read_bytes().endswith(b"\n")
    assert verify(deck.events_path) == (5, None)


def test_audit_verify_passes_on_an_intact_chain(deck: Deck) -> None:
    commit_notes(deck, 10)
    done = run_cli("--deck", str(deck.root), "audit", "verify")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("chain of work verified: 10 records, no breaks; head seq 10 hash ")


def test_audit_verify_names_the_line_of_an_edited_record(deck: Deck) -> None:
    """One field changed in place (same length, chain links intact) is found by its hash."""
    commit_notes(deck, 10)
    data = deck.events_path.read_bytes()
    assert data.count(b"note-006") == 1
    deck.events_path.write_bytes(data.replace(b"note-006", b"note-666"))

    done = run_cli("--deck", str(deck.root), "audit", "verify")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "BROKEN at line 7 (seq 7)" in done.stderr
    assert "the record was edited" in done.stderr
    assert "6 records before it verified" in done.stderr

    as_json = json.loads(run_cli("--deck", str(deck.root), "audit", "verify", "--json").stdout)
    assert as_json == {"records": 6, "ok": False, "head": None,
                       "segments": [{"file": "events.jsonl", "first": 1, "last": 6, "records": 6}],
                       "break": {"file": "events.jsonl", "line": 7, "seq": 7, "problem": as_json["break"]["problem"]}}


def test_audit_verify_names_the_line_where_a_record_was_removed(deck: Deck) -> None:
    commit_notes(deck, 6)
    lines = deck.events_path.read_bytes().splitlines(keepends=True)
    deck.events_path.write_bytes(b"".join(lines[:3] + lines[4:]))

    done = run_cli("--deck", str(deck.root), "audit", "verify")
    assert done.returncode == 1
    assert "BROKEN at line 4 (seq 5)" in done.stderr
    assert "does not link to the record before it" in done.stderr


def test_the_log_is_private(deck: Deck) -> None:
    """events.jsonl is created 0600 (it holds the chain of work)."""
    commit_notes(deck, 1)
    assert deck.events_path.stat().st_mode & 0o777 == 0o600


def test_a_saved_position_tells_how_far_the_log_grew_or_that_it_changed(deck: Deck) -> None:
    """The check board.json and the card cache make: grown by N bytes, not at all, or not the same log."""
    assert grown_since(deck.events_path, 0, GENESIS) == 0  # no log yet: nothing happened
    commit_notes(deck, 2)
    with open_store(deck) as store:
        offset, last_hash = store.log.offset, store.log.last_hash
    assert grown_since(deck.events_path, offset, last_hash) == 0
    assert grown_since(deck.events_path, 0, GENESIS) == offset
    commit_notes(deck, 1)
    assert grown_since(deck.events_path, offset, last_hash) == deck.events_path.stat().st_size - offset

    assert grown_since(deck.events_path, offset, "0" * 31 + "1") is None  # another record ends there
    assert grown_since(deck.events_path, offset - 1, last_hash) is None   # not the end of a record
    assert grown_since(deck.events_path, 0, last_hash) is None
    assert grown_since(deck.events_path, "12", last_hash) is None         # a foreign snapshot or cache
    deck.events_path.write_bytes(deck.events_path.read_bytes()[: offset - 10])
    assert grown_since(deck.events_path, offset, last_hash) is None       # cut short
