"""Runner heartbeats, ``.jobdeck/runners/<id>.json``: the one module that writes and reads them.

A runner rewrites its file every ``INTERVAL`` seconds and removes it on a clean
exit; `jobdeck status`, the cockpit and `jobdeck demo` read them to tell which
runners are alive. A killed runner cannot remove its file, so the file names its
process (host, boot, pid namespace, pid and start time: state/liveness.py) and a
reader that can see that process in /proc knows at once when it has ended; any
other reader (another host or container, or a file older than those fields) waits
for the beat to go stale. They are advisory (leases, not heartbeats, decide who
runs what), so they are written without an fsync and a reader skips a file it
cannot make sense of.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from jobdeck.state.atomic import write_atomic
from jobdeck.state.liveness import origin, process_alive, running

INTERVAL = 5.0
"""Seconds between two beats of a runner."""
STALE_AFTER = 15.0
"""A heartbeat older than this (three beats missed) is taken for a dead runner, or a hung one."""


# A NamedTuple, not a dataclass: importing dataclasses (and inspect) costs the CLI ~7 ms at start.
class Heartbeat(NamedTuple):
    """One runner's last heartbeat."""

    runner: str
    """The runner's id (the file's name)."""
    pid: int | None
    """The runner's process id (None when the file does not give one)."""
    host: str
    """The machine the runner runs on."""
    at: float
    """When the runner wrote it (stored as ``heartbeat``)."""
    parallel: int | None
    """How many attempts the runner may run at once."""
    running: tuple[str, ...] = ()
    """Ids of the jobs the runner has an attempt of under way; their count is its load."""
    notes: Mapping[str, str] = MappingProxyType({})  # shared by every default, so read-only
    """Where some of those attempts are, by job id, when a card should say (e.g. "queued on gpu (PD: Resources)")."""
    boot: str | None = None
    """The boot of the runner's machine (``/proc/sys/kernel/random/boot_id``); None in older files."""
    pid_namespace: int | None = None
    """The runner's pid namespace (the inode of ``/proc/self/ns/pid``); None in older files."""
    start: int | None = None
    """When the runner's process started (clock ticks since boot): with ``pid``, that process and no other."""

    def alive(self, now: float) -> bool:
        """Whether the runner is alive: its heartbeat is recent, and its process is not known to have ended."""
        return now - self.at < STALE_AFTER and not self.gone()

    def gone(self) -> bool:
        """Whether the runner's process has ended (or its pid names another process now), as this reader
        can tell only from the same host, boot and pid namespace; False when it cannot tell."""
        if self.pid is None or self.start is None or origin() != (self.host, self.boot, self.pid_namespace):
            return False
        return running(self.pid, self.start) is False

    def to_json(self) -> dict[str, Any]:
        """The record as stored on disk."""
        return {"id": self.runner, "pid": self.pid, "host": self.host, "heartbeat": self.at,
                "parallel": self.parallel, "running": list(self.running),
                **({"notes": dict(self.notes)} if self.notes else {}),
                **{key: value for key, value in (("boot_id", self.boot), ("pid_namespace", self.pid_namespace),
                                                 ("start", self.start)) if value is not None}}


def heartbeat_path(runners_dir: Path, runner: str) -> Path:
    """Where the runner ``runner`` keeps its heartbeat."""
    return runners_dir / f"{runner}.json"


def write_heartbeat(runners_dir: Path, beat: Heartbeat) -> None:
    """Replace the runner's heartbeat file with ``beat`` (atomically, not fsynced); raises OSError."""
    write_atomic(heartbeat_path(runners_dir, beat.runner), json.dumps(beat.to_json()).encode(), durable=False)


def remove_heartbeat(runners_dir: Path, runner: str) -> None:
    """Remove the runner's heartbeat file (on a clean exit), if it is there."""
    heartbeat_path(runners_dir, runner).unlink(missing_ok=True)


def remove_dead_heartbeats(runners_dir: Path, host: str, now: float) -> list[str]:
    """Remove the heartbeats of runners whose process is gone (killed, or a machine that rebooted): nothing
    else removes them, and `jobdeck status` would list each for ever. Return their runners' ids.

    A heartbeat that names its process (``Heartbeat.gone``) goes at once; one of ``host`` that cannot
    be judged so (an older file, another boot) goes once stale if no process has its pid.
    """
    removed = []
    for beat in read_heartbeats(runners_dir):
        if beat.gone() or (beat.host == host and beat.pid is not None and not beat.alive(now)
                           and not process_alive(beat.pid)):
            try:
                remove_heartbeat(runners_dir, beat.runner)
            except OSError:
                continue
            removed.append(beat.runner)
    return removed


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
                at=float(data["heartbeat"]),
                parallel=_int(data.get("parallel")),
                running=_job_ids(data.get("running")),
                notes=_notes(data.get("notes")),
                boot=_str(data.get("boot_id")),
                pid_namespace=_int(data.get("pid_namespace")),
                start=_int(data.get("start")),
            ))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def any_alive(beats: Iterable[Heartbeat], now: float) -> bool:
    """Whether one of these runners is alive: someone acts on what is recorded now."""
    return any(beat.alive(now) for beat in beats)


def live_notes(beats: list[Heartbeat], now: float) -> dict[str, str]:
    """What live runners say of their attempts, by job id (e.g. "queued on gpu (PD: Resources)")."""
    return {job: note for beat in beats if beat.alive(now) for job, note in beat.notes.items()}


def _notes(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _job_ids(value: object) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()
