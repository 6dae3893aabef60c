"""Checkpoints: a rotation leaves the board as of the segment it closes, so a lost board.json costs one segment.

state/checkpoints.py: a reader without a usable board.json resumes from the newest
checkpoint the log agrees with; one the log disagrees with is refused with the
warning board.json would give; a torn or half-written one is never read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from jobdeck.state.board import SNAPSHOT_BEHIND, SNAPSHOT_READ, Board, Store, open_store, read_snapshot, read_snapshot_file
from jobdeck.state.checkpoints import CHECKPOINTS_KEPT, checkpoint_dir, checkpoint_path, checkpoints
from jobdeck.state.deck import Deck
from jobdeck.state.events import EventLog
from tests.functional.runner_kit import ROOT, env_for, jobdeck, make_deck


def _notes(deck: Deck, count: int, tag: str) -> None:
    with Store(deck) as store:
        store.commit([{"type": "note", "text": f"{tag}-{n:04d}"} for n in range(count)])


def _comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without its time of writing, as JSON reads it back, its rollups parsed (a snapshot keeps them
    as JSON text with its CRC-32)."""
    kept = {key: value for key, value in snapshot.items() if key not in ("generated", "rollups_crc")}
    if isinstance(kept.get("rollups"), str):
        kept["rollups"] = json.loads(kept["rollups"])
    return json.loads(json.dumps(kept))


def _fold_to(deck: Deck, last: int) -> dict[str, Any]:
    """The board of a fold from seq 1 to seq ``last``, in a snapshot's terms."""
    board = Board()
    for record in EventLog(deck.events_path).read_new():
        if record["seq"] > last:
            break
        board.apply(record)
    return _comparable({"states": {job: state.to_json() for job, state in board.jobs.items()},
                        "files": sorted(board.files), "rollups": board.rollups.to_json(),
                        **({"held": board.held} if board.held else {}),
                        **({"warned": {job: list(seen) for job, seen in board.warned.items()}} if board.warned else {})})


def _full_fold(deck: Deck) -> dict[str, Any]:
    with open_store(deck, from_snapshot=False) as store:
        return _comparable(store.snapshot())


def test_a_rotation_leaves_the_board_at_its_boundary_and_keeps_the_newest_few(deck: Deck, tmp_path: Path) -> None:
    """`log rotate`, `log compact` and a runner's own rotation each leave a checkpoint (0600) of the board as of
    the closed segment's last record; older ones go; `audit verify` checks the segments only."""
    jobdeck(deck.root, "pause", "hello", check=True)
    _notes(deck, 5, "a")
    jobdeck(deck.root, "log", "rotate", check=True)
    first = checkpoint_path(deck, 1)
    saved = read_snapshot_file(first)
    closed = deck.state_dir / "log" / "events-000000000001.jsonl"
    last = json.loads(closed.read_bytes().splitlines()[-1])
    assert saved is not None and saved["events"] == {"offset": closed.stat().st_size, "seq": 6, "hash": last["hash"],
                                                     "segment": 1}
    assert _comparable(saved) | {"events": None} == _fold_to(deck, 6) | {"format": saved["format"], "events": None}
    assert saved["states"]["hello"]["paused"] is True
    assert os.stat(first).st_mode & 0o777 == 0o600 and os.stat(checkpoint_dir(deck)).st_mode & 0o777 == 0o700

    _notes(deck, 3, "b")
    jobdeck(deck.root, "log", "compact", check=True)
    assert [path.name for path in checkpoints(deck)] == ["events-000000000007.jsonl.board.json", first.name]

    runner_deck = make_deck(tmp_path / "runner", [{"id": f"j{n}", "command": ["true"]} for n in range(3)])
    jobdeck(runner_deck, "run", "--once", check=True, env=env_for(runner_deck, JOBDECK_LOG_SEGMENT="200"))
    assert checkpoints(Deck(runner_deck)), "the runner's rotation left no checkpoint"

    for n in range(3):
        _notes(deck, 2, f"c{n}")
        jobdeck(deck.root, "log", "rotate", check=True)
    kept = [path.name for path in checkpoints(deck)]
    assert kept == ["events-000000000017.jsonl.board.json", "events-000000000014.jsonl.board.json"]
    newest = read_snapshot_file(checkpoints(deck)[0])
    assert newest is not None and newest["events"]["seq"] == json.loads(
        deck.events_path.read_bytes().splitlines()[0])["seq"] - 1  # the record before the live file's first
    verified = json.loads(jobdeck(deck.root, "audit", "verify", "--json", check=True).stdout)
    assert verified["ok"] and all(s["file"].startswith("events") and "board" not in s["file"]
                                  for s in verified["segments"])


