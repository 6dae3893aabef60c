"""A runner with every slot busy sleeps until one frees, whatever timers came due meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.functional.runner_kit import env_for, make_deck, wait_for

WINDOW = 2.0
"""Seconds the runner is watched while a retry is due and its one slot busy."""


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _records(deck: Path) -> list[dict]:
    path = deck / ".jobdeck" / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")] if path.exists() else []


def test_a_retry_due_while_every_slot_is_busy_does_not_spin_the_runner(tmp_path: Path) -> None:
    """The retry's time went by with no slot to start it in: the runner's next timer was that past time, so it
    turned without pause (3.6 s of CPU in a 5 s run) until the slot came free."""
    gate = tmp_path / "gate"
    deck = make_deck(tmp_path, [
        {"id": "flaky", "command": ["sh", "-c", "exit 75"], "priority": 5,
         "retry": {"max_attempts": 2, "delay": "0.5s", "jitter": 0, "retryable_exit_codes": [75]}},
        {"id": "long", "command": ["sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.05; done"]},
    ], limits={"parallel": 1})
    runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--once", "--quiet"], cwd=deck,
                              env=env_for(deck), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        failed = wait_for(lambda: next((r for r in _records(deck) if r["type"] == "failed"), None),
                          timeout=30, what="flaky's first failure")
        wait_for(lambda: any(r["type"] == "claimed" and r["job"] == "long" for r in _records(deck)),
                 timeout=30, what="long to take the slot")
        retry_at = failed["retry_at"]
        time.sleep(max(0.0, retry_at + 0.3 - time.time()))  # the retry is due, its slot busy
        before = _cpu_seconds(runner.pid)
        time.sleep(WINDOW)  # (a measurement window, not a wait for anything)
        spent = _cpu_seconds(runner.pid) - before
        assert runner.poll() is None
    finally:
        gate.touch()
        out, err = runner.communicate(timeout=60)
    assert spent < 0.25 * WINDOW, f"the runner used {spent:.2f} s of CPU in {WINDOW} s with nothing it could start"
    claims = [r["job"] for r in _records(deck) if r["type"] == "claimed"]
    assert claims == ["flaky", "long", "flaky"], (claims, err)  # the retry started once the slot was free
