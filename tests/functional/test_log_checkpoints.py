"""Checkpoints: a rotation leaves the board as of the segment it closes (state/checkpoints.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jobdeck.state.board import Board, Store, read_snapshot_file
from jobdeck.state.checkpoints import CHECKPOINTS_KEPT, checkpoint_dir, checkpoint_path, checkpoints
from jobdeck.state.deck import Deck
from jobdeck.state.events import EventLog
from tests.functional.runner_kit import env_for, jobdeck, make_deck


def _notes(deck: Deck, count: int, tag: str) -> None:
    with Store(deck) as store:
        store.commit([{"type": "note", "text": f"{tag}-{n:04d}"} for n in range(count)])


def _comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without its time of writing, as JSON reads it back."""
    return json.loads(json.dumps({key: value for key, value in snapshot.items() if key != "generated"}))


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

