"""A new user's first hour, typed into a real terminal (tmux, 80x24), in the README's order.

The quick start's `jobdeck demo --headless`, then the interactive `jobdeck demo`
(a second deck, not "already exists"), then in the cockpit: the review queue,
approving the high-risk CRM write-back (it asks first), a pause taken back with
`z`, why a job waits, and quitting, which stops the demo's runner. Everything is
checked in the chain of work and on the screen, with `jobdeck` not on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.functional.tmux_kit import private_tmux, wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

JOBDECK = f"{sys.executable} -m jobdeck"


@pytest.fixture
def tmux() -> Iterator[Callable[..., str]]:
    """``tmux("send-keys", ...)`` on a private server; the session is ``first``."""
    with private_tmux("first") as run:
        yield run


def records(deck: Path) -> list[dict]:
    path = deck / ".jobdeck" / "events.jsonl"
    if not path.exists():
        return []
    text = path.read_text().rpartition("\n")[0]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_first_hour_in_the_readmes_order(tmp_path: Path, tmux: Callable[..., str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("JOBDECK_DECK", "VISUAL", "EDITOR")}
    env["PATH"] = "/usr/bin:/bin"  # after the quick start, the venv is not activated
    headless = subprocess.run([sys.executable, "-m", "jobdeck", "demo", "--headless"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
    assert headless.returncode == 0, headless.stderr
    deck = tmp_path / "demo-deck-2"
    command = f"cd {tmp_path} && PATH=/usr/bin:/bin JOBDECK_DEMO_PACE=0.2 TERM=xterm-256color {JOBDECK} demo"
    tmux("new-session", "-d", "-s", "first", "-x", "80", "-y", "24", command)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "first")

    def keys(*typed: str) -> None:
        tmux("send-keys", "-t", "first", *typed)

    def shows(text: str) -> Callable[[], bool]:
        return lambda: text in screen()

    wait_for(shows("Backlog"), "the board of the second demo deck", screen)
    wait_for(lambda: any(r["type"] == "succeeded" and r.get("review") for r in records(deck)),
             "an output waiting for review", screen, timeout=120)
    keys("v")
    wait_for(shows("Review queue"), "the review queue", screen)
    keys("Escape")
    wait_for(shows("Backlog"), "the board again", screen)

    # the high-risk write-back: it waits for approval, and approving it asks first
    wait_for(lambda: any(r["type"] == "succeeded" and r["job"] == "merge-enrichment" for r in records(deck)),
             "crm-writeback waiting for approval (merge-enrichment done)", screen, timeout=120)
    keys("/", *"crm-writeback")
    wait_for(shows("Backlog 1/4"), "the filter on crm-writeback", screen)  # applied as typed
    keys("Enter")  # keeps it, and gives the keys back to the board
    wait_for(shows(" crm-writeback │"), "crm-writeback selected", screen)
    keys("a")
    wait_for(shows("Approve (y)"), "the confirmation of a high-risk approve", screen)
    keys("Enter")  # Enter keeps: nothing approved
    wait_for(lambda: "Approve (y)" not in screen(), "the dialog closed", screen)
    assert not [r for r in records(deck) if r["type"] == "approved" and r["job"] == "crm-writeback"]
    keys("a")
    wait_for(shows("Approve (y)"), "the confirmation again", screen)
    keys("y")
    wait_for(lambda: [r for r in records(deck) if r["type"] == "approved" and r["job"] == "crm-writeback"],
             "the approval in the chain of work", screen, timeout=30)

    # a pause, taken back
    keys("Escape", "/", *"account-brief", "Enter")
    wait_for(shows(" account-brief │"), "account-brief selected", screen)
    keys("p")
    wait_for(lambda: [r for r in records(deck) if r["type"] == "paused" and r["job"] == "account-brief"],
             "the pause", screen)
    keys("z")
    wait_for(lambda: [r for r in records(deck) if r["type"] == "resumed" and r["job"] == "account-brief"],
             "the pause undone", screen)

    # why a job waits, then quit: the demo's runner stops with the cockpit
    keys("w")
    wait_for(shows("why account-brief"), "the why dialog", screen)
    keys("Escape")
    keys("q")
    wait_for(lambda: "stopping the runner" in screen() or "demo deck:" in screen() or not tmux("ls"),
             "the demo to end", screen, timeout=60)
    ours = [r for r in records(deck) if r.get("via") == "cockpit"]
    assert [(r["type"], r["job"]) for r in ours] == [("approved", "crm-writeback"), ("paused", "account-brief"),
                                                     ("resumed", "account-brief")]
