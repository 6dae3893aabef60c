"""cgroup v2 boundaries: one group per attempt, below a group of the runner's own.

A process cannot leave its cgroup without write access to another group, so
setsid, double forks and closed descriptors change nothing: the group holds
every descendant, ``cgroup.kill`` kills them all at once (Linux 5.14+; before,
each member is signalled until none is left), and ``cgroup.events`` says when
the group is empty. Usable where the runner may create groups below its own
(root, or a delegated systemd unit: ``systemd-run --user -p Delegate=yes``);
``GroupTree.make`` finds out by moving the runner itself into a leaf of its
own group, once per runner.

The leader is moved into its group right after it starts, and what it forked
before that with it (its children are looked up after the move). A shell
leader can fork a daemon and exit before the runner gets to move it (both
take well under a millisecond); the daemon then stays in the runner's leaf,
where the attempt's marker finds it. Python's subprocess cannot start a child
inside a group (``CLONE_INTO_CGROUP``) without giving up vfork: a
``preexec_fn`` costs a full fork (7.8 ms instead of 0.66 ms per spawn for a
150 MB runner, measured), a shell wrapper doubles the spawn (1.3 ms).
"""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

from jobdeck.agents import proctree
from jobdeck.agents.boundary import MARKER, Boundary, GroupBoundary
from jobdeck.agents.proctree import Proc


def own_directory() -> Path | None:
    """This process's cgroup v2 directory, or None (no cgroup v2 mounted, or ours is not visible)."""
    try:
        with open("/proc/self/cgroup") as file:
            lines = file.read().splitlines()
        with open("/proc/self/mountinfo") as file:
            mounts = file.read().splitlines()
    except OSError:
        return None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    if path is None or not path.startswith("/") or path.endswith(" (deleted)"):
        return None
    for line in mounts:
        fields = line.split()
        try:
            fstype = fields[fields.index("-") + 1]
        except (ValueError, IndexError):
            continue
        if fstype != "cgroup2":
            continue
        root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        if root == "/":
            inside = path
        elif path == root or path.startswith(root + "/"):
            inside = path[len(root):]
        else:
            continue
        directory = Path(mountpoint + inside.rstrip("/")) if inside != "/" else Path(mountpoint)
        if (directory / "cgroup.procs").exists():
            return directory
    return None


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def move(group: Path, pid: int) -> None:
    """Move process ``pid`` (all its threads) into ``group``. Raises OSError (ESRCH: it has exited)."""
    fd = os.open(group / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(pid).encode())
    finally:
        os.close(fd)


def procs(group: Path) -> list[int]:
    """The pids in ``group`` (exited processes are not listed); none if it is gone."""
    try:
        with open(group / "cgroup.procs", "rb") as file:
            return [int(word) for word in file.read().split()]
    except OSError:
        return []


def populated(group: Path) -> bool:
    """Whether any live process is in ``group`` (or in a group below it)."""
    try:
        with open(group / "cgroup.events", "rb") as file:
            return b"populated 1" in file.read()
    except OSError:
        return False


