"""Heartbeats runners left when they were killed: the next runner of the machine removes them."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from jobdeck.runner.heartbeat import HeartbeatWriter
from jobdeck.state.heartbeat import STALE_AFTER, Heartbeat, read_heartbeats, write_heartbeat


def test_a_runner_starting_removes_the_heartbeats_runners_of_its_machine_left_when_killed(tmp_path: Path) -> None:
    """kill -9 leaves a runner's heartbeat file: nothing removed them, and `jobdeck status` listed each for ever."""
    exited = subprocess.Popen(["true"])
    exited.wait()  # a pid no process has now
    here, now = socket.gethostname(), time.time()
    old = now - 10 * STALE_AFTER
    for runner, pid, host, at in [("killed", exited.pid, here, old), ("alive-but-slow", os.getpid(), here, old),
                                  ("elsewhere", exited.pid, "another-host", old), ("just-killed", exited.pid, here, now)]:
        write_heartbeat(tmp_path, Heartbeat(runner, pid, host, at, 2))
    HeartbeatWriter(tmp_path, "new", 2)
    assert sorted(beat.runner for beat in read_heartbeats(tmp_path)) == ["alive-but-slow", "elsewhere", "just-killed"]
