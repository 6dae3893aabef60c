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

import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.state.attempt_dirs import open_in, open_subdir, open_workspace, used_by
from jobdeck.state.attempts import LEASE, LEGACY_LEASE, OUTPUT, RUNS, SET_ASIDE
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AttemptRefused

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
    dir_fd: int = -1
    """The attempt directory, open: jobdeck's own files in it are opened relative to it, never through a link."""
    unsynced: bool = False
    """Started before its claim was durable (an idempotent job's fast path, see ``Runner._settle``)."""
    unstored: bool = False
    """Its claim's write failed after it started: no outcome of it is recorded (the log holds no claim)."""
    moved_aside: Path | None = None
    """Where ``open_attempt`` moved a used directory it found at this attempt's place (idempotent jobs only)."""
    boundary: Boundary | None = None
    """What will hold the attempt's processes (made when the attempt starts)."""
    route: str | None = None
    """The model the decision service routed this attempt to (live mode), from its claim."""
    resume: dict[str, Any] | None = None
    """A dead runner's remote attempt this runner takes over: its ``remote.json`` (``agents/remote.py``)."""

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
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1


def open_attempt(deck: Deck, job_id: str, workspace: str, attempt: int,
                 set_aside: str | None = None) -> tuple[Path, int, int, int, Path | None]:
    """Create the attempt directory, take its lease and create its output file.

    Returns (directory, its descriptor, lease descriptor, output descriptor, where
    a used directory was moved, or None). Call with the deck lock held. The lease
    descriptor is read-only: the child inherits it, and must not get a way around
    the redaction of its stderr through it. Nothing is opened or made through a
    link (see ``state/attempt_dirs.py``). Raises AttemptRefused if a link is in
    the way, or if the directory exists and an attempt used it: its output and
    result are never appended to or replaced.

    ``set_aside`` (given for an idempotent job only: the new claim's token) lets a
    used directory whose lease is free be moved aside as ``<n>.lost-<set_aside>``,
    untouched, and a new one made in its place. An idempotent job's attempt may
    start before its claim is durable; if the claim is then lost (power cut, a
    failed fsync) its directory holds an attempt the log does not record, and the
    job's next claim has the same number. Re-running an idempotent job is allowed
    by definition, and the moved directory keeps every file of the lost attempt.
    """
    directory = deck.attempt_dir(workspace, job_id, attempt)
    workspace_fd = open_workspace(deck, workspace)
    try:
        runs_fd = open_subdir(workspace_fd, RUNS, directory.parent.parent)
        try:
            job_fd = open_subdir(runs_fd, job_id, directory.parent)
        finally:
            os.close(runs_fd)
    finally:
        os.close(workspace_fd)
    moved = None
    try:
        name = str(attempt)
        try:
            os.mkdir(name, 0o700, dir_fd=job_fd)
            made = True
        except FileExistsError:
            made = False
        dir_fd = open_subdir(job_fd, name, directory)
        if not made and set_aside is not None and used_by(dir_fd) is not None and not lease_held(dir_fd):
            os.close(dir_fd)
            moved = directory.parent / move_aside(job_fd, name, set_aside)
            os.mkdir(name, 0o700, dir_fd=job_fd)
            made = True
            dir_fd = open_subdir(job_fd, name, directory)
    finally:
        os.close(job_fd)
    try:
        used = None if made else used_by(dir_fd)
        if used is not None:
            raise AttemptRefused(
                f"{directory} already holds {used} of an attempt the event log does not record",
                hint="was events.jsonl restored from an older copy? check that attempt, then "
                     "`jobdeck retry` the job (its next attempt gets a directory of its own)")
        fd = open_in(dir_fd, LEASE, os.O_RDONLY | os.O_CREAT)
    except BaseException:
        os.close(dir_fd)
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        output = open_in(dir_fd, OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    except BlockingIOError:
        os.close(fd)
        os.close(dir_fd)
        raise AttemptRefused(f"lease of {directory} is held by another process") from None
    except BaseException:
        os.close(fd)
        os.close(dir_fd)
        raise
    return directory, dir_fd, fd, output, moved


def move_aside(job_fd: int, name: str, token: str) -> str:
    """Rename the directory ``name`` in ``job_fd`` to a free ``<name>.lost-<token>[.<k>]``; return the new name.

    ``rename`` moves a link in ``name``'s place, not what it leads to (the caller
    opened ``name`` as a directory without following links, under the deck lock).
    """
    base = f"{name}{SET_ASIDE}{token}"
    target, k = base, 1
    while True:
        try:
            os.stat(target, dir_fd=job_fd, follow_symlinks=False)
        except FileNotFoundError:
            break
        k += 1
        target = f"{base}.{k}"
    os.rename(name, target, src_dir_fd=job_fd, dst_dir_fd=job_fd)
    return target


def lease_held(directory: Path | int) -> bool:
    """Whether some live process holds the attempt's lease (``directory``: a path or an open descriptor).

    An attempt made by an older jobdeck has a ``lease`` file, and perhaps a
    ``stderr.log`` nobody locks: its lease file decides. A link in place of
    either is not followed, and is no lease.
    """
    for name in (LEGACY_LEASE, LEASE):
        try:
            fd = open_in(directory, name, os.O_RDONLY)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                continue
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False
    return False
