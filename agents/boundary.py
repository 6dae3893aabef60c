"""An attempt's boundary: every process the attempt started, setsid daemons included, stopped as one.

A job's program may leave processes behind that its process group does not
hold: ``setsid cmd &``, a double fork, a daemon. They keep its output pipe open
(so the attempt would end only when they do), write into an output file after
the attempt is recorded, and hold the attempt's lease (so after a runner crash
the job would stay ``running`` until they exit). A boundary finds them all and
stops them: SIGTERM, SIGKILL after the grace period, and returns only once
nothing is left. The runner stops it before recording the attempt's outcome.

Two mechanisms, chosen once per runner (``agents/containment.py``): a cgroup v2
group per attempt (``agents/cgroups.py``; nothing leaves it without write access
to another group), or, where cgroups cannot be written, the runner as child
subreaper plus an environment marker and the leader's session
(``agents/subreaper.py``). ``GroupBoundary`` is the process group alone, for an
agent run outside a runner.

The boundary also records, on the attempt's lease file, who its leader and its
runner are (``BoundaryRecord``): after a runner is killed, recovery can tell an
orphaned leader that still runs (the attempt stays leased) from leftovers that
merely inherited the lease descriptor (they are stopped, and the attempt is
resolved). It is written twice: before the leader starts, naming none (the leader
runs before the runner can take it in, and the runner may be killed in between),
and once the leader is in.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from jobdeck.agents import proctree
from jobdeck.agents.proctree import Proc
from jobdeck.state.atomic import FILE_MODE, pid_origin
from jobdeck.state.attempts import BOUNDARY, BOUNDARY_XATTR, LEASE
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.liveness import running

MARKER = "JOBDECK_ATTEMPT_ID"
"""The environment variable naming the attempt (a random token) in all its processes."""
KILL_WAIT = 10.0
"""Seconds to wait for SIGKILLed processes to be gone (one in uninterruptible sleep takes its time)."""


class Boundary(ABC):
    """Everything one attempt started: taken in as it starts, stopped together."""

    kind: str = ""
    poll: float = 0.05
    """Longest pause between two looks at what is left while stopping."""
    keeps_leader: bool = True
    """Whether the leader must stay unreaped until the boundary is stopped (its pid names its session)."""

    def __init__(self, token: str | None = None, directory: Path | None = None, lease_fd: int = -1,
                 runner: Proc | None = None) -> None:
        self.token = token
        self.directory = directory
        self.lease_fd = lease_fd
        self.runner = runner
        self.leader: Proc | None = None
        self.denied: set[tuple[int, int]] = set()
        """Members this process may not signal (another user's): not waited for."""

    @property
    def env(self) -> dict[str, str]:
        """Variables to add to the attempt's environment (the marker its descendants inherit)."""
        return {MARKER: self.token} if self.token else {}

    def prepare(self) -> None:
        """Get ready for a leader to start, and record that one is starting.

        The leader runs before ``adopt`` can record it: a runner killed in
        between leaves the record written here, which names no leader but the
        runner and the token, so that recovery finds and stops what the attempt
        runs (without it, a leader holding the lease ran on, past every timeout).
        """
        self._ready()
        self._record()

    def _ready(self) -> None:
        """Whatever makes taking the leader in cost as little time as possible."""

    def adopt(self, pid: int) -> None:
        """Take in the attempt's just-started leader (before it can have done much) and record it."""
        crash_point("leader.started")  # (it runs: only the record written at ``prepare`` tells of it)
        self._enclose(pid)
        self.leader = proctree.read(pid)
        self._adopted()
        if self.leader is not None:
            self._record()

    def _record(self) -> None:
        if self.directory is not None and self.runner is not None:
            write_record(self.directory, self.lease_fd, self.record())

    def release_leader(self) -> None:
        """The leader's exit status was collected: its pid may now name another process."""

    @abstractmethod
    def _enclose(self, pid: int) -> None:
        """Put the leader inside, as fast as possible: it is running already."""

    def _adopted(self) -> None:
        """The leader is inside and ``self.leader`` is set."""

    @abstractmethod
    def members(self) -> list[Proc]:
        """The live processes inside."""

    def record(self) -> BoundaryRecord:
        assert self.runner is not None
        leader = None if self.leader is None else (self.leader.pid, self.leader.start)
        return BoundaryRecord(self.kind, pid_origin(), (self.runner.pid, self.runner.start), leader, self.token or "-")

    def _signal(self, members: list[Proc], sig: int) -> None:
        for proc in members:
            try:
                proctree.send(proc, sig)
            except PermissionError:
                self.denied.add((proc.pid, proc.start))

    def _reachable(self) -> list[Proc]:
        return [proc for proc in self.members() if (proc.pid, proc.start) not in self.denied]

    def _kill(self, members: list[Proc]) -> None:
        # Stopped first, all of them: signalled one by one, a process could otherwise see
        # another die (a shell whose `sleep` is killed) and write before its own SIGKILL lands.
        self._signal(members, signal.SIGSTOP)
        self._signal(members, signal.SIGKILL)

    async def stop(self, grace: float) -> list[tuple[int, str]]:
        """SIGTERM everything inside, SIGKILL what is left after ``grace`` seconds; return once nothing is.

        A member this process may not signal (a setuid program's) is left alone. Returns what it found
        inside, as (pid, command name), the leader apart: after a leader that exited by itself, what its
        job left running, which the runner says it stopped.
        """
        members = self._reachable()
        if not members:
            return []
        leader = self.leader.pid if self.leader is not None else None
        found = [(proc.pid, proctree.command_name(proc.pid) or "?") for proc in members
                 if proc.pid != leader and not proc.dead]
        self._signal(members, signal.SIGTERM)
        told = {(proc.pid, proc.start) for proc in members}
        deadline = time.monotonic() + grace
        pause = 0.005
        while members and time.monotonic() < deadline:
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, self.poll)
            members = self._reachable()
            new = [proc for proc in members if (proc.pid, proc.start) not in told]
            if new:  # forked before its parent got the signal: it gets its own
                self._signal(new, signal.SIGTERM)
                told.update((proc.pid, proc.start) for proc in new)
        gone_by = time.monotonic() + KILL_WAIT
        pause = 0.002
        while members and time.monotonic() < gone_by:
            self._kill(members)  # again each round: a process may have forked before its SIGKILL landed
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.poll)
            members = self._reachable()
        return found

    def close(self) -> None:
        """Let go of what the boundary holds (its cgroup). Call after ``stop``."""


