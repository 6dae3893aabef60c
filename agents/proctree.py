"""What /proc says about a process: its parent, session, start time, environment and open files.

The boundaries in ``agents/boundary.py`` find an attempt's processes with these
reads. A process is named by its pid *and* its start time (clock ticks since
boot): with the default ``pid_max`` of 32768 a pid can come back within
minutes, the pair cannot, so nothing is signalled or reaped on a pid alone.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from jobdeck.state.liveness import stat_fields

_children_files: bool | None = None


@dataclass(frozen=True, slots=True)
class Proc:
    """One process as /proc showed it."""

    pid: int
    state: str
    """A letter from ``/proc/PID/stat``: ``Z`` (exited, not yet reaped) and ``X`` are dead."""
    ppid: int
    pgrp: int
    session: int
    start: int
    """Start time in clock ticks since boot: with ``pid``, the process's identity."""

    @property
    def dead(self) -> bool:
        return self.state in ("Z", "X")


def read(pid: int) -> Proc | None:
    """The process ``pid`` now, or None if there is none."""
    fields = stat_fields(pid)
    if fields is None:
        return None
    try:
        return Proc(pid, fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def command_name(pid: int) -> str | None:
    """The process's command name as /proc gives it (``comm``: at most 15 bytes), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as file:
            return file.read().decode("utf-8", "replace").rstrip("\n")
    except OSError:
        return None


def same(proc: Proc) -> Proc | None:
    """``proc`` as it is now, or None if it is gone (or its pid now names another process)."""
    now = read(proc.pid)
    return now if now is not None and now.start == proc.start else None


def children(pid: int) -> list[int]:
    """The pids of ``pid``'s children, from every one of its threads."""
    global _children_files
    if _children_files is None:
        _children_files = os.path.exists(f"/proc/self/task/{os.getpid()}/children")
    if not _children_files:  # a kernel without CONFIG_PROC_CHILDREN: ask every process for its parent
        return [proc.pid for proc in everyone() if proc.ppid == pid]
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        found.extend(thread_children(pid, int(task)))
    return found


def thread_children(pid: int, tid: int) -> list[int]:
    """The children of one thread (the thread group leader's are where orphans are re-parented)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/children", "rb") as file:
            return [int(word) for word in file.read().split()]
    except OSError:
        return []


def descendants(roots: Iterable[Proc]) -> list[Proc]:
    """The roots and every live process below them (the dead ones cannot run or be signalled)."""
    found: list[Proc] = []
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        proc = stack.pop()
        if proc.pid in seen:
            continue
        seen.add(proc.pid)
        if not proc.dead:
            found.append(proc)
        for pid in children(proc.pid):
            child = read(pid)
            if child is not None:
                stack.append(child)
    return found


def everyone() -> Iterator[Proc]:
    """Every process this one can see."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            proc = read(int(name))
            if proc is not None:
                yield proc


def env_value(pid: int, name: str) -> str | None:
    """The value of ``name`` in the environment the process was started with (None: unset or unreadable).

    Unreadable: another user's process, or a zombie.
    """
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            data = file.read()
    except OSError:
        return None
    key = name.encode() + b"="
    for entry in data.split(b"\0"):
        if entry.startswith(key):
            return entry[len(key):].decode(errors="replace")
    return None


def holds_any(pid: int, files: set[tuple[int, int]]) -> bool:
    """Whether the process has a descriptor open on one of ``files`` ((st_dev, st_ino) pairs)."""
    base = f"/proc/{pid}/fd"
    try:
        descriptors = os.listdir(base)
    except OSError:
        return False
    for fd in descriptors:
        try:
            st = os.stat(f"{base}/{fd}")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in files:
            return True
    return False


def send(proc: Proc, sig: int) -> bool:
    """Signal ``proc`` if it is still that process; False if it is gone.

    Through a pidfd where there is one, so a pid that was reused after the
    check is never signalled. Raises PermissionError for a process this one may
    not signal (another user's, e.g. a setuid program).
    """
    try:
        pidfd = os.pidfd_open(proc.pid)
    except ProcessLookupError:
        return False
    except (AttributeError, OSError):  # no pidfd (old kernel): a check, then kill, is as close as it gets
        if same(proc) is None:
            return False
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return False
        return True
    try:
        if same(proc) is None:
            return False
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)
    return True


def reap(proc: Proc) -> bool:
    """Collect ``proc``'s exit status if it is an exited child of this process; whether it was."""
    now = same(proc)
    if now is None or not now.dead or now.ppid != os.getpid():
        return False
    try:
        return os.waitpid(proc.pid, os.WNOHANG)[0] == proc.pid
    except ChildProcessError:
        return False
