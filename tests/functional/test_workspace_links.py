"""A workspace that is a link out of the deck: its attempts are refused, and nothing else breaks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from jobdeck.state.board import Store, read_snapshot
from jobdeck.state.deck import Deck
from jobdeck.state.events import grown_since
from tests.functional.runner_kit import jobdeck, make_deck

JOBS = [{"id": "a", "command": ["echo", "hi"]}, {"id": "t", "command": ["true"], "trigger": "*.txt"}]


def linked_out(tmp_path: Path) -> tuple[Path, Path]:
    deck = make_deck(tmp_path, JOBS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(deck / "workspaces" / "default")
    (deck / "workspaces" / "default").symlink_to(elsewhere)
    return deck, elsewhere


def test_a_claim_in_a_workspace_leading_out_fails_with_the_link_named_and_the_runner_goes_on(tmp_path: Path) -> None:
    deck, elsewhere = linked_out(tmp_path)
    first = jobdeck(deck, "run", "--once")
    assert first.returncode == 1, first.stderr  # a job failed (it used to be exit 2, with the claim left running)
    assert "Traceback" not in first.stderr
    assert f"workspace 'default' leads outside the deck, to {elsewhere}" in first.stdout
    assert list(elsewhere.iterdir()) == []  # nothing written there
    shown = json.loads(jobdeck(deck, "show", "a", "--json", check=True).stdout)
    assert shown["state"]["status"] == "failed"
    snapshot = read_snapshot(Deck(deck))
    assert snapshot is not None and grown_since(Deck(deck).events_path, snapshot["events"]["offset"],
                                                snapshot["events"]["hash"]) is not None
    listed = jobdeck(deck, "ls", check=True)
    assert "warning" not in listed.stderr  # board.json agrees with the log
    again = jobdeck(deck, "run", "--once")
    assert again.returncode in (0, 1) and "Traceback" not in again.stderr, again.stderr


def test_a_runner_recovers_an_orphaned_claim_in_a_workspace_leading_out(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, JOBS)
    with Store(Deck(deck)) as store:  # a runner that died with `a` claimed
        store.commit([{"type": "claimed", "job": "a", "attempt": 1, "runner": "gone", "workspace": "default"}])
    shutil.rmtree(deck / "workspaces" / "default")
    (deck / "workspaces" / "default").symlink_to(tmp_path)
    result = jobdeck(deck, "run", "--once")
    assert "Traceback" not in result.stderr and result.returncode == 1, result.stderr  # it left `a` not done:
    assert "left by a runner that is gone, not done: a (review)" in result.stderr  # interrupted, sent to review
    assert json.loads(jobdeck(deck, "show", "a", "--json", check=True).stdout)["state"]["status"] != "running"
