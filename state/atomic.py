"""Durable file writes: temp file, write, fsync, rename over, fsync the directory.

Every file jobdeck rewrites goes through ``write_atomic`` so a reader sees the old
bytes or the new bytes, never a mixture, and a crash never leaves a torn file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from state.crashpoint import crash_point

FILE_MODE = 0o600
DIR_MODE = 0o700


def fsync_dir(path: Path) -> None:
    """Make a rename or create inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, durable: bool = True, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` atomically; with ``durable``, survive power loss."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    crash_point("atomic.before_write")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        crash_point("atomic.after_write")
        if durable:
            os.fsync(fd)
            crash_point("atomic.after_fsync")
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    crash_point("atomic.after_rename")
    if durable:
        fsync_dir(path.parent)
        crash_point("atomic.after_dir_fsync")


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700 directories; existing ones are kept.

    ``mkdir(parents=True)`` would create the parents with the umask's mode (often 0755).
    """
    missing = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
