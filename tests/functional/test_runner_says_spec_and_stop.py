"""A long-running runner says when jobs.json turns invalid, when it is valid again, and, last, that it stopped.

An operator tailing the runner (or its journal) otherwise saw the problem and then
nothing: was the fix taken? And a runner stopped while idle left no line at all.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.functional.runner_kit import env_for, events, make_deck, wait_for


def test_the_runner_says_the_spec_is_valid_again_and_that_it_stopped(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}])
    out, err = tmp_path / "runner.out", tmp_path / "runner.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run"], cwd=deck, env=env_for(deck),
                                  stdout=stdout, stderr=stderr, text=True)
    try:
        wait_for(lambda: any(e["type"] == "succeeded" for e in events(deck)), timeout=30, what="a to run")
        (deck / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["true"],}]}')
        wait_for(lambda: "jobs.json is invalid, keeping the last good spec" in err.read_text(), timeout=30,
                 what="the runner to say jobs.json is invalid")
        (deck / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"]}]}')
        wait_for(lambda: "jobs.json is valid again" in out.read_text(), timeout=30, what="the runner to say it is fixed")
        wait_for(lambda: sum(e["type"] == "succeeded" for e in events(deck)) == 2, timeout=30, what="b to run")
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=30)
    assert runner.returncode == 0
    last = out.read_text().splitlines()[-1]
    assert re.fullmatch(r"\d\d:\d\d:\d\d runner \S+ stopped \(on SIGTERM; 2 attempts started\)", last), last


def test_a_runner_started_on_a_broken_jobs_json_waits_then_takes_its_limits(tmp_path: Path) -> None:
    """It said "keeping the no spec yet", and its heartbeat kept the one slot it started with, which the cockpit's
    header and `status` showed (R0/1) after jobs.json gave it four."""
    from jobdeck.state.heartbeat import read_heartbeats

    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}])
    (deck / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["true"],}]}')
    out, err = tmp_path / "runner.out", tmp_path / "runner.err"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run"], cwd=deck, env=env_for(deck),
                                  stdout=stdout, stderr=stderr, text=True)
    try:
        wait_for(lambda: "jobs.json is invalid, starting nothing until it is valid: " in err.read_text(),
                 timeout=30, what="the runner to say it waits")
        (deck / "jobs.json").write_text('{"limits": {"parallel": 4}, "jobs": [{"id": "a", "command": ["true"]}]}')
        wait_for(lambda: any(e["type"] == "succeeded" for e in events(deck)), timeout=30, what="a to run")
        wait_for(lambda: [beat.parallel for beat in read_heartbeats(deck / ".jobdeck" / "runners")] == [4],
                 timeout=30, what="the heartbeat to say 4 slots")
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=30)
