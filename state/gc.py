"""Carrying out retention: find the attempt directories, remove what state/retention.py says may go.

Every directory is reached as in state/attempt_dirs.py: the workspace opened and
checked to be inside the deck, then ``runs``, ``<job>`` and each entry opened
relative to the one above, never through a link; a link planted anywhere there
is skipped, and nothing it leads to is read or removed.

Removal is in two steps, so that a kill at any moment leaves either the whole
attempt or a tombstone: under the deck lock (the board read and the decision
made in the same hold, so no claim comes in between), each directory is renamed
to ``.gc-<name>`` in its job directory; after the lock is let go, the tombstones are
removed (``shutil.rmtree`` with ``dir_fd``, which follows no link). A tombstone
left by an earlier gc is finished by the next one. Attempt numbers come from the
log, so a removed attempt's number, and its directory, are never used again.

A gc that removed anything then commits one deck-level ``gc`` record to the log
(``GC_TYPE``): what went, the bytes freed, the retention rules that let it go,
and who ran it, so the chain of work says where an attempt directory went.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.state.attempt_dirs import DIR_FLAGS, open_workspace
from jobdeck.state.attempts import RUNS, parse_attempt_dir
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.errors import AttemptRefused, JobdeckError, deck_access_error
from jobdeck.state.ids import ID_RE
from jobdeck.state.retention import AttemptDir, Decision, decide

if TYPE_CHECKING:
    from jobdeck.state.board import Store
    from jobdeck.state.deck import Deck
    from jobdeck.state.spec import Spec

TOMBSTONE = ".gc-"
"""Prefix of an attempt directory being removed: ``runs/<job>/.gc-<n>`` (or ``.gc-<n>.lost-<token>``)."""
GC_TYPE = "gc"
"""The deck-level record of a gc that removed something: ``by``, ``via``, ``removed``, ``bytes_freed``,
``attempts``, ``reasons`` (and ``more``, ``finished`` when not zero). The fold passes it by, as any record of no job."""
NAMED = 20
"""Attempt directories a ``gc`` record names (``<job>/<n>``); the rest are counted (``more``)."""


@dataclass
class Removed:
    """An attempt directory gc removed (or, on a dry run, would remove)."""

    attempt: AttemptDir
    why: str
    bytes: int


@dataclass(frozen=True, slots=True)
class GcError:
    """A directory gc could not remove (an attempt, or the tombstone of one), and how to mend it.

    Built where the removal failed, so `jobdeck gc`, its ``--json`` and the runner's own gc say the same.
    """

    path: Path
    """The directory's full path."""
    why: str
    """What refused: the system's words (e.g. "Permission denied") or jobdeck's refusal."""
    hint: str
    """How to mend it (a command to run, where there is one)."""

    def __str__(self) -> str:
        return f"could not remove {self.path}: {self.why} (hint: {self.hint})"

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "why": self.why, "hint": self.hint, "message": str(self)}


@dataclass
class GcReport:
    """What one gc did."""

    dry_run: bool
    removed: list[Removed] = field(default_factory=list)
    kept: list[Decision] = field(default_factory=list)
    tombstones: int = 0
    """Tombstones of an earlier, interrupted gc that this one finished."""
    errors: list[GcError] = field(default_factory=list)
    """Directories that could not be removed (the rest went on)."""
    record: dict[str, Any] | None = None
    """The ``gc`` record committed to the log (None: a dry run, nothing removed, or the commit failed)."""
    unrecorded: JobdeckError | None = None
    """Why the record of what was removed could not be committed (the directories are gone all the same)."""

    @property
    def bytes_freed(self) -> int:
        return sum(item.bytes for item in self.removed)