def kill(group: Path) -> bool:
    """SIGKILL every process in ``group`` at once; False where the kernel has no ``cgroup.kill``."""
    try:
        fd = os.open(group / "cgroup.kill", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.write(fd, b"1")
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def remove(group: Path) -> bool:
    """Remove an empty group; whether it is gone."""
    try:
        os.rmdir(group)
    except FileNotFoundError:
        return True
    except OSError:  # EBUSY: not empty yet
        return False
    return True


def find_group(runner_pid: int, token: str) -> Path | None:
    """The group ``token`` of the runner ``runner_pid`` (for recovery, when that runner is gone), or None.

    Looked for next to this process's own group and its parents first (runners of
    one deck usually share one), then in the whole hierarchy.
    """
    home = own_directory()
    if home is None:
        return None
    prefix = f"jobdeck-{runner_pid}-"
    place = home
    while True:
        found = _group_in(place, prefix, token)
        if found is not None:
            return found
        if not (place.parent / "cgroup.procs").exists():
            break  # the hierarchy's root
        place = place.parent
    for directory, subdirectories, _ in os.walk(place):
        found = _group_in(Path(directory), prefix, token, subdirectories)
        if found is not None:
            return found
    return None


def _group_in(place: Path, prefix: str, token: str, names: list[str] | None = None) -> Path | None:
    try:
        names = os.listdir(place) if names is None else names
    except OSError:
        return None
    for name in names:
        if name.startswith(prefix) and (place / name / token / "cgroup.procs").exists():
            return place / name / token
    return None


class GroupTree:
    """The runner's group below its own cgroup: a leaf the runner moves itself into, and one group per attempt.

    The runner lives in ``runner/`` so that every child is born inside the tree:
    a descendant forked and orphaned before its leader was moved into the
    attempt's group is left in ``runner/`` (which otherwise holds only the
    runner and its validators), where the attempt's marker finds it.
    """

    RUNNER = "runner"

    def __init__(self, directory: Path, home: Path) -> None:
        self.directory = directory
        self.home = home
        """The cgroup the runner was in, and goes back to when it closes."""

    @property
    def runner_group(self) -> Path:
        return self.directory / self.RUNNER

    @classmethod
    def make(cls) -> GroupTree:
        """Create this runner's groups and move the runner into its leaf.

        Raises OSError when it cannot (no cgroup v2, no write access, no delegation).
        """
        home = own_directory()
        if home is None:
            raise FileNotFoundError("no cgroup v2 hierarchy holds this process")
        _sweep(home)
        tree = cls(home / f"jobdeck-{os.getpid()}-{secrets.token_hex(3)}", home)
        os.mkdir(tree.directory)
        try:
            os.mkdir(tree.runner_group)
            move(tree.runner_group, os.getpid())
            if os.getpid() not in procs(tree.runner_group):
                raise PermissionError(f"this process was moved into {tree.runner_group} but is not there")
        except BaseException:
            remove(tree.runner_group)
            remove(tree.directory)
            raise
        return tree

    def new_group(self, name: str) -> Path:
        group = self.directory / name
        os.mkdir(group)
        return group

    def remove(self) -> None:
        """Go back to the cgroup the runner came from; remove the groups if no attempt group is left."""
        if os.getpid() in procs(self.runner_group):
            try:
                move(self.home, os.getpid())
            except OSError:
                return
        if remove(self.runner_group):
            remove(self.directory)


def _sweep(home: Path) -> None:
    """Remove the empty groups that runners killed before us left behind.

    A tree whose runner leaf holds a process belongs to a live runner (it lives
    there until it closes): it is not touched, not even its empty attempt groups
    (one is empty from its creation until its leader is moved in).
    """
    try:
        trees = [Path(entry.path) for entry in os.scandir(home) if entry.name.startswith("jobdeck-") and entry.is_dir()]
    except OSError:
        return
    for tree in trees:
        if populated(tree / GroupTree.RUNNER):
            continue
        try:
            groups = [Path(entry.path) for entry in os.scandir(tree) if entry.is_dir()]
        except OSError:
            continue
        if all([remove(group) for group in groups]):
            remove(tree)


def _stragglers(runner_group: Path, token: str, leader: Proc | None, files: set[tuple[int, int]]) -> list[Proc]:
    """Processes of the attempt left in the runner's leaf (forked before their leader was moved).

    Told apart as the subreaper boundary tells orphans apart: marker, session, open files.
    The runner's own children are never one: a leader not yet moved into its group, or
    a helper (sbatch, a validator, an alert hook) that, forked and not yet exec'd, still
    holds a copy of every descriptor the runner has open, the attempt's files among them.
    (A leftover's parent is its leader or what adopted it; the runner adopts nothing here.)
    """
    found = []
    runner = os.getpid()
    for pid in procs(runner_group):
        if pid == runner:
            continue
        proc = proctree.read(pid)
        if proc is None or proc.dead or proc.ppid == runner:
            continue
        if (leader is not None and proc.session == leader.pid) or proctree.env_value(pid, MARKER) == token \
                or (files and proctree.holds_any(pid, files)):
            found.append(proc)
    return found


class CgroupBoundary(Boundary):
    """An attempt in a cgroup of its own (made when its leader starts)."""

    kind = "cgroup"
    poll = 0.02

    def __init__(self, tree: GroupTree | None = None, group: Path | None = None,
                 files: set[tuple[int, int]] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.tree = tree
        self.files = files or set()
        """(st_dev, st_ino) of the attempt's output and lease files."""
        self.group = group
        self.runner_group = tree.runner_group if tree is not None else \
            (group.parent / GroupTree.RUNNER if group is not None else None)
        self.holds_leader = False
        self._strays: list[Proc] = []
        self.fallback: GroupBoundary | None = None
        """The process group, for an attempt whose group could not be made (e.g. cgroup.max.descendants)."""

    def _ready(self) -> None:
        assert self.tree is not None and self.token is not None
        if self.group is None and self.fallback is None:
            try:
                self.group = self.tree.new_group(self.token)
            except OSError:
                self.fallback = GroupBoundary()

    def _enclose(self, pid: int) -> None:
        self.holds_leader = True
        if self.fallback is None:
            self._ready()
        try:
            if self.group is not None:
                move(self.group, pid)
        except ProcessLookupError:  # it has exited already (a `true`); what it left is in the runner's leaf
            return
        except OSError:
            remove(self.group)  # type: ignore[arg-type]
            self.group = None
            self.fallback = GroupBoundary()
        if self.group is None:
            return
        # What it forked before the move is still outside: bring it in (children after parents,
        # so anything forked meanwhile is born inside).
        stack = proctree.children(pid)
        while stack:
            child = stack.pop()
            try:
                move(self.group, child)
            except OSError:
                continue
            stack.extend(proctree.children(child))

    def _adopted(self) -> None:
        if self.fallback is not None:
            self.fallback.leader = self.leader

    def release_leader(self) -> None:
        self.holds_leader = False

    def members(self) -> list[Proc]:
        if self.fallback is not None:
            return self.fallback.members()
        found = []
        if self.group is not None:
            for pid in procs(self.group):
                proc = proctree.read(pid)
                if proc is not None and not proc.dead:
                    found.append(proc)
        self._strays = []
        if self.runner_group is not None and self.token is not None:
            self._strays = _stragglers(self.runner_group, self.token, self.leader if self.holds_leader else None,
                                       self.files)
        return found + self._strays

    def _signal(self, members: list[Proc], sig: int) -> None:
        (self.fallback._signal if self.fallback is not None else super()._signal)(members, sig)

    def _kill(self, members: list[Proc]) -> None:
        if self.fallback is not None or self.group is None:
            super()._kill(members)
            return
        self._signal(self._strays, signal.SIGSTOP)
        if not kill(self.group):  # no cgroup.kill (Linux < 5.14): one by one, stopped first
            super()._kill(members)
            return
        self._signal(self._strays, signal.SIGKILL)

    def close(self) -> None:
        if self.group is None or not remove(self.group):
            return
        group, self.group = self.group, None  # closed twice (run_attempt, then the loop): one rmdir
        if self.tree is not None:
            return
        # recovery of a dead runner's attempt: its groups go with its last attempt
        tree = group.parent
        if remove(tree / GroupTree.RUNNER):
            remove(tree)
