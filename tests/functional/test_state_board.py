"""board.json: a reader resumes from the snapshot and ends where a full fold ends; a bad one is ignored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import RunCli
from jobdeck.state.board import Store, open_store, read_snapshot
from jobdeck.state.deck import Deck


def run_jobs(store: Store, first: int, count: int) -> None:
    """Claim and finish ``count`` jobs (some fail, some need review), one commit per event."""
    for n in range(first, first + count):
        job = f"job-{n}"
        store.commit([{"type": "claimed", "job": job, "attempt": 1, "runner": "test"}])
        token = store.board.state(job).token
        if n % 3 == 0:
            end: dict[str, Any] = {"type": "failed", "reason": "exit 1", "exit_code": 1}
        elif n % 3 == 1:
            end = {"type": "succeeded", "review": True, "reasons": ["check me"]}
        else:
            end = {"type": "succeeded", "exit_code": 0}
        store.commit([{**end, "job": job, "token": token}])


def full_fold(deck: Deck) -> dict[str, Any]:
    with open_store(deck, from_snapshot=False) as store:
        return {job: state.to_json() for job, state in store.board.jobs.items()}


def test_store_resumes_from_snapshot_and_equals_a_full_fold(deck: Deck) -> None:
    with Store(deck) as store:
        run_jobs(store, 0, 30)
        store.write_snapshot()
        snapshot_offset = store.log.offset
        run_jobs(store, 30, 10)
        store.commit([{"type": "retried", "job": "job-0", "by": "op"}])

    kept_rollups = json.loads(deck.board_path.read_bytes())["rollups"]
    resumed = Store(deck)
    assert resumed.log.offset == snapshot_offset > 0  # did not start from the beginning
    assert len(resumed.board.jobs) == 30
    assert resumed.board.rollups_text() == kept_rollups  # not parsed yet: written back as read
    new_records = resumed.refresh()
    assert [r["seq"] for r in new_records] == list(range(61, 82))
    assert {job: s.to_json() for job, s in resumed.board.jobs.items()} == full_fold(deck)
    assert resumed.board.state("job-0").status == "backlog"
    with open_store(deck, from_snapshot=False) as folded:
        assert resumed.board.rollups.to_json() == folded.board.rollups.to_json()
    resumed.close()


def test_snapshot_is_readable_by_scripts(deck: Deck) -> None:
    with Store(deck) as store:
        run_jobs(store, 0, 3)
        store.write_snapshot()
    snapshot = read_snapshot(deck)
    assert snapshot is not None
    assert {job: s["status"] for job, s in snapshot["states"].items()} == {
        "job-0": "failed", "job-1": "review", "job-2": "done"}
    assert snapshot["events"]["seq"] == 6


@pytest.mark.parametrize("tamper", [
    "hash", "offset-past-end", "offset-mid-line", "log-rewritten", "garbage", "format", "bad-state",
    "unknown-state-field", "unknown-attempt-field", "no-job", "rollups-edited", "rollups-not-text",
])
def test_a_tampered_or_mismatched_snapshot_is_ignored(deck: Deck, tamper: str) -> None:
    with Store(deck) as store:
        run_jobs(store, 0, 6)
        store.write_snapshot()
        run_jobs(store, 6, 2)
    snapshot = json.loads(deck.board_path.read_bytes())
    # Make the snapshot claim something the log does not back, in different ways.
    if tamper == "hash":
        snapshot["events"]["hash"] = "f" * 32
    elif tamper == "offset-past-end":
        snapshot["events"]["offset"] = deck.events_path.stat().st_size + 100
    elif tamper == "offset-mid-line":
        snapshot["events"]["offset"] -= 5
    elif tamper == "format":
        snapshot["format"] = 999
    elif tamper == "bad-state":
        snapshot["states"]["job-1"]["status"] = "exploded"
    elif tamper == "unknown-state-field":  # from_json takes the keys as fields: one that names none is refused
        snapshot["states"]["job-1"]["colour"] = "red"
    elif tamper == "unknown-attempt-field":
        snapshot["states"]["job-1"]["attempts"][0]["colour"] = "red"
    elif tamper == "no-job":
        del snapshot["states"]["job-1"]["job"]
    elif tamper == "rollups-edited":  # still JSON, but not the text the CRC-32 was taken of
        snapshot["rollups"] = snapshot["rollups"].replace('"jobs":{', '"jobs":{"job-9":{},', 1)
    elif tamper == "rollups-not-text":
        snapshot["rollups"] = json.loads(snapshot["rollups"])
    if tamper == "log-rewritten":  # a different history of the same shape (e.g. restored from elsewhere)
        deck.events_path.unlink()
        with Store(deck, from_snapshot=False) as store:
            run_jobs(store, 0, 8)
    if tamper == "garbage":
        deck.board_path.write_bytes(b'{"format": 1, "events": ')
    else:
        snapshot["states"]["job-2"]["status"] = "failed"  # a lie that would show if trusted
        deck.board_path.write_text(json.dumps(snapshot))

    store = Store(deck)
    assert store.log.offset == 0 and store.board.jobs == {}
    store.refresh()
    assert {job: s.to_json() for job, s in store.board.jobs.items()} == full_fold(deck)
    assert store.board.state("job-2").status == "done"
    store.close()


def test_a_running_runner_checkpoints_board_json_so_readers_replay_a_bounded_tail(tmp_path) -> None:
    """Past CHECKPOINT_EVENTS records the runner rewrites board.json while it keeps running."""
    import signal
    import subprocess
    import sys

    from jobdeck.runner.loop import CHECKPOINT_EVENTS
    from jobdeck.state.events import grown_since
    from tests.functional.runner_kit import env_for, make_deck, wait_for

    jobs = [{"id": f"j{n:03d}", "command": ["true"]} for n in range(CHECKPOINT_EVENTS // 2 + 20)]
    deck_dir = make_deck(tmp_path, jobs)
    deck = Deck(deck_dir)
    runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--quiet", "--parallel", "8"],
                              cwd=deck_dir, env=env_for(deck_dir), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        def checkpointed() -> bool:
            snapshot = read_snapshot(deck)
            return snapshot is not None and snapshot["events"]["seq"] >= CHECKPOINT_EVENTS
        wait_for(checkpointed, timeout=120, what="a checkpoint while the runner runs")
        assert runner.poll() is None, runner.stderr.read() if runner.stderr else ""
        snapshot = read_snapshot(deck)
        behind = grown_since(deck.events_path, snapshot["events"]["offset"], snapshot["events"]["hash"])
        assert behind is not None  # the snapshot still matches the log it was taken of
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)


def run_many(store: Store, first: int, count: int) -> None:
    """``count`` jobs claimed in one commit and ended in another: 2 * ``count`` records, two fsyncs."""
    jobs = [f"job-{n}" for n in range(first, first + count)]
    store.commit([{"type": "claimed", "job": job, "attempt": 1, "runner": "test"} for job in jobs])
    store.commit([{"type": "succeeded", "job": job, "token": store.board.state(job).token} for job in jobs])


def test_a_reader_far_behind_board_json_writes_it_again_so_the_next_one_is_not(deck: Deck) -> None:
    from jobdeck.state.board import SNAPSHOT_BEHIND

    with Store(deck) as store:
        run_many(store, 0, SNAPSHOT_BEHIND // 2)  # no board.json yet: as after it was lost
    with open_store(deck) as reader:
        assert reader.log.seq == SNAPSHOT_BEHIND
    assert read_snapshot(deck)["events"]["seq"] == SNAPSHOT_BEHIND  # the next command resumes here
    assert Store(deck).log.seq == SNAPSHOT_BEHIND  # (and replays nothing)
    assert read_snapshot(deck)["states"] == full_fold(deck)

    with Store(deck) as store:
        run_many(store, SNAPSHOT_BEHIND, SNAPSHOT_BEHIND // 2 - 1)
        store.commit([{"type": "retried", "job": "job-0", "by": "op"}])  # one record short of the bound
    open_store(deck).close()
    assert read_snapshot(deck)["events"]["seq"] == SNAPSHOT_BEHIND  # a short tail is replayed, not rewritten
    with Store(deck) as store:
        store.commit([{"type": "retried", "job": "job-1", "by": "op"}])
    open_store(deck).close()
    assert read_snapshot(deck)["events"]["seq"] == 2 * SNAPSHOT_BEHIND


def test_a_reader_leaves_a_board_json_the_log_no_longer_holds(deck: Deck) -> None:
    """board.json that saw records since removed is evidence (`audit verify`): no reader replaces it."""
    from jobdeck.state.board import SNAPSHOT_BEHIND

    with Store(deck) as store:
        run_many(store, 0, 10)
        store.write_snapshot()
        seen = store.log.seq
    with open(deck.events_path, "r+b") as log:
        log.truncate(len(log.readline()) + len(log.readline()))  # cut back to two records
    with Store(deck) as store:
        run_many(store, 10, SNAPSHOT_BEHIND)
    with open_store(deck) as reader:
        assert reader.chain_warning is not None
    assert read_snapshot(deck)["events"]["seq"] == seen


def test_no_snapshot_is_written_while_records_wait_for_their_flush(deck: Deck) -> None:
    """A board holding sealed records that are not on disk yet must not be paired with the log as it is."""
    with Store(deck) as store:
        run_many(store, 0, 2)
        store.write_snapshot()
        with store.lock:
            store.commit([{"type": "retried", "job": "job-0", "by": "op"}], flush=False)
            store.write_snapshot()  # (a runner stopping in the middle of a group commit)
            assert read_snapshot(deck)["events"]["seq"] == 4  # left as it was
            store.flush()
        store.write_snapshot()
    assert read_snapshot(deck)["events"]["seq"] == 5
    assert read_snapshot(deck)["states"] == full_fold(deck)


def test_an_operators_resume_of_a_job_jobs_json_pauses_survives_board_json(tmp_path) -> None:
    """paused is None (as jobs.json says), True or False (resumed by the operator): False must not read back as None."""
    from tests.functional.runner_kit import jobdeck, make_deck

    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"], "paused": True}])
    jobdeck(deck, "resume", "a", check=True)
    with open_store(Deck(deck)) as store:
        store.write_snapshot()  # as a runner leaves it
    assert Store(Deck(deck)).board.state("a").paused is False
    listed = json.loads(jobdeck(deck, "ls", "--json", check=True).stdout)
    assert "paused" not in next(card for card in listed if card["id"] == "a")["flags"]
    ran = jobdeck(deck, "run", "--once")
    assert "ran 1 job" in ran.stderr, ran.stderr


@pytest.mark.parametrize("between", ["live_first", "grown_since"])
def test_a_rotation_while_a_reader_resumes_from_board_json_is_followed(deck: Deck, monkeypatch,
                                                                       between: str) -> None:
    """A rotation between the checks a reader makes of board.json's position (a runner's own, a cron'd
    compaction): it gave a false tamper warning, or a false "truncated" at the next read."""
    import sys

    import jobdeck.state.events as events_module
    import jobdeck.state.segments as segments_module
    from tests.functional.runner_kit import jobdeck

    with Store(deck) as store:
        run_many(store, 0, 3)
        store.write_snapshot()
        store.commit([{"type": "retried", "job": "job-0", "by": "op"}])
    module = segments_module if between == "live_first" else events_module
    real, rotated = getattr(module, between), []

    def then_rotate(*args, **kwargs):  # the resume's check, then a rotation by another process, once
        result = real(*args, **kwargs)
        if not rotated and sys._getframe(1).f_code.co_name == "check_saved_position":
            rotated.append(jobdeck(deck.root, "log", "rotate", check=True))
        return result

    monkeypatch.setattr(module, between, then_rotate)
    with open_store(deck) as store:
        assert rotated and store.chain_warning is None
        assert {job: s.to_json() for job, s in store.board.jobs.items()} == full_fold(deck)
        with Store(deck) as writer:
            writer.commit([{"type": "retried", "job": "job-1", "by": "op"}])
        assert [r["type"] for r in store.refresh()] == ["retried"]  # reads on, no "truncated"


def test_catching_up_a_chunk_at_a_time_folds_what_one_piece_does(deck: Deck, monkeypatch) -> None:
    """A reader with no board.json folds the log a few MiB at a time; here a few hundred bytes."""
    import jobdeck.state.board as board_module

    with Store(deck) as store:
        run_jobs(store, 0, 40)
    whole = full_fold(deck)
    with open(deck.events_path, "ab") as log:
        log.write(b'{"seq": 999, "torn')  # a torn last line: skipped, not waited on
    monkeypatch.setattr(board_module, "CATCH_UP_BYTES", 300)  # shorter than some records, longer than most
    with open_store(deck, from_snapshot=False) as chunked:
        assert {job: state.to_json() for job, state in chunked.board.jobs.items()} == whole
        assert chunked.log.seq == 80


RELOAD_AFTER_A_FAILED_WRITE = """
import json, resource, signal, sys
from pathlib import Path
from jobdeck.state.board import Store
from jobdeck.state.deck import Deck