def collect(deck: Deck, store: Store, spec: Spec, now: float, *, by: str, via: str,
            dry_run: bool = False, progress: Callable[[int, int | None], None] | None = None) -> GcReport:
    """Apply ``spec``'s retention to the deck: finish old tombstones, decide, remove (or only say, ``dry_run``).

    What was removed is then committed as one ``gc`` record, attributed to ``by`` (``user@host``, or a
    runner's id) and ``via`` (``cli``, ``runner``).
    """
    report = GcReport(dry_run=dry_run)
    if not dry_run:
        for workspace, job, name in _tombstones(deck):
            if _remove_tombstone(deck, workspace, job, name, report):
                report.tombstones += 1  # finished; one it could not remove is among the errors
    found = scan(deck)  # outside the lock: a directory made meanwhile is simply not considered
    # A dry run changes nothing, so it takes no lock: it needs no write access (a deck another user owns
    # can be asked), and its answer is what the board says as it reads it.
    with contextlib.nullcontext() if dry_run else store.lock:
        store.refresh()
        decisions = decide(spec, store.board, found, now)
        doomed = [d for d in decisions if d.delete]
        report.kept = [d for d in decisions if not d.delete]
        buried: list[Decision] = []
        for n, decision in enumerate(doomed):
            attempt = decision.attempt
            if dry_run:
                if progress is not None:
                    progress(n, len(doomed))
                report.removed.append(Removed(attempt, decision.why, _size_of(deck, attempt, attempt.name)))
                continue
            try:
                with _job_dir(deck, attempt.workspace, attempt.job) as job_fd:
                    crash_point("gc.before_rename")
                    _bury(job_fd, attempt.name)
                    crash_point("gc.renamed")
            except (OSError, AttemptRefused) as exc:
                report.errors.append(_error(deck.job_runs_dir(attempt.workspace, attempt.job) / attempt.name, exc))
                continue
            buried.append(decision)
    for n, decision in enumerate(buried):  # the lock is let go: the runner need not wait for the disk
        if progress is not None:  # (tens of thousands of directories take tens of seconds)
            progress(n, len(buried))
        attempt = decision.attempt
        tombstone = f"{TOMBSTONE}{attempt.name}"
        size = _size_of(deck, attempt, tombstone)
        if _remove_tombstone(deck, attempt.workspace, attempt.job, tombstone, report):
            report.removed.append(Removed(attempt, decision.why, size))
    if not dry_run and (report.removed or report.tombstones):
        try:
            report.record = store.commit([gc_record(report, by=by, via=via)])[0][0]
        except OSError as exc:
            report.unrecorded = deck_access_error(exc, "record the gc in the chain of work", deck.events_path)
        except JobdeckError as exc:  # the lock not had in time, the log replaced
            report.unrecorded = exc
    return report


def gc_record(report: GcReport, *, by: str, via: str) -> dict[str, Any]:
    """The body of the ``gc`` record for what ``report`` removed: counts, bytes, NAMED of the directories, why."""
    record: dict[str, Any] = {"type": GC_TYPE, "by": by, "via": via, "removed": len(report.removed),
                              "bytes_freed": report.bytes_freed,
                              "attempts": [f"{item.attempt.job}/{item.attempt.name}" for item in report.removed[:NAMED]],
                              "reasons": list(dict.fromkeys(item.why for item in report.removed))}
    if len(report.removed) > NAMED:
        record["more"] = len(report.removed) - NAMED
    if report.tombstones:
        record["finished"] = report.tombstones
    return record


