"""A young deck's log renamed away while a silent job runs: nobody starts a new history beside its attempt.

Before any attempt ends, the only trace of the log is the directory the claim
made (its ``stderr.log`` and ``output`` still empty, its lease held or not).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.functional.runner_kit import jobdeck, make_deck, start_runner, wait_for


def test_an_emptied_log_beside_a_silent_running_attempt_is_refused(tmp_path: Path) -> None:
    started = tmp_path / "started"
    deck = make_deck(tmp_path, [
        {"id": "s", "command": f"echo $$ > {started}; exec sleep 30", "shell": True},
        {"id": "t", "command": ["echo", "t"], "depends_on": ["s"]},
        {"id": "u", "command": ["echo", "u"]},
    ])
    jobdeck(deck, "pause", "u", check=True)
    runner = start_runner(deck, "--grace", "60")  # it stops on the lost log, but lets s run on, silent
    try:
        wait_for(lambda: started.exists() and started.read_text().strip(), timeout=15, what="job s to start")
        attempt = deck / "workspaces" / "default" / "runs" / "s" / "1"
        assert {p.name: p.stat().st_size for p in attempt.iterdir()} == {"stderr.log": 0, "output": 0}
        log = deck / ".jobdeck" / "events.jsonl"
        log.rename(log.with_name("events.jsonl.1"))  # an outside logrotate: rename and create
        log.touch()
        for command in (["ls"], ["status", "--check"], ["run", "--once"]):
            result = jobdeck(deck, *command)
            assert result.returncode == 2, (command, result.stdout, result.stderr)
            assert "the deck's history is lost" in result.stderr and "runs/s/1" in result.stderr, result.stderr
        assert not (deck / "workspaces" / "default" / "runs" / "u").exists()  # the paused job did not run
    finally:
        runner.kill()
        runner.communicate(timeout=30)
        if started.exists() and started.read_text().strip():
            try:
                os.kill(int(started.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_an_emptied_log_beside_a_dead_claim_is_refused(tmp_path: Path) -> None:
    """The claim's files alone, empty and with no lease held, still show an earlier history."""
    deck = make_deck(tmp_path, [{"id": "a", "command": ["echo", "a"]}])
    attempt = deck / "workspaces" / "default" / "runs" / "a" / "1"
    attempt.mkdir(parents=True)
    for name in ("stderr.log", "output"):
        (attempt / name).touch()
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 2 and "runs/a/1" in result.stderr, (result.stdout, result.stderr)
    assert os.path.getsize(attempt / "output") == 0


def test_an_empty_attempt_directory_is_not_history(tmp_path: Path) -> None:
    """A directory with none of a claim's files (made by hand, say) does not hold the deck up."""
    deck = make_deck(tmp_path, [{"id": "a", "command": ["echo", "a"]}])
    (deck / "workspaces" / "default" / "runs" / "b" / "1").mkdir(parents=True)
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 0, (result.stdout, result.stderr)
