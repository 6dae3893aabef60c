"""Log segments: rotation through jobdeck keeps one chain, readers follow it, audit checks every segment."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobdeck.state.board import Store, read_snapshot
from jobdeck.state.deck import Deck
from jobdeck.state.errors import LogReplaced
from jobdeck.state.events import EventLog
from tests.functional.runner_kit import board, env_for, jobdeck, make_deck, wait_for
from tests.torture.kit import drain, ledger_jobs, starts


def _notes(deck: Deck, count: int, tag: str) -> None:
    with Store(deck) as store:
        for n in range(count):
            store.commit([{"type": "note", "text": f"{tag}-{n:03d}"}])


def _all_records(deck: Path) -> list[dict]:
    """Every record of every segment, read by a fresh reader as `jobdeck events` does."""
    return EventLog(Deck(deck).events_path).read_new()


def _closed(deck: Path) -> list[str]:
    directory = deck / ".jobdeck" / "log"
    return sorted(os.listdir(directory)) if directory.exists() else []


def test_rotation_keeps_one_chain_that_old_and_new_readers_read_whole(deck: Deck) -> None:
    """Rotate and compact from the CLI between writes: a reader that held the old file, a fresh reader,
    `jobdeck events` and a Store resuming from a board.json taken before the rotations all see seq 1..N."""
    _notes(deck, 5, "a")
    holder = EventLog(deck.events_path)
    assert [r["seq"] for r in holder.read_new()] == [1, 2, 3, 4, 5]
    with Store(deck) as store:
        store.refresh()
        store.write_snapshot()  # at seq 5, in the first file
    assert jobdeck(deck.root, "log", "rotate", check=True).stdout.startswith("closed ")
    _notes(deck, 3, "b")
    compacted = json.loads(jobdeck(deck.root, "log", "compact", "--json", check=True).stdout)
    _notes(deck, 2, "c")
    assert compacted["closed"] == "events-000000000006.jsonl" and compacted["live_first"] == 10
    assert _closed(deck.root) == ["events-000000000001.jsonl.gz", "events-000000000006.jsonl.gz"]

    assert [r["seq"] for r in holder.read_new()] == list(range(6, 13))
    records = _all_records(deck.root)
    assert [r["seq"] for r in records] == list(range(1, 13))
    assert [r["type"] for r in records if r["type"] == "segment"] == ["segment", "segment"]
    assert records[5]["prev"] == records[4]["hash"] and records[9]["prev"] == records[8]["hash"]
    shown = jobdeck(deck.root, "events", "--json", check=True).stdout.splitlines()
    assert [json.loads(line)["seq"] for line in shown] == list(range(1, 13))
    for newest in (1, 2, 4, 8, 12, 20):  # read backwards, into the compressed segments and past the first record
        shown = jobdeck(deck.root, "events", "--json", "-n", str(newest), check=True).stdout.splitlines()
        assert [json.loads(line)["seq"] for line in shown] == list(range(max(1, 13 - newest), 13)), newest
    text = jobdeck(deck.root, "events", "-n", "3", check=True).stdout.splitlines()
    assert [int(line.split()[0]) for line in text] == [10, 11, 12]

    audit = jobdeck(deck.root, "audit", "verify", "--json", check=True)
    report = json.loads(audit.stdout)
    assert report["ok"] and report["records"] == 12 and report["head"]["seq"] == 12
    assert [(s["file"], s["first"], s["last"]) for s in report["segments"]] == [
        ("events-000000000001.jsonl.gz", 1, 5), ("events-000000000006.jsonl.gz", 6, 9), ("events.jsonl", 10, 12)]


def test_a_board_json_from_before_a_rotation_still_resumes(deck: Deck) -> None:
    _notes(deck, 4, "a")
    with Store(deck) as store:
        store.refresh()
        store.write_snapshot()
        before = read_snapshot(deck)
        store.rotate(compress_closed=True)
        store.commit([{"type": "note", "text": "after"}])
    deck.board_path.write_text(json.dumps(before))
    with Store(deck) as store:
        assert (store.log.seq, store.log.first_seq) == (4, 1)  # resumed inside the closed, compressed segment
        assert [r["seq"] for r in store.refresh()] == [5, 6]
        assert store.chain_warning is None and store.log.first_seq == 5
        store.commit([{"type": "note", "text": "again"}])
    assert [r["seq"] for r in _all_records(deck.root)] == list(range(1, 8))


def test_an_edited_record_in_a_closed_segment_is_named_by_segment_line_and_seq(deck: Deck) -> None:
    _notes(deck, 6, "a")
    jobdeck(deck.root, "log", "rotate", check=True)
    _notes(deck, 6, "b")
    jobdeck(deck.root, "log", "rotate", check=True)
    _notes(deck, 2, "c")
    first = deck.state_dir / "log" / "events-000000000001.jsonl"
    data = first.read_bytes()
    first.write_bytes(data.replace(b"a-003", b"a-666"))

    done = jobdeck(deck.root, "audit", "verify")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "BROKEN at line 4 (seq 4) of events-000000000001.jsonl" in done.stderr
    assert "the record was edited" in done.stderr
    later = jobdeck(deck.root, "audit", "verify", "--from", "10")
    assert later.returncode == 0, later.stderr
    assert "events-000000000007.jsonl (seq 7-13), events.jsonl (seq 14-16)" in later.stdout
    assert jobdeck(deck.root, "audit", "verify", "--segment", "1").returncode == 1
    assert jobdeck(deck.root, "audit", "verify", "--segment", "7").returncode == 0
    past = jobdeck(deck.root, "audit", "verify", "--from", "17")  # one past the head: nothing there to verify
    assert past.returncode == 1 and past.stderr == "no record has seq 17: the chain of work ends at seq 16\n"
    both = jobdeck(deck.root, "audit", "verify", "--from", "10", "--segment", "7")
    assert both.returncode == 2 and "not allowed with" in both.stderr

    first.write_bytes(data)
    assert jobdeck(deck.root, "audit", "verify").returncode == 0
    first.unlink()  # a closed segment lost: the next one no longer links to anything before it
    gone = jobdeck(deck.root, "audit", "verify", "--json")
    broken = json.loads(gone.stdout)["break"]
    assert gone.returncode == 1 and (broken["file"], broken["line"], broken["seq"]) == ("events-000000000007.jsonl", 1, 7)
    assert "a segment is missing" in broken["problem"]


def test_a_replaced_log_that_is_no_rotation_still_raises(deck: Deck) -> None:
    """After a rotation the live file begins with a segment record; a copy put in its place is still refused."""
    _notes(deck, 3, "a")
    jobdeck(deck.root, "log", "rotate", check=True)
    _notes(deck, 2, "b")
    with Store(deck) as store:
        store.refresh()
        copy = deck.events_path.with_name("copy")
        shutil.copy(deck.events_path, copy)
        os.replace(copy, deck.events_path)  # same bytes, another file: not jobdeck's rotation
        with pytest.raises(LogReplaced):
            store.refresh()
        with pytest.raises(LogReplaced):
            store.commit([{"type": "note", "text": "lost?"}])


def _nothing_ran_twice(deck: Path, ledger: Path, ids: list[str]) -> None:
    """Every job ended done after one start, or in review as interrupted (its runner was killed) after at most one."""
    drain(deck, ids)
    states = board(deck)
    for job in ids:
        st = states[job]
        if st.status.value == "done":
            assert starts(ledger, job) == ["1"], (job, starts(ledger, job))
        else:
            assert (st.status.value, st.reason) == ("review", "interrupted") and len(starts(ledger, job)) <= 1, job
    assert not (ledger / "doubles").exists()
    claims = [r["job"] for r in _all_records(deck) if r["type"] == "claimed"]
    assert len(claims) == len(set(claims)), claims


def test_a_runner_rotates_by_itself_while_log_compact_runs_from_another_process(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, 40)
    ids = [job["id"] for job in spec]
    deck = make_deck(tmp_path, spec, limits={"parallel": 4})
    env = env_for(deck, JOBDECK_LOG_SEGMENT="6000")
    out = tmp_path / "runner.jsonl"
    with open(out, "w") as sink:
        runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--json"], cwd=deck, env=env,
                                  stdout=sink, stderr=subprocess.PIPE, text=True)
    def rotated_by_runner() -> list[dict]:
        complete = out.read_text().rpartition("\n")[0]  # (the runner may be half way through a line)
        return [r for r in map(json.loads, complete.splitlines()) if r.get("type") == "log_rotated"]

    try:
        # A compaction rotates the live file too: under load, compactions back to back could keep it
        # below the segment size, so the runner's own rotation is awaited once before they start.
        wait_for(rotated_by_runner, 60, "the runner's own rotation")
        compactions = 0
        while True:
            assert runner.poll() is None, runner.communicate()[1]
            jobdeck(deck, "log", "compact", check=True)
            compactions += 1
            if all(st.status.value == "done" for st in board(deck).values()) and len(board(deck)) == len(ids):
                break
        assert not [r for r in map(json.loads, out.read_text().splitlines()) if r.get("type") == "log_replaced"]
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.communicate(timeout=60)
    assert runner.returncode == 0
    assert compactions >= 1 and len(_closed(deck)) >= 3
    assert all(starts(ledger, j) == ["1"] for j in ids), {j: starts(ledger, j) for j in ids}
    assert not (ledger / "doubles").exists()
    claims = [r["job"] for r in _all_records(deck) if r["type"] == "claimed"]
    assert sorted(claims) == ids
    assert jobdeck(deck, "audit", "verify").returncode == 0


ROTATION_POINTS = ["rotate.after_link", "rotate.before_rename", "rotate.after_rename",
                   "compress.before_rename", "compress.before_unlink"]


@pytest.mark.parametrize("point", ROTATION_POINTS)
def test_kill_9_inside_a_compaction_loses_nothing(tmp_path: Path, point: str) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, 6)
    ids = [job["id"] for job in spec]
    deck = make_deck(tmp_path, spec)
    half = {"JOBDECK_LOG_SEGMENT": "100000000"}
    jobdeck(deck, "log", "rotate", check=True)  # nothing to rotate yet: a no-op
    runner = subprocess.run([sys.executable, "-m", "jobdeck", "run", "--job", ids[0]], cwd=deck,
                            env=env_for(deck, **half), capture_output=True, text=True, timeout=120)
    assert runner.returncode == 0, runner.stderr
    if point.startswith("compress"):
        jobdeck(deck, "log", "rotate", check=True)  # a closed segment to compress
        jobdeck(deck, "run", "--job", ids[1], check=True)
    crashed = jobdeck(deck, "log", "compact", env=env_for(deck, JOBDECK_CRASH_AT=point))
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)
    assert jobdeck(deck, "audit", "verify").returncode == 0
    jobdeck(deck, "run", "--once", env=env_for(deck, JOBDECK_LOG_SEGMENT="2000"))
    jobdeck(deck, "log", "compact", check=True)
    _nothing_ran_twice(deck, ledger, ids)
    assert all(st.status.value == "done" for st in board(deck).values())
    audit = json.loads(jobdeck(deck, "audit", "verify", "--json").stdout)
    assert audit["ok"], audit
    assert all(name.endswith(".jsonl.gz") for name in _closed(deck)), _closed(deck)


@pytest.mark.parametrize("point", ["rotate.after_link:1", "rotate.before_rename:1", "rotate.after_rename:1"])
def test_kill_9_of_a_runner_inside_its_own_rotation_loses_nothing(tmp_path: Path, point: str) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, 12)
    ids = [job["id"] for job in spec]
    deck = make_deck(tmp_path, spec, limits={"parallel": 3})
    small = {"JOBDECK_LOG_SEGMENT": "3000"}
    crashed = subprocess.run([sys.executable, "-m", "jobdeck", "run", "--quiet"], cwd=deck,
                             env=env_for(deck, JOBDECK_CRASH_AT=point, **small), capture_output=True, text=True,
                             timeout=120)
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)
    assert jobdeck(deck, "audit", "verify").returncode == 0
    jobdeck(deck, "run", "--once", env=env_for(deck, **small))
    _nothing_ran_twice(deck, ledger, ids)
    assert _closed(deck), "the restarted runner did not rotate"
    assert jobdeck(deck, "audit", "verify").returncode == 0


def test_the_cockpit_shows_a_jobs_whole_chain_across_segments(deck: Deck) -> None:
    """A model opened before two rotations still lists every record of a job, once each, oldest first."""
    import time

    from jobdeck.cockpit.model import DeckModel

    with Store(deck) as store:
        store.commit([{"type": "triggered", "job": "a"}])
    model = DeckModel(deck, time.time)
    jobdeck(deck.root, "log", "rotate", check=True)
    with Store(deck) as store:
        store.commit([{"type": "paused", "job": "a", "by": "me", "via": "cli"}])
    jobdeck(deck.root, "log", "compact", check=True)
    model.refresh()
    chain = model.chain("a")
    assert [r["type"] for r in chain] == ["triggered", "paused"]
    assert [r["seq"] for r in chain] == [1, 3]


def test_one_jobs_chain_is_read_from_every_segment_without_a_torn_last_line(deck: Deck) -> None:
    """`events JOB` and `show JOB --chain 0` scan each segment for the job's lines: gzipped, plain and live."""
    def action(kind: str, job: str) -> None:
        with Store(deck) as store:
            store.commit([{"type": kind, "job": job, "by": "me", "via": "cli"}])

    action("paused", "hello")
    action("paused", "world")
    jobdeck(deck.root, "log", "compact", check=True)
    action("resumed", "hello")
    jobdeck(deck.root, "log", "rotate", check=True)
    action("resumed", "world")
    action("paused", "hello")
    with open(deck.events_path, "ab") as log:  # a crash mid-append leaves a torn line naming the job
        log.write(b'{"seq":99,"type":"resumed","job":"hello","by":"me"')
    assert _closed(deck.root) == ["events-000000000001.jsonl.gz", "events-000000000003.jsonl"]

    expected = [(r["seq"], r["type"]) for r in _all_records(deck.root) if r.get("job") == "hello"]
    assert expected == [(1, "paused"), (4, "resumed"), (7, "paused")]
    events = jobdeck(deck.root, "events", "hello", "--json", check=True).stdout.splitlines()
    assert [(r["seq"], r["type"]) for r in map(json.loads, events)] == expected
    last = jobdeck(deck.root, "events", "hello", "--json", "--limit", "2", check=True).stdout.splitlines()
    assert [json.loads(line)["seq"] for line in last] == [4, 7]
    shown = json.loads(jobdeck(deck.root, "show", "hello", "--chain", "0", "--json", check=True).stdout)
    assert [(r["seq"], r["type"]) for r in shown["chain"]] == expected and shown["chain_complete"]


