"""Attempt directories: opened without following links; whether one already holds an attempt's files.

A job runs with its workspace as its working directory, so any job (or an archive
it unpacks) can put a symbolic link in ``runs/``. jobdeck's own writes there never
follow one: the workspace directory is opened and checked to be inside the deck,
each directory below it (``runs``, ``<job>``, ``<n>``) is opened relative to the
one above with ``O_NOFOLLOW``, and the attempt's files are opened relative to the
attempt directory's descriptor, ``O_NOFOLLOW`` too. A link in any of those places
refuses the attempt (``AttemptRefused``); nothing is written through it.

An attempt directory is made with ``mkdir``, so two attempts never share one. The
only one a runner may find already there is left by a claim the log never stored
(its runner died, or its write failed, before the claim was durable): nothing ran
in it, so it holds at most the empty ``stderr.log`` and ``output`` made with the
claim, and it is used again. Anything else in it (output, ``result.json``, a file
a job put there) belongs to an attempt the log does not record: the log was
restored from an older copy, or lost; such a directory is never written into.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from jobdeck.state.atomic import DIR_MODE, FILE_MODE, make_private_dir
from jobdeck.state.attempts import OUTPUT, REMOTE, RUNS, STDERR
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AttemptRefused

_CLAIM_FILES = frozenset({STDERR, OUTPUT})


def used_by(directory: Path | int, *, links: bool = True) -> str | None:
    """The name of a file showing that an attempt used ``directory`` (a path or an open descriptor), else None.

    None for an empty directory and for one holding only the empty files a claim
    makes before its program starts. With ``links=False`` a link does not count.
    """
    for name in os.listdir(directory):
        try:
            if isinstance(directory, int):
                st = os.stat(name, dir_fd=directory, follow_symlinks=False)
            else:
                st = os.lstat(directory / name)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            if links:
                return name
        elif name not in _CLAIM_FILES or not stat.S_ISREG(st.st_mode) or st.st_size:
            return name
    return None


def find_used_attempt(workspaces_dir: Path) -> Path | None:
    """The first attempt directory under ``workspaces/*/runs/*/`` that a claim made, else None.

    A claim counts even when its files are still empty (a silent program, or one
    that has not started): on a young deck that directory may be all that is left
    of a lost log. Links are not followed: a link a job planted is not history.
    """
    for runs in _subdirs(workspaces_dir, RUNS):
        for job_dir in _subdirs(runs):
            for attempt_dir in _subdirs(job_dir):
                if attempt_dir.name.isdigit() and _claimed_or_used(attempt_dir):
                    return attempt_dir
    return None


def _claimed_or_used(attempt_dir: Path) -> bool:
    """Whether ``attempt_dir`` holds a file a claim makes (empty or not) or any other attempt's file."""
    if used_by(attempt_dir, links=False) is not None:
        return True
    for name in _CLAIM_FILES:
        try:
            if stat.S_ISREG(os.lstat(attempt_dir / name).st_mode):
                return True
        except FileNotFoundError:
            continue
    return False


def _subdirs(directory: Path, child: str | None = None) -> list[Path]:
    """The real directories in ``directory`` (or each one's ``child``, when that is a real directory), sorted."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if child is not None:
            path = path / child
            if not path.is_dir() or path.is_symlink():
                continue
        found.append(path)
    return found


# -- opening without following links ---------------------------------------------------

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""How a directory below the workspace is opened: never through a link."""


def open_in(directory: Path | int, name: str, flags: int, mode: int = FILE_MODE) -> int:
    """Open the file ``name`` in ``directory`` (a path, or an open descriptor: then relative to it),
    never through a link in its place.

    To read, a link there raises ELOOP. To create (``O_CREAT``), a link there is
    removed (the link, not what it points to) and the file is made anew: jobdeck's
    own files in an attempt directory are jobdeck's, whatever a job put in their place.
    """
    flags |= os.O_NOFOLLOW | os.O_CLOEXEC
    if isinstance(directory, int):
        dir_fd, path = directory, name
    else:
        dir_fd, path = None, str(directory / name)
    try:
        return os.open(path, flags, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno != errno.ELOOP or not flags & os.O_CREAT:
            raise
    os.unlink(path, dir_fd=dir_fd)
    return os.open(path, flags | os.O_EXCL, mode, dir_fd=dir_fd)


def open_workspace(deck: Deck, workspace: str, *, create: bool = True) -> int:
    """The workspace directory, opened (made 0700 if missing and ``create``), checked to be inside the deck once open.

    A workspace may be a link to a directory inside the deck (``Deck.workspace_dir``
    resolves and checks it); which directory the descriptor really is, is read back
    from ``/proc/self/fd``, so a link swapped in after that check is caught too.
    """
    path = deck.workspace_dir(workspace)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        if not create:
            raise
        make_private_dir(path)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # no /proc: the resolved path, opened a moment ago, is what there is to go by
        real = str(path)
    root = str(deck.root)
    if real != root and not real.startswith(root.rstrip("/") + "/"):
        os.close(fd)
        raise AttemptRefused(f"workspace '{workspace}' leads outside the deck, to {real}",
                             hint=f"make {path} a directory inside the deck")
    return fd


def open_subdir(parent: int, name: str, where: Path) -> int:
    """The directory ``name`` in the open directory ``parent``, made 0700 if missing, never through a link.

    ``where`` is its path, for the message. Raises AttemptRefused if ``name`` is a
    link or not a directory.
    """
    try:
        return _open_dir(parent, name, where)
    except FileNotFoundError:
        pass
    try:
        os.mkdir(name, DIR_MODE, dir_fd=parent)
    except FileExistsError:  # made by someone else meanwhile (or a link: refused next)
        pass
    return _open_dir(parent, name, where)


def open_attempt_dir(deck: Deck, workspace: str, job: str, attempt: int) -> int:
    """An existing attempt directory, opened through no link, for reading it.

    Raises FileNotFoundError if it (or a directory above it) is missing, and
    AttemptRefused if a link is in the way.
    """
    directory = deck.attempt_dir(workspace, job, attempt)
    fd = open_workspace(deck, workspace, create=False)
    for name, where in ((RUNS, directory.parent.parent), (job, directory.parent), (str(attempt), directory)):
        try:
            below = _open_dir(fd, name, where)
        finally:
            os.close(fd)
        fd = below
    return fd


def _open_dir(parent: int, name: str, where: Path) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise refused_link(where) from None
        raise


def refused_link(where: Path) -> AttemptRefused:
    """The refusal to write through ``where``, a link or something other than a directory."""
    return AttemptRefused(
        f"{where} is a symbolic link or not a directory; jobdeck does not write attempt files through it",
        hint="a job (or an archive it unpacked) may have put it there: remove it, then `jobdeck retry` the job")


def read_remote(directory: Path | int) -> dict[str, Any] | None:
    """An attempt's ``remote.json`` (where it was submitted, under what name and id), or None: a local
    attempt, or a record that cannot be read. Opened through no link."""
    try:
        fd = open_in(directory, REMOTE, os.O_RDONLY)
    except OSError:
        return None
    try:
        with open(fd, "rb") as file:
            data = json.loads(file.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("name"), str) else None
