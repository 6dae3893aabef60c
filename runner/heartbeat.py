"""The runner's heartbeat: its record (state/heartbeat.py) rewritten every few seconds while it runs."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path

from jobdeck.state.heartbeat import INTERVAL, Heartbeat, remove_dead_heartbeats, remove_heartbeat, write_heartbeat
from jobdeck.state.liveness import origin, start_time


class HeartbeatWriter:
    """Writes one runner's heartbeat at most every ``INTERVAL`` seconds, and removes it on clean exit."""

    def __init__(self, directory: Path, runner_id: str, parallel: int) -> None:
        self.directory = directory
        self.runner_id = runner_id
        self.parallel = parallel
        self.last = 0.0
        here = origin()  # what lets a reader see at once that this process has ended
        self.boot, self.pid_namespace = (here.boot, here.pid_namespace) if here is not None else (None, None)
        self.start = start_time(os.getpid())
        try:  # what runners of this machine killed before left (a clean exit removes its own)
            remove_dead_heartbeats(directory, socket.gethostname(), time.time())
        except OSError:
            pass

    def beat(self, running: list[str], now: float | None = None, *, force: bool = False,
             notes: Mapping[str, str] | None = None) -> None:
        """Record ``running`` (the ids of the jobs under way), unless the last beat is recent."""
        now = time.time() if now is None else now
        if not force and now - self.last < INTERVAL:
            return
        self.last = now
        record = Heartbeat(runner=self.runner_id, pid=os.getpid(), host=socket.gethostname(), at=now,
                           parallel=self.parallel, running=tuple(running), notes=dict(notes or {}),
                           boot=self.boot, pid_namespace=self.pid_namespace, start=self.start)
        try:
            write_heartbeat(self.directory, record)
        except OSError:
            pass  # advisory only (leases, not heartbeats, decide who runs what); the next beat retries

    def stop(self) -> None:
        """Remove the heartbeat: the runner is exiting cleanly."""
        remove_heartbeat(self.directory, self.runner_id)