@pytest.mark.parametrize("compacted", [False, True])
def test_a_reader_far_behind_reads_the_closed_segments_a_chunk_at_a_time(deck: Deck, compacted: bool) -> None:
    """A reader with no board.json (lost, or of an older format) folds every segment: each read of at most
    ``limit`` bytes returns about that much, never a whole segment, and together they are the log, in order."""
    for tag in ("a", "b", "c"):
        _notes(deck, 40, tag)
        jobdeck(deck.root, "log", "rotate", check=True)
    if compacted:
        jobdeck(deck.root, "log", "compact", check=True)
    _notes(deck, 5, "d")
    assert len(_closed(deck.root)) >= 3
    whole = _all_records(deck.root)
    longest = max(len(json.dumps(r, separators=(",", ":"))) + 1 for r in whole)
    limit = 1000
    reader, chunks = EventLog(deck.events_path), []
    while True:
        chunk = reader.read_new(limit)
        if not chunk:
            break
        chunks.append(chunk)
        if len(chunks) in (2, 7):
            reader.close()  # the segment it stood in is opened again, and checked, where it stopped
    assert [r["seq"] for chunk in chunks for r in chunk] == [r["seq"] for r in whole] == list(range(1, len(whole) + 1))
    sizes = [sum(len(json.dumps(r, separators=(",", ":"))) + 1 for r in chunk) for chunk in chunks]
    assert max(sizes) < limit + longest  # a chunk, not a segment (each is ~5x the limit)
    assert len(chunks) > 3 * len(_closed(deck.root))
    _notes(deck, 1, "e")  # and it goes on reading (and may write) from where it stopped: the live file
    assert [r["seq"] for r in reader.read_new(limit)] == [len(whole) + 1]
