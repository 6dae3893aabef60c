"""`jobdeck demo`'s background runner ends with the demo, however the demo ends (a hang-up, a kill)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env
from tests.functional.runner_kit import ROOT, wait_for

#: The demo's start: the deck, and its runner started by cli/demo.py; then it waits to be killed.
DEMO = """
import sys
from pathlib import Path
from jobdeck.cli.demo import create_demo_deck, fire_head, start_runner
deck = create_demo_deck(Path(sys.argv[1]))
fire_head(deck)
runner = start_runner(deck, "0")
print(runner.pid, flush=True)
sys.stdin.read()
"""


def gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie nobody reaped has too)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGKILL])
def test_the_demos_runner_stops_when_the_demo_dies(tmp_path: Path, sig: signal.Signals) -> None:
    deck = tmp_path / "demo-deck"
    demo = subprocess.Popen([sys.executable, "-c", DEMO, str(deck)], cwd=ROOT, env=cli_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert demo.stdout is not None
    runner_pid = int(demo.stdout.readline())  # its heartbeat is written: the runner is up
    try:
        assert not gone(runner_pid)
        demo.send_signal(sig)
        assert demo.wait(30) == -sig
        wait_for(lambda: gone(runner_pid), timeout=30, what="the runner to end with the demo")
        assert "stopping on parent exit" in (deck / "logs" / "runner.log").read_text()
    finally:
        if not gone(runner_pid):
            os.kill(runner_pid, signal.SIGKILL)
