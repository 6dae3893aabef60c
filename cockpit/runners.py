"""Runner heartbeats: which runners are alive and how much they can run.

A runner rewrites ``.jobdeck/runners/<id>.json`` every few seconds with at least
``{"pid", "host", "heartbeat", "parallel", "running"}``; one whose heartbeat is
older than ``STALE_AFTER`` seconds is taken for dead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

STALE_AFTER = 15.0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One runner's last heartbeat."""

    runner: str
    pid: int | None
    host: str
    heartbeat: float
    parallel: int | None
    running: int | None

    def alive(self, now: float) -> bool:
        """Whether the heartbeat is recent enough to trust."""
        return now - self.heartbeat < STALE_AFTER


def read_heartbeats(runners_dir: Path) -> list[Heartbeat]:
    """Every readable heartbeat file; half-written or foreign files are skipped."""
    found: list[Heartbeat] = []
    try:
        paths = sorted(runners_dir.glob("*.json"))
    except OSError:
        return found
    for path in paths:
        try:
            data = json.loads(path.read_bytes())
            found.append(Heartbeat(
                runner=str(data.get("id", path.stem)),
                pid=_int(data.get("pid")),
                host=str(data.get("host", "?")),
                heartbeat=float(data["heartbeat"]),
                parallel=_int(data.get("parallel")),
                running=_int(data.get("running")),
            ))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
