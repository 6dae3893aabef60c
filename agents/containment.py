"""Which boundary a runner gives its attempts, chosen once: a cgroup where it can make one, else the subreaper.

``JOBDECK_BOUNDARY`` in the runner's environment chooses: ``auto`` (the
default: cgroup if usable, else subreaper), ``cgroup`` (an error if cgroups
cannot be used) or ``subreaper``. The choice is reported when the runner starts.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from jobdeck.agents import proctree
from jobdeck.agents.boundary import Boundary, BoundaryRecord
from jobdeck.agents.cgroups import CgroupBoundary, GroupTree, find_group
from jobdeck.agents.subreaper import Orphans, ScannedBoundary, SubreaperBoundary, become_subreaper
from jobdeck.state.attempts import LEASE, OUTPUT
from jobdeck.state.errors import JobdeckError

CHOICES = ("auto", "cgroup", "subreaper")
_TOKEN = re.compile(r"[0-9a-f]{16}")


class Containment:
    """Makes each attempt's boundary with the mechanism this runner can use."""

    def __init__(self, kind: str, tree: GroupTree | None = None, why: str | None = None) -> None:
        self.kind = kind
        self.tree = tree
        self.why = why
        """Why cgroups are not used, when they are not."""
        self.orphans = Orphans()
        self.runner = proctree.read(os.getpid())

    @classmethod
    def detect(cls, wanted: str = "auto") -> Containment:
        """The best mechanism available (``wanted``: one of CHOICES). Raises JobdeckError for a bad choice."""
        if wanted not in CHOICES:
            raise JobdeckError(f"JOBDECK_BOUNDARY={wanted!r} is not one of {', '.join(CHOICES)}")
        why = "JOBDECK_BOUNDARY=subreaper"
        if wanted != "subreaper":
            try:
                return cls("cgroup", GroupTree.make())
            except OSError as exc:
                if wanted == "cgroup":
                    raise JobdeckError(f"cannot make cgroups for attempts: {exc}",
                                       hint="run as root, in a delegated systemd unit, or with "
                                            "JOBDECK_BOUNDARY=auto") from None
                why = f"no cgroup: {exc}"
        if not become_subreaper():
            why += "; not a subreaper either: detached processes are found only while their parent lives"
        return cls("subreaper", why=why)

    def open(self, directory: Path, lease_fd: int) -> Boundary:
        """A boundary for the attempt in ``directory`` whose lease is ``lease_fd``."""
        token = secrets.token_hex(8)
        common = {"token": token, "directory": directory, "lease_fd": lease_fd, "runner": self.runner}
        if self.tree is not None:
            return CgroupBoundary(tree=self.tree, files=attempt_files(directory), **common)
        return SubreaperBoundary(self.orphans, files=attempt_files(directory), **common)

    def close(self) -> None:
        """Remove the runner's cgroup (call once every attempt is over)."""
        if self.tree is not None:
            self.tree.remove()


def attempt_files(directory: Path) -> set[tuple[int, int]]:
    """(st_dev, st_ino) of the attempt's output and lease files: holding one open ties a process to it."""
    files = set()
    for name in (OUTPUT, LEASE):
        try:
            st = os.stat(directory / name, follow_symlinks=False)
        except OSError:
            continue
        files.add((st.st_dev, st.st_ino))
    return files


def reopen(record: BoundaryRecord, directory: Path, lease_held: Callable[[], bool]) -> Boundary | None:
    """The boundary of a dead runner's attempt, as ``record`` describes it; None if it cannot be reached."""
    # The record sits in the deck, where a job can write: it only ever names an attempt
    # group that this code made, or processes carrying a token of the form it gives.
    if not _TOKEN.fullmatch(record.token):
        return None
    if record.kind == "cgroup":
        group = find_group(record.runner[0], record.token)
        return None if group is None else CgroupBoundary(group=group, files=attempt_files(directory), token=record.token)
    if record.kind == "subreaper":
        return ScannedBoundary(attempt_files(directory), lease_held, token=record.token)
    return None