def test_without_board_json_a_reader_replays_only_what_follows_the_newest_checkpoint(deck: Deck,
                                                                                      tmp_path: Path) -> None:
    """Even with every closed segment archived: it folded from seq 1 (or, archived, could not read at all)."""
    _notes(deck, SNAPSHOT_BEHIND + 200, "a")
    jobdeck(deck.root, "log", "rotate", check=True)
    _notes(deck, SNAPSHOT_BEHIND + 200, "b")
    jobdeck(deck.root, "pause", "world", check=True)
    jobdeck(deck.root, "log", "rotate", check=True)
    _notes(deck, 40, "c")
    jobdeck(deck.root, "approve", "hello", check=False)
    whole = _full_fold(deck)
    listed = jobdeck(deck.root, "ls", "--json", check=True).stdout
    boundary = read_snapshot_file(checkpoints(deck)[0])["events"]["seq"]

    deck.board_path.unlink()
    with open_store(deck) as store:
        assert store.resumed_at == boundary and store.log.seq - boundary < 50
        assert _comparable(store.snapshot()) == whole and store.chain_warning is None
    assert not deck.board_path.exists()  # fewer than SNAPSHOT_BEHIND replayed: not worth writing again

    archive = tmp_path / "archive"
    shutil.move(deck.state_dir / "log", archive)
    (deck.state_dir / "cards.jsonl").unlink(missing_ok=True)
    done = jobdeck(deck.root, "ls", "--json")
    assert (done.returncode, done.stderr, done.stdout) == (0, "", listed)
    assert not deck.board_path.exists()


