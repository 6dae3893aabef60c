"""An outcome recovered from result.json after its runner was gone ends when the attempt ended, not when recovered.

The runner is made to leave the outcome in result.json only by moving its log away
while the attempt runs (it then writes nothing more to the log); the log is put
back seconds after the attempt ended, and the next runner records the outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.functional.runner_kit import env_for, events, jobdeck, make_deck, status, wait_for

LATER = 3.0
"""Seconds between the attempt's end and its recovery: what a duration taken from the recovery would add."""


def test_a_recovered_outcome_keeps_the_end_result_json_recorded(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    deck = make_deck(tmp_path, [{"id": "a", "command": ["sh", "-c", f"while [ ! -e {gate} ]; do sleep 0.02; done; "
                                                                    "echo hi"]}])
    log = deck / ".jobdeck" / "events.jsonl"
    out = tmp_path / "runner.jsonl"
    with open(out, "w") as sink:
        runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--json", "--grace", "60"], cwd=deck,
                                  env=env_for(deck), stdout=sink, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: status(deck, "a") == "running", timeout=15, what="a running")
        os.rename(log, log.with_name("events.jsonl.1"))
        wait_for(lambda: "log_replaced" in out.read_text(), timeout=15, what="the runner to notice")
        gate.touch()  # a ends; its outcome goes to result.json only
        assert runner.wait(30) == 2
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate()
    stored = json.loads((deck / "workspaces" / "default" / "runs" / "a" / "1" / "result.json").read_text())
    while time.time() < stored["ended"] + LATER:  # not a race: the recovery must come well after the end
        time.sleep(0.1)
    os.rename(log.with_name("events.jsonl.1"), log)

    jobdeck(deck, "run", "--once", check=True)

    record = next(e for e in events(deck) if e["type"] == "succeeded")
    assert record["recovered"] is True and record["ts"] >= stored["ended"] + LATER
    shown = json.loads(jobdeck(deck, "show", "a", "--json", check=True).stdout)
    attempt = shown["state"]["attempts"][-1]
    assert attempt["ended"] == stored["ended"], (attempt, stored)
    stats = json.loads(jobdeck(deck, "stats", "--json", check=True).stdout)["deck"]
    took = stored["ended"] - stored["started"]
    assert stats["run_p50"] < took + LATER / 2, (stats["run_p50"], took)
    assert abs(stats["last_ended"] - stored["ended"]) < 0.01, stats
