"""Readers that meet a rotation or a compaction halfway: `audit verify`, `events` and `stats` answer as if
the log had stood still (docs/RELIABILITY.md: both are safe while other commands run).

Each reader is stopped just before it opens the oldest closed segment (tests/functional/stop_on_open.py),
the deck is rotated or compacted meanwhile, and the reader goes on.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobdeck.state.board import Store
from jobdeck.state.deck import Deck
from tests.functional.runner_kit import ROOT, env_for, jobdeck, wait_for
from tests.functional.stop_on_open import stopped

OLDEST = "events-000000000001.jsonl"


def _notes(deck: Deck, count: int, tag: str) -> None:
    with Store(deck) as store:
        for n in range(count):
            store.commit([{"type": "note", "text": f"{tag}-{n:03d}"}])


def _stopped_at(deck: Path, name: str, *args: str) -> subprocess.Popen[str]:
    """`jobdeck ARGS`, stopped just before it first opens the file ``name``."""
    reader = subprocess.Popen([sys.executable, "-m", "tests.functional.stop_on_open", *args], cwd=deck,
                              env=env_for(deck, JOBDECK_STOP_ON_OPEN=name, PYTHONPATH=str(ROOT)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: reader.poll() is not None or stopped(reader.pid), 60, f"jobdeck {' '.join(args)} to open {name}")
    assert reader.poll() is None, reader.communicate()
    return reader


def _go_on(reader: subprocess.Popen[str]) -> tuple[int, str, str]:
    reader.send_signal(signal.SIGCONT)
    out, err = reader.communicate(timeout=60)
    return reader.returncode, out, err


def _meanwhile(deck: Deck, how: str) -> None:
    """Records, and rotations (``rotate``) or a rotation then a compaction (``compact``), while the reader waits."""
    _notes(deck, 3, "c")  # seq 11-13
    jobdeck(deck.root, "log", "rotate", check=True)  # 14, the new live file's segment record
    _notes(deck, 2, "d")
    jobdeck(deck.root, "log", how, check=True)  # 17
    _notes(deck, 1, "e")  # 18


@pytest.mark.parametrize("how", ["rotate", "compact"])
def test_audit_verify_that_meets_a_rotation_reports_no_break_and_checks_on_to_the_new_end(deck: Deck,
                                                                                        how: str) -> None:
    """The live file's descriptor is taken first: a rotation meanwhile makes it a closed segment, which the
    check finishes, then goes on into the segments and live file made since."""
    _notes(deck, 5, "a")
    jobdeck(deck.root, "log", "rotate", check=True)
    _notes(deck, 4, "b")  # seq 1-5 closed; the live file holds seq 6 (its segment record) to 10
    reader = _stopped_at(deck.root, OLDEST, "audit", "verify", "--json")
    _meanwhile(deck, how)
    code, out, err = _go_on(reader)
    report = json.loads(out)
    assert code == 0 and report["ok"], (report, err)
    assert report["records"] == 18 and report["head"]["seq"] == 18
    checked = [(s["first"], s["last"]) for s in report["segments"]]
    assert checked == [(1, 5), (6, 13), (14, 16), (17, 18)]
    assert report["segments"][-1]["file"] == "events.jsonl"
    assert jobdeck(deck.root, "audit", "verify", check=True).returncode == 0


@pytest.mark.parametrize("command", [("events", "--json"), ("stats", "--json")])
def test_a_reader_whose_closed_segment_is_compressed_under_it_reads_the_gz(deck: Deck,
                                                                          command: tuple[str, ...]) -> None:
    """`log compact` removes a plain segment once its .gz is in place: a fresh reader that listed the plain
    name reads the .gz instead of failing (it exited 2, "No such file or directory")."""
    _notes(deck, 5, "a")
    jobdeck(deck.root, "log", "rotate", check=True)
    _notes(deck, 4, "b")
    deck.board_path.unlink()  # a reader with no board.json reads every segment (`stats` folds them anyway)
    expected = json.loads(jobdeck(deck.root, *command, check=True).stdout) if command[0] == "stats" else None
    (deck.state_dir / "stats-cache.json").unlink(missing_ok=True)
    reader = _stopped_at(deck.root, OLDEST, *command)
    jobdeck(deck.root, "log", "compact", check=True)
    assert (deck.state_dir / "log" / (OLDEST + ".gz")).exists() and not (deck.state_dir / "log" / OLDEST).exists()
    code, out, err = _go_on(reader)
    assert code == 0, err
    if command[0] == "events":
        assert [json.loads(line)["seq"] for line in out.splitlines()] == list(range(1, 12))  # 11: the compaction's
    else:
        assert json.loads(out) == expected
