"""Boundaries without cgroups: the runner as child subreaper, attempts told apart by marker and session.

Where the runner may not create cgroups (a user without delegation), it makes
itself a child subreaper (``PR_SET_CHILD_SUBREAPER``): a process whose parent
exits is re-parented to the runner instead of init, so every live descendant
of every attempt stays in the runner's process tree, whatever setsid or double
forks it did. The kernel hands such orphans to the runner's first thread (the
thread group leader), where the only other children are the attempts' leaders,
which are known (validators run on worker threads). An orphan belongs to the
attempt whose ``JOBDECK_ATTEMPT_ID`` is in its environment, or whose leader's
session it is in (checked only while that leader is unreaped, so its pid cannot
name another process), or whose output or lease file it holds open; what it
started belongs with it. The marker is the main test because it survives
everything daemons usually do (setsid, double fork, closing descriptors,
``cd /``), is inherited by default, and tells concurrent attempts apart; the
session covers a process that cleared its environment but stayed in the
session, the open files one that did both but can still write into the attempt.

Left outside: a process that clears its environment, leaves the session *and*
closes the attempt's files (it can neither write into the attempt nor hold its
lease), and whatever leaves the process tree altogether (``systemd-run``,
``at``). The runner collects the exit status of the orphans it stopped or could
tell apart; one of that first kind that exits by itself stays a zombie until the
runner exits.

After a runner is killed its orphans go to init, so recovery (another runner)
finds a dead runner's leftovers by looking at every process (``ScannedBoundary``).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

from jobdeck.agents import proctree
from jobdeck.agents.boundary import MARKER, Boundary
from jobdeck.agents.proctree import Proc

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants; whether that worked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), ctypes.c_ulong(0),
                              ctypes.c_ulong(0), ctypes.c_ulong(0))) == 0
    except (OSError, AttributeError):
        return False


class Orphans:
    """The runner's re-parented orphans, and which attempt each belongs to as far as it can be told."""

    def __init__(self) -> None:
        self.open: dict[str, SubreaperBoundary] = {}
        """Open boundaries by token."""
        self.leaders: dict[int, Proc] = {}
        """Unreaped leaders of open boundaries, by pid: children of ours that are no orphans."""
        self.owners: dict[tuple[int, int], str | None] = {}
        """(pid, start) → the token of the attempt a process was found to belong to (None: none)."""

    def roots(self) -> list[Proc]:
        """The live orphans; the exited ones known to belong to an attempt are reaped on the way."""
        me = os.getpid()
        live = []
        for pid in proctree.thread_children(me, me):
            if pid in self.leaders:
                continue
            proc = proctree.read(pid)
            if proc is None:
                continue
            if not proc.dead:
                live.append(proc)
            elif self._belongs_somewhere(proc) and proctree.reap(proc):
                self.owners.pop((proc.pid, proc.start), None)
        if len(self.owners) > 4 * len(live) + 64:  # forget processes that are gone
            self.owners = {key: token for key, token in self.owners.items()
                           if proctree.read(key[0]) is not None}
        return live

    def _belongs_somewhere(self, proc: Proc) -> bool:
        if self.owners.get((proc.pid, proc.start)) is not None:
            return True
        return any(leader.pid == proc.session for leader in self.leaders.values())

    def owner(self, proc: Proc) -> str | None:
        """The token of the attempt a live orphan belongs to, or None."""
        key = (proc.pid, proc.start)
        if key in self.owners:
            return self.owners[key]
        token = None
        for boundary in self.open.values():
            if boundary.holds_leader and boundary.leader is not None and proc.session == boundary.leader.pid:
                token = boundary.token
                break
        else:
            token = proctree.env_value(proc.pid, MARKER)
            if token is None:
                token = next((boundary.token for boundary in self.open.values()
                              if boundary.files and proctree.holds_any(proc.pid, boundary.files)), None)
        self.owners[key] = token
        return token


class SubreaperBoundary(Boundary):
    """An attempt's processes: its leader's subtree and the orphans that belong to it."""

    kind = "subreaper"

    def __init__(self, orphans: Orphans, files: set[tuple[int, int]] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.orphans = orphans
        self.files = files or set()
        """(st_dev, st_ino) of the attempt's output and lease files."""
        self.holds_leader = False
        assert self.token is not None
        orphans.open[self.token] = self

    def _enclose(self, pid: int) -> None:
        pass  # it is below the subreaper already

    def _adopted(self) -> None:
        if self.leader is not None:
            self.holds_leader = True
            self.orphans.leaders[self.leader.pid] = self.leader

    def release_leader(self) -> None:
        self.holds_leader = False
        if self.leader is not None:
            self.orphans.leaders.pop(self.leader.pid, None)

    def members(self) -> list[Proc]:
        roots = []
        if self.holds_leader and self.leader is not None:
            leader = proctree.same(self.leader)
            if leader is not None and not leader.dead:
                roots.append(leader)
        roots.extend(proc for proc in self.orphans.roots() if self.orphans.owner(proc) == self.token)
        found = proctree.descendants(roots)
        for proc in found:  # so that each is reaped once it is killed and handed to us
            self.orphans.owners[(proc.pid, proc.start)] = self.token
        return found

    def close(self) -> None:
        self.release_leader()
        self.orphans.open.pop(self.token or "", None)


class ScannedBoundary(Boundary):
    """A dead runner's attempt: its processes found among all processes, by marker and open files."""

    kind = "subreaper"
    poll = 0.2

    def __init__(self, files: set[tuple[int, int]], held: Callable[[], bool], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.files = files
        self.held = held
        """Whether the attempt's lease is still held: then its holders are looked for by open files too."""

    def _enclose(self, pid: int) -> None:
        raise NotImplementedError("a recovered boundary takes nothing in")

    def members(self) -> list[Proc]:
        look_at_files = bool(self.files) and self.held()
        roots = []
        for proc in proctree.everyone():
            if proc.dead or proc.pid == os.getpid():
                continue
            if proctree.env_value(proc.pid, MARKER) == self.token or \
                    (look_at_files and proctree.holds_any(proc.pid, self.files)):
                roots.append(proc)
        return proctree.descendants(roots)
