"""`jobdeck cockpit` on a jobs.json never validated (saved by hand): the board is painted from its
preview and jobs.json is validated behind it, and marked; an invalid one ends with its banner and
no mark. Typed into a real terminal (tmux, 80x24)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.functional.tmux_kit import private_tmux, wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@pytest.fixture
def tmux() -> Iterator[Callable[..., str]]:
    """``tmux("send-keys", ...)`` on a private server; the session is ``cold``."""
    with private_tmux("cold") as run:
        yield run


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_a_jobs_json_saved_by_hand_is_painted_then_validated(tmp_path: Path, tmux: Callable[..., str],
                                                                   valid: bool) -> None:
    deck = tmp_path / "deck"
    deck.mkdir()
    job = {"id": "by-hand", "title": "Saved by hand", "command": ["true"]}
    if not valid:
        job["comand"] = ["typo"]
    (deck / "jobs.json").write_text(json.dumps({"jobs": [job]}))  # no .jobdeck/ yet: never validated
    tmux("new-session", "-d", "-s", "cold", "-x", "80", "-y", "24",
         f"cd {deck} && TERM=xterm-256color {sys.executable} -m jobdeck cockpit; sleep 30")

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "cold")

    if valid:
        wait_for(lambda: "by-hand" in screen(), "the job on the board", screen)
        wait_for(lambda: (deck / ".jobdeck" / "spec.ok").exists(), "the worker's mark", screen)
        wait_for(lambda: "reading the deck" not in screen(), "the deck to be read", screen)
        assert "by-hand" in screen()
    else:
        wait_for(lambda: "unknown field 'comand'" in screen(), "the banner", screen)
        wait_for(lambda: "Backlog 0" in screen(), "the preview's card to go (the loader refused the file)", screen)
        assert not (deck / ".jobdeck" / "spec.ok").exists()
    tmux("send-keys", "-t", "cold", "q")
    wait_for(lambda: tmux("list-panes", "-t", "cold", "-F", "#{pane_current_command}").strip() == "sleep",
             "the cockpit to quit (the shell moves on to `sleep`)", screen, timeout=30)
