"""The runner's heartbeat file, so the cockpit and `jobdeck ls` can tell a runner is alive."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from jobdeck.state.atomic import write_atomic

INTERVAL = 5.0


class Heartbeat:
    """``.jobdeck/runners/<id>.json``, rewritten every few seconds, removed on clean exit."""

    def __init__(self, directory: Path, runner_id: str, parallel: int) -> None:
        self.path = directory / f"{runner_id}.json"
        self.runner_id = runner_id
        self.parallel = parallel
        self.last = 0.0

    def beat(self, running: list[str], now: float | None = None, *, force: bool = False) -> None:
        now = time.time() if now is None else now
        if not force and now - self.last < INTERVAL:
            return
        self.last = now
        record = {"id": self.runner_id, "pid": os.getpid(), "host": socket.gethostname(),
                  "heartbeat": now, "parallel": self.parallel, "running": running}
        try:
            write_atomic(self.path, json.dumps(record).encode(), durable=False)
        except OSError:
            pass  # advisory only (leases, not heartbeats, decide who runs what); the next beat retries

    def stop(self) -> None:
        self.path.unlink(missing_ok=True)