class GroupBoundary(Boundary):
    """The leader's process group only: what a process started outside a runner gets."""

    kind = "group"
    keeps_leader = False  # a group with an unreaped leader always looks alive to killpg

    def _enclose(self, pid: int) -> None:
        pass  # the leader starts a session of its own: its group is its pid

    def members(self) -> list[Proc]:
        if self.leader is None:
            return []
        leader = proctree.same(self.leader)
        if leader is not None and leader.dead:
            # Exited but kept unreaped (a cgroup boundary that fell back to this), so killpg
            # would always find the group: look at everyone for what is left of it.
            return [proc for proc in proctree.everyone() if proc.pgrp == self.leader.pid and not proc.dead]
        try:
            os.killpg(self.leader.pid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [self.leader]  # stands for the group, which is signalled as one

    def _signal(self, members: list[Proc], sig: int) -> None:
        if self.leader is not None:
            try:
                os.killpg(self.leader.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


# -- what recovery reads ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoundaryRecord:
    """Who ran an attempt and how to find its processes, kept on the attempt's lease file for recovery."""

    kind: str
    """``cgroup`` or ``subreaper``: a cgroup's directory is found by its runner's pid and the token."""
    origin: str
    """``pid_origin()`` of the runner: pids are only judged by a process of the same origin."""
    runner: tuple[int, int]
    """The runner's (pid, start time)."""
    leader: tuple[int, int] | None
    """The attempt's leader's (pid, start time); None while it is being started (``-``)."""
    token: str
    """The value of ``JOBDECK_ATTEMPT_ID`` in the attempt's processes (and its cgroup's name)."""

    def encode(self) -> bytes:
        """At most 60 bytes, so that ext4 keeps it inside the inode (64 with 256-byte inodes) instead
        of a 4 KiB block of its own per attempt; numbers in hex."""
        leader = "-" if self.leader is None else f"{self.leader[0]:x}.{self.leader[1]:x}"
        return f"{self.kind[0]}{self.origin} {self.runner[0]:x}.{self.runner[1]:x} {leader} {self.token}".encode()

    @classmethod
    def decode(cls, data: bytes) -> BoundaryRecord | None:
        try:
            head, runner, leader, token = data.decode().split(" ")
            kind = _KINDS[head[0]]
            return cls(kind, head[1:], _pair(runner), None if leader == "-" else _pair(leader), token)
        except (ValueError, KeyError, IndexError):  # also UnicodeDecodeError
            return None

    @property
    def local(self) -> bool:
        """Whether its pids can be checked from here (same host, boot and pid namespace)."""
        return self.origin == pid_origin()

    def runner_alive(self) -> bool:
        return _alive(self.runner)

    def leader_alive(self) -> bool:
        """Whether the recorded leader runs; False when none is recorded (its runner died as it started it: what
        the attempt runs is then stopped as for a leader gone, ``runner/recovery.py``)."""
        return self.leader is not None and _alive(self.leader)


_KINDS = {"c": "cgroup", "s": "subreaper"}


def _pair(text: str) -> tuple[int, int]:
    pid, start = text.split(".")
    return int(pid, 16), int(start, 16)


def _alive(identity: tuple[int, int]) -> bool:
    return running(*identity) is True  # the check runner heartbeats are judged by too


def write_record(directory: Path, lease_fd: int, record: BoundaryRecord) -> bool:
    """Keep ``record`` with the attempt: an extended attribute of its lease file, else a small file.

    The attribute costs a few microseconds and no new file; filesystems
    without user attributes (older tmpfs, some network filesystems) get the
    file. Rewritten for each leader of the attempt. Whether it was kept: an
    attempt without one is recovered as before boundaries (its lease alone decides).
    """
    data = record.encode()
    try:
        os.setxattr(lease_fd, BOUNDARY_XATTR, data)
        return True
    except OSError as exc:
        if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.E2BIG, errno.ENOSPC):
            return False
    try:
        fd = os.open(directory / BOUNDARY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     FILE_MODE)
    except OSError:
        return False
    try:
        os.write(fd, data)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def read_record(directory: Path) -> BoundaryRecord | None:
    """The attempt's ``BoundaryRecord``, or None (none written, or unreadable)."""
    try:
        return BoundaryRecord.decode(os.getxattr(directory / LEASE, BOUNDARY_XATTR, follow_symlinks=False))
    except OSError:
        pass
    try:
        fd = os.open(directory / BOUNDARY, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return BoundaryRecord.decode(os.read(fd, 4096))
    except OSError:
        return None
    finally:
        os.close(fd)