def scan(deck: Deck) -> list[AttemptDir]:
    """Every attempt directory under ``workspaces/*/runs/*/`` that is a real directory reached through no link.

    The directories the fast path set aside (``<n>.lost-<token>``) are among them.
    """
    found: list[AttemptDir] = []
    for workspace, job, job_fd in _job_dirs(deck):
        for name in sorted(os.listdir(job_fd)):
            parsed = parse_attempt_dir(name)
            if parsed is None:
                continue
            try:
                st = os.stat(name, dir_fd=job_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(st.st_mode):
                found.append(AttemptDir(workspace, job, parsed[0], _newest(job_fd, name, st.st_mtime), parsed[1]))
    return found


def _tombstones(deck: Deck) -> list[tuple[str, str, str]]:
    found = []
    for workspace, job, job_fd in _job_dirs(deck):
        found.extend((workspace, job, name) for name in sorted(os.listdir(job_fd)) if name.startswith(TOMBSTONE))
    return found


def _job_dirs(deck: Deck) -> Iterator[tuple[str, str, int]]:
    """(workspace, job, open job directory) for each ``runs/<job>`` reached through no link; each fd closed after."""
    try:
        names = sorted(os.listdir(deck.workspaces_dir))
    except (FileNotFoundError, NotADirectoryError):
        return
    seen: set[tuple[int, int]] = set()
    for workspace in names:
        if not ID_RE.fullmatch(workspace):
            continue
        try:
            ws_fd = open_workspace(deck, workspace, create=False)
        except (OSError, AttemptRefused):  # gone, not a directory, or leading out of the deck
            continue
        try:
            st = os.fstat(ws_fd)
            if (st.st_dev, st.st_ino) in seen:  # a workspace that is a link to another one
                continue
            seen.add((st.st_dev, st.st_ino))
            runs_fd = _open_dir(ws_fd, RUNS)
            if runs_fd is None:
                continue
            try:
                for job in sorted(os.listdir(runs_fd)):
                    if not ID_RE.fullmatch(job):
                        continue
                    job_fd = _open_dir(runs_fd, job)
                    if job_fd is None:
                        continue
                    try:
                        yield workspace, job, job_fd
                    finally:
                        os.close(job_fd)
            finally:
                os.close(runs_fd)
        finally:
            os.close(ws_fd)


def _open_dir(parent: int, name: str) -> int | None:
    """The directory ``name`` in ``parent``, or None when it is missing, a link or not a directory."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            return None
        raise


@contextmanager
def _job_dir(deck: Deck, workspace: str, job: str) -> Iterator[int]:
    """``workspaces/<workspace>/runs/<job>``, opened through no link (AttemptRefused if one is in the way)."""
    ws_fd = open_workspace(deck, workspace, create=False)
    fd = ws_fd
    try:
        for name in (RUNS, job):
            below = _open_dir(fd, name)
            if below is None:
                raise AttemptRefused(f"workspaces/{workspace}/runs/{job} is no longer a directory reached through no link")
            if fd != ws_fd:
                os.close(fd)
            fd = below
        yield fd
    finally:
        if fd != ws_fd:
            os.close(fd)
        os.close(ws_fd)


def _bury(job_fd: int, name: str) -> None:
    """Rename the attempt directory ``name`` to its tombstone; refuse anything that is not a real directory."""
    st = os.stat(name, dir_fd=job_fd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        raise AttemptRefused("it is no longer a directory")
    os.rename(name, f"{TOMBSTONE}{name}", src_dir_fd=job_fd, dst_dir_fd=job_fd)


def _remove_tombstone(deck: Deck, workspace: str, job: str, name: str, report: GcReport) -> bool:
    """Remove the tombstone ``name`` (a link or file in its place: just that entry); whether it is gone."""
    try:
        with _job_dir(deck, workspace, job) as job_fd:
            st = os.stat(name, dir_fd=job_fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=job_fd)
            else:
                os.unlink(name, dir_fd=job_fd)
    except FileNotFoundError:
        return True
    except (OSError, AttemptRefused) as exc:
        report.errors.append(_error(deck.job_runs_dir(workspace, job) / name, exc))
        return False
    return True


def _newest(job_fd: int, name: str, mtime: float) -> float:
    """The newest mtime of the directory ``name`` and its entries (links not followed)."""
    fd = _open_dir(job_fd, name)
    if fd is None:
        return mtime
    try:
        for entry in os.listdir(fd):
            try:
                mtime = max(mtime, os.stat(entry, dir_fd=fd, follow_symlinks=False).st_mtime)
            except FileNotFoundError:
                continue
    finally:
        os.close(fd)
    return mtime


def _size_of(deck: Deck, attempt: AttemptDir, name: str) -> int:
    """Bytes of the regular files in ``runs/<job>/<name>`` of ``attempt``'s workspace (0 if it cannot be read)."""
    try:
        with _job_dir(deck, attempt.workspace, attempt.job) as job_fd:
            return _size(job_fd, name)
    except (OSError, AttemptRefused):
        return 0


def _size(job_fd: int, name: str) -> int:
    """Disk space ``name`` takes, as `du` counts it: the blocks of its directories and regular files (``os.fwalk``
    follows no link). An attempt's few small files take a block each, and its directories one more: their
    lengths alone are a tenth of what removing them frees."""
    try:
        total = os.stat(name, dir_fd=job_fd, follow_symlinks=False).st_blocks * 512
    except FileNotFoundError:
        return 0
    for _, dirs, files, dir_fd in os.fwalk(name, dir_fd=job_fd):
        for entry in (*dirs, *files):
            try:
                st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                total += st.st_blocks * 512
    return total


def _error(path: Path, exc: OSError | AttemptRefused) -> GcError:
    """What the failure to remove ``path`` (an attempt directory or a tombstone) was, and how to mend it."""
    if isinstance(exc, JobdeckError):  # a refusal (a link in the way) says itself how to mend it
        return GcError(path, exc.message.splitlines()[0], exc.hint or "see what is there, then run `jobdeck gc` again")
    why = exc.strerror or str(exc)
    tombstone = path.name.startswith(TOMBSTONE)
    if exc.errno == errno.EACCES:
        # A tombstone's files are what refused (its directory took the rename); an attempt
        # not yet renamed was refused by its job directory.
        commands = []
        if not tombstone or not os.access(path.parent, os.W_OK | os.X_OK):
            commands.append(f"chmod u+rwx {shlex.quote(str(path.parent))}")
        if tombstone:
            commands.append(f"chmod -R u+rwX {shlex.quote(str(path))}")
        fix = f"make it writable, as its owner: `{' && '.join(commands)}`"
    elif exc.errno == errno.EPERM:
        fix = f"it or its directory refuses changes: check owner and flags (`lsattr -d {shlex.quote(str(path))}`)"
    elif exc.errno == errno.EROFS:
        fix = "the deck is on a read-only file system: mount it read-write"
    else:
        fix = "see what is there"
    return GcError(path, why, f"{fix}, then run `jobdeck gc` again")