deck = Deck(Path(sys.argv[1]))
store = Store(deck)
store.refresh()
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
size = deck.events_path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, resource.RLIM_INFINITY))
try:
    store.commit([{"type": "retried", "job": "job-0", "by": "op", "reason": "x" * 4096}])
except OSError as exc:
    print(json.dumps({"error": exc.errno, "resumed_at": store.resumed_at,
                      "states": {job: s.to_json() for job, s in store.board.jobs.items()}}))
"""


def test_after_a_failed_write_the_store_reads_on_from_board_json_not_from_the_first_record(
        deck: Deck, tmp_path: Path) -> None:
    """A failed flush makes the Store read the deck again: from board.json, as opening it does. Here the
    records before board.json were rotated out and archived, so a fold from the first record cannot be done."""
    import errno
    import shutil
    import subprocess
    import sys

    from tests.functional.runner_kit import jobdeck

    with Store(deck) as store:
        run_jobs(store, 0, 20)
    jobdeck(deck.root, "log", "rotate", check=True)
    with Store(deck) as store:
        run_jobs(store, 20, 10)
        store.write_snapshot()
        snapshot_seq = store.log.seq
        run_jobs(store, 30, 5)
    archive = tmp_path / "archive"
    archive.mkdir()
    for segment in (deck.state_dir / "log").iterdir():
        shutil.move(segment, archive / segment.name)
    with open_store(deck) as store:
        expected = {job: s.to_json() for job, s in store.board.jobs.items()}

    done = subprocess.run([sys.executable, "-c", RELOAD_AFTER_A_FAILED_WRITE, str(deck.root)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    after = json.loads(done.stdout)
    assert after["error"] == errno.EFBIG
    assert after["resumed_at"] == snapshot_seq
    assert after["states"] == expected and len(expected) == 35  # without the record that failed


def test_rollups_kept_with_a_good_crc_that_do_not_read_back_are_one_line_naming_the_fix(deck: Deck,
                                                                                        cli: RunCli) -> None:
    """board.json's rollups are parsed when something asks (`stats`, the decision service): a text its CRC-32
    vouches for but this code cannot read (a bug, or an edit that kept the CRC) is an error with its fix, not a
    traceback; commands that do not ask are untouched."""
    import binascii

    with Store(deck) as store:
        run_jobs(store, 0, 3)
        store.write_snapshot()
    snapshot = json.loads(deck.board_path.read_bytes())
    snapshot["rollups"] = "[]"
    snapshot["rollups_crc"] = binascii.crc32(b"[]")
    deck.board_path.write_text(json.dumps(snapshot))
    assert cli("ls", cwd=deck.root).returncode == 0
    done = cli("stats", cwd=deck.root)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "jobdeck: the rollups that board.json (or a checkpoint) kept do not read back: list indices must be integers "
        "or slices, not str (hint: remove .jobdeck/board.json and .jobdeck/checkpoints/; both are rebuilt from the log)"]
    deck.board_path.unlink()
    assert cli("stats", cwd=deck.root).returncode == 0  # and they are


def test_a_commit_that_needs_rollups_that_do_not_read_back_writes_nothing(deck: Deck) -> None:
    """An attempt's end adds to the rollups: if they do not read back, the commit stops before its records are
    sealed, and the log is as it was; an action that does not touch them goes through."""
    import binascii

    from jobdeck.state.errors import StateError

    with Store(deck) as store:
        store.commit([{"type": "claimed", "job": "job-0", "attempt": 1, "runner": "test"}])
        store.write_snapshot()
    snapshot = json.loads(deck.board_path.read_bytes())
    snapshot["rollups"], snapshot["rollups_crc"] = "[]", binascii.crc32(b"[]")
    deck.board_path.write_text(json.dumps(snapshot))
    before = deck.events_path.read_bytes()
    with Store(deck) as store:
        token = store.board.state("job-0").token
        with pytest.raises(StateError):
            store.commit([{"type": "succeeded", "job": "job-0", "token": token}])
        assert deck.events_path.read_bytes() == before and not store.log.pending
        store.commit([{"type": "paused", "job": "job-1", "by": "op"}])
    assert len(deck.events_path.read_bytes().splitlines()) == len(before.splitlines()) + 1


def test_a_hold_on_the_review_queue_keeps_its_capacity_through_board_json(deck: Deck) -> None:
    """The capacity a hold was measured against is read back from board.json, and a board.json written before
    holds kept it (five fields) still resumes, its holds standing until a runner looks again."""
    hold = {"type": "decided", "job": "later", "mode": "live", "action": "hold", "needs": "reviews",
            "note": "⏸ reviews", "reasons": ["review queue 1 of capacity 1"], "capacity": 1}
    with Store(deck) as store:
        run_jobs(store, 1, 1)  # job-1 waits for review
        store.commit([hold])
        store.write_snapshot()
    with Store(deck) as resumed:
        assert resumed.log.offset > 0 and resumed.board.kept_back["later"].capacity == 1
        assert not resumed.board.kept_back["later"].outlived(resumed.board)
        resumed.commit([{"type": "approved", "job": "job-1", "by": "op"}])
        assert resumed.board.kept_back["later"].outlived(resumed.board)
    data = json.loads(deck.board_path.read_bytes())
    data["kept_back"]["later"] = data["kept_back"]["later"][:5]
    deck.board_path.write_text(json.dumps(data))
    with Store(deck) as older:
        assert older.log.offset > 0  # resumed from it, not folded
        assert older.board.kept_back["later"].capacity is None
        assert not older.board.kept_back["later"].outlived(older.board)
