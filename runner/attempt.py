"""The attempt directory and its lease: where an attempt's files live, and who may run it.

The attempt directory and its lease are created while the claim's lock is held
(see ``open_attempt``), so another runner's recovery can never see a claimed
attempt without a held lease unless its runner really died. The lease is a
flock on the attempt's ``stderr.log``, which therefore always exists; its
descriptor is inherited by the child (``pass_fds``): an orphaned child keeps
the lease after its runner is killed, and no one re-runs the attempt meanwhile.
Whatever the child starts inherits the descriptor too; none of it outlives the
attempt holding it: the attempt's boundary (``agents/boundary.py``) is stopped
before its lease is released, and after a runner crash recovery stops what is
left once the leader has exited (``runner/recovery.py``).
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobdeck.state.atomic import FILE_MODE, make_private_dir
from jobdeck.state.attempts import LEASE, LEGACY_LEASE, OUTPUT
from jobdeck.state.deck import Deck
from jobdeck.state.errors import JobdeckError

if TYPE_CHECKING:
    from jobdeck.agents.boundary import Boundary



@dataclass
class Claimed:
    """A claim this runner holds: the attempt's identity and its lease descriptor."""

    job_id: str
    attempt: int
    token: int
    workspace: str
    tries: int
    directory: Path
    lease_fd: int
    started: float
    output_fd: int = -1
    """The attempt's output file, created with the lease; the attempt's OutputSink takes it over."""
    boundary: Boundary | None = None
    """What will hold the attempt's processes (made when the attempt starts)."""

    def take_output(self) -> int:
        fd, self.output_fd = self.output_fd, -1
        return fd

    def release(self) -> None:
        """Drop the lease (closing our descriptor; a child's inherited one closes with it)."""
        if self.output_fd >= 0:
            os.close(self.take_output())
        if self.lease_fd >= 0:
            os.close(self.lease_fd)
            self.lease_fd = -1


def open_attempt(deck: Deck, job_id: str, workspace: str, attempt: int) -> tuple[Path, int, int]:
    """Create the attempt directory, take its lease and create its output file.

    Returns (directory, lease descriptor, output descriptor). Call with the deck
    lock held. The lease descriptor is read-only: the child inherits it, and
    must not get a way around the redaction of its stderr through it.
    """
    runs = deck.job_runs_dir(workspace, job_id)
    directory = runs / str(attempt)
    path = str(directory)
    try:
        if attempt == 1:  # the job's first attempt: its runs directory is new too (usually)
            os.mkdir(runs, 0o700)
        os.mkdir(path, 0o700)
    except FileNotFoundError:
        make_private_dir(runs)
        directory.mkdir(mode=0o700, exist_ok=True)
    except FileExistsError:
        make_private_dir(directory)
    fd = os.open(path + "/" + LEASE, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        output = os.open(path + "/" + OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
    except BlockingIOError:
        os.close(fd)
        raise JobdeckError(f"lease of {directory} is held by another process") from None
    except BaseException:
        os.close(fd)
        raise
    return directory, fd, output


def lease_held(directory: Path) -> bool:
    """Whether some live process holds the attempt's lease.

    An attempt made by an older jobdeck has a ``lease`` file, and perhaps a
    ``stderr.log`` nobody locks: its lease file decides.
    """
    for name in (LEGACY_LEASE, LEASE):
        try:
            fd = os.open(directory / name, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False
    return False
