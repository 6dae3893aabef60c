"""Attempt directories: whether one already holds an attempt's files, and where a lost history shows.

An attempt directory is made with ``mkdir``, so two attempts never share one. The
only one a runner may find already there is left by a claim the log never stored
(its runner died, or its write failed, before the claim was durable): nothing ran
in it, so it holds at most the empty ``stderr.log`` and ``output`` made with the
claim, and it is used again. Anything else in it (output, ``result.json``, a file
a job put there) belongs to an attempt the log does not record: the log was
restored from an older copy, or lost; such a directory is never written into.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from jobdeck.state.attempts import OUTPUT, STDERR

_CLAIM_FILES = frozenset({STDERR, OUTPUT})


def used_by(directory: Path | int) -> str | None:
    """The name of a file showing that an attempt used ``directory`` (a path or an open descriptor), else None.

    None for an empty directory and for one holding only the empty files a claim
    makes before its program starts.
    """
    for name in os.listdir(directory):
        if name not in _CLAIM_FILES:
            return name
        try:
            if isinstance(directory, int):
                st = os.stat(name, dir_fd=directory, follow_symlinks=False)
            else:
                st = os.lstat(directory / name)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_size:
            return name
    return None


def find_used_attempt(workspaces_dir: Path) -> Path | None:
    """The first attempt directory under ``workspaces/*/runs/*/`` that an attempt used, else None.

    Links are not followed: a link a job planted is not history.
    """
    for runs in _subdirs(workspaces_dir, "runs"):
        for job_dir in _subdirs(runs):
            for attempt_dir in _subdirs(job_dir):
                if attempt_dir.name.isdigit() and used_by(attempt_dir) is not None:
                    return attempt_dir
    return None


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