@pytest.mark.parametrize("spoiled", ["hash edited", "log put back to before the rotation", "torn", "old format"])
def test_a_checkpoint_the_log_disagrees_with_is_refused(deck: Deck, tmp_path: Path, spoiled: str) -> None:
    """One the chain disagrees with warns as board.json would (and is not replaced by a board.json); one that is
    torn or of another format is only a cache gone: passed over quietly, for the checkpoint before it."""
    _notes(deck, 3, "a")
    jobdeck(deck.root, "log", "rotate", check=True)
    backup = tmp_path / "backup"
    shutil.copytree(deck.state_dir, backup)
    _notes(deck, 3, "b")
    jobdeck(deck.root, "log", "rotate", check=True)
    newest = checkpoints(deck)[0]
    seen = read_snapshot_file(newest)["events"]["seq"]
    data = newest.read_bytes()
    if spoiled == "hash edited":
        saved = json.loads(data)
        saved["events"]["hash"] = "f" * 32
        newest.write_text(json.dumps(saved))
    elif spoiled == "log put back to before the rotation":
        shutil.rmtree(deck.state_dir / "log")
        shutil.copytree(backup / "log", deck.state_dir / "log")
        shutil.copyfile(backup / "events.jsonl", deck.events_path)
    elif spoiled == "torn":
        newest.write_bytes(data[: len(data) // 2])
    else:
        older = f'"format":{min(SNAPSHOT_READ) - 1}'.encode()  # one no jobdeck of this version reads
        newest.write_bytes(re.sub(rb'"format":\d+', older, data, count=1))
        assert older in newest.read_bytes()
    deck.board_path.unlink()
    (deck.state_dir / "cards.jsonl").unlink(missing_ok=True)

    with open_store(deck) as store:
        assert store.resumed_at == 3  # the checkpoint before it (seq 3: the first segment's last record)
        assert _comparable(store.snapshot())["states"] == _full_fold(deck)["states"]
        warning = store.chain_warning
    done = jobdeck(deck.root, "ls")
    assert done.returncode == 0
    if spoiled in ("torn", "old format"):
        assert warning is None and "warning" not in done.stderr
        return
    expected = (f"the chain of work no longer holds the record the checkpoint checkpoints/{newest.name} saw at "
                f"seq {seen}: records were removed or rewritten; see `jobdeck audit verify`")
    assert warning == expected
    assert done.stderr.splitlines() == [f"jobdeck: warning: {expected}"]


def test_a_kill_during_the_checkpoint_write_leaves_nothing_a_reader_uses(deck: Deck) -> None:
    """kill -9 between writing the checkpoint's temp file and renaming it: the rotation stands, the temp file is
    never read, and the next rotation clears it away."""
    _notes(deck, 5, "a")
    killed = jobdeck(deck.root, "log", "rotate", env=env_for(deck.root, JOBDECK_CRASH_AT="atomic.after_write"))
    assert killed.returncode == -9
    assert (deck.state_dir / "log" / "events-000000000001.jsonl").exists()
    assert json.loads(deck.events_path.read_bytes().splitlines()[0])["type"] == "segment"  # the rotation is done
    left = os.listdir(checkpoint_dir(deck))
    assert len(left) == 1 and left[0].startswith(".events-000000000001.jsonl.board.json.") and left[0].endswith(".tmp")
    assert checkpoints(deck) == []

    deck.board_path.unlink(missing_ok=True)
    with open_store(deck) as store:
        assert store.resumed_at == 0 and _comparable(store.snapshot()) == _full_fold(deck)
    _notes(deck, 2, "b")
    jobdeck(deck.root, "log", "rotate", check=True)
    assert os.listdir(checkpoint_dir(deck)) == ["events-000000000006.jsonl.board.json"]


def test_folding_from_a_checkpoint_equals_folding_from_seq_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a deck with a runner's and its operators' history (bench/history_deck.py: attempts that fail and retry,
    reviews, approvals, pauses, cancels, cost), rotated as a runner rotates: each checkpoint is the fold from seq 1
    to its boundary, and a reader resuming from it ends where a fold of the whole log ends."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    monkeypatch.setenv("JOBDECK_LOG_SEGMENT", "150000")
    from history_deck import build_deck  # bench/: the decks the history benchmark measures

    build_deck(tmp_path / "deck", 3000)
    deck = Deck(tmp_path / "deck")
    found = checkpoints(deck)
    assert len(found) == CHECKPOINTS_KEPT and len(os.listdir(deck.state_dir / "log")) > CHECKPOINTS_KEPT
    types = {record["type"] for record in EventLog(deck.events_path).read_new()}
    assert {"failed", "retried", "approved", "rejected", "paused", "resumed", "cancelled"} <= types
    whole = _full_fold(deck)
    deck.board_path.unlink()
    for checkpoint in found:
        saved = read_snapshot_file(checkpoint)
        at = saved["events"]["seq"]
        assert _comparable(saved) | {"events": None} == _fold_to(deck, at) | {"format": saved["format"],
                                                                             "events": None}, checkpoint.name
        with Store(deck) as store:
            assert store.resumed_at == at
            store.catch_up()
            assert _comparable(store.snapshot()) == whole, checkpoint.name
        checkpoint.unlink()  # next: the one before it
    assert read_snapshot(deck) is None


def test_a_reader_that_may_not_write_resumes_from_a_checkpoint_and_writes_nothing(tmp_path: Path) -> None:
    """A deck whose state directory refuses writes (mounted read-only, say): `ls` reads from the checkpoint."""
    from tests.fixtures.unprivileged import unprivileged

    user = unprivileged()
    if user is None:
        pytest.skip("no Python the throwaway user may run (the suite's interpreter is not reachable to it)")
    with user.home() as home:
        root = make_deck(home, [{"id": "a", "command": ["true"]}])
        deck = Deck(root)
        _notes(deck, SNAPSHOT_BEHIND + 10, "a")
        jobdeck(root, "log", "rotate", check=True)
        jobdeck(root, "pause", "a", check=True)
        expected = jobdeck(root, "ls", "--json", check=True).stdout
        deck.board_path.unlink()
        (deck.state_dir / "cards.jsonl").unlink(missing_ok=True)
        shutil.rmtree(deck.state_dir / "log")  # archived: a fold from seq 1 is impossible
        user.own(root)
        before = sorted(os.listdir(deck.state_dir))
        os.chmod(deck.state_dir, 0o500)
        try:
            done = user.jobdeck("ls", "--json", cwd=root)
        finally:
            os.chmod(deck.state_dir, 0o700)
        assert (done.returncode, done.stderr) == (0, "")
        assert json.loads(done.stdout) == json.loads(expected)
        assert sorted(os.listdir(deck.state_dir)) == before


def test_a_rotation_while_a_reader_checks_a_checkpoint_is_followed(deck: Deck, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process rotates between the check's look at the live file and its read of the record opening it:
    the record read then is the next rotation's, which must not read as the log disagreeing (a false warning)."""
    import jobdeck.state.segments as segments_module

    _notes(deck, 3, "a")
    jobdeck(deck.root, "log", "rotate", check=True)
    _notes(deck, 2, "b")
    deck.board_path.unlink()
    real, rotated = segments_module.read_first, []

    def then_rotate(path: Path) -> Any:
        if not rotated and sys._getframe(1).f_code.co_name == "check_boundary":
            rotated.append(jobdeck(deck.root, "log", "rotate", check=True))
        return real(path)

    monkeypatch.setattr(segments_module, "read_first", then_rotate)
    with open_store(deck) as store:
        assert rotated and store.chain_warning is None and store.resumed_at == 3
        assert _comparable(store.snapshot())["states"] == _full_fold(deck)["states"]
        _notes(deck, 1, "c")
        assert [r["type"] for r in store.refresh()] == ["note"]
