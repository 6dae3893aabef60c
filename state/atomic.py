"""Durable file writes: temp file, write, fsync, rename over, fsync the directory.

Every file jobdeck rewrites goes through ``write_atomic`` so a reader sees the old
bytes or the new bytes, never a mixture, and a crash never leaves a torn file.
A writer killed before its rename leaves its temp file behind; the temp file's
name carries the writer's pid and start time, so the next writer in that directory
removes it once that process is gone (even if its pid was handed out again), and
never one whose writer is still alive.
"""

from __future__ import annotations

import errno
import functools
import os
import re
from pathlib import Path

from jobdeck.state.crashpoint import crash_point
from jobdeck.state.digest import sha256_hex
from jobdeck.state.liveness import origin, process_alive, running, start_time

FILE_MODE = 0o600
DIR_MODE = 0o700

#: ``.<target>.<pid>-<start>.<origin>.<random>.tmp`` (``-<start>`` only where /proc gives it); see ``temp_name``.
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.(?P<pid>[0-9]{1,10})(?:-(?P<start>[0-9a-f]{1,16}))?"
                        r"\.(?P<origin>[0-9a-f]{8})\.[0-9a-f]{8}\.tmp")


@functools.cache
def pid_origin() -> str:
    """8 hex digits naming where this process's pids mean something: host, boot and pid namespace.

    A pid is only checked for liveness by a process with the same origin; a temp
    file written from another host sharing the deck (or another container, or
    before a reboot) is never judged by a pid that belongs to someone else.
    """
    here = origin()
    host, boot, namespace = here if here is not None else (os.uname().nodename, "", 0)
    return sha256_hex(f"{host}\0{boot}\0{namespace}".encode())[:8]


def temp_name(target: Path) -> Path:
    """A fresh temp path next to ``target``, naming this process as its writer."""
    return target.with_name(f".{target.name}.{_writer(os.getpid())}.{pid_origin()}.{os.urandom(4).hex()}.tmp")


@functools.cache
def _writer(pid: int) -> str:
    """``<pid>-<start time in hex>``, or the pid alone where /proc does not give the start (cached by pid: a
    forked child is another writer)."""
    start = start_time(pid)
    return f"{pid}-{start:x}" if start is not None else str(pid)


def remove_stale_temps(directory: Path) -> list[str]:
    """Remove temp files in ``directory`` whose writer (on this machine) has died; return their names."""
    removed = []
    here = pid_origin()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.endswith(".tmp") and name.startswith(".")):
            continue
        match = _TEMP_NAME.fullmatch(name)
        if match is None or match["origin"] != here or _writing(int(match["pid"]), match["start"]):
            continue
        try:
            os.unlink(entry.path)
        except OSError:
            continue  # already removed by another writer, or the directory is read-only: harmless litter
        removed.append(name)
    return removed


def _writing(pid: int, start: str | None) -> bool:
    """Whether the writer of a temp file may still be at it (a name without a start time: its pid is there)."""
    return running(pid, int(start, 16)) is not False if start is not None else process_alive(pid)


def fsync_dir(path: Path) -> None:
    """Make a rename or create inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, durable: bool = True, mode: int = FILE_MODE,
                 cache: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically; with ``durable``, survive power loss.

    Temp files of dead writers in the same directory are removed first. A ``cache`` of the
    deck's (which whoever reads the deck may write) is written only in a directory this user
    owns: root reading someone's deck must not leave them files they cannot read (PermissionError).
    """
    if cache and os.stat(path.parent).st_uid != os.geteuid():
        raise PermissionError(errno.EPERM, "a cache is written only by the owner of its directory", str(path))
    remove_stale_temps(path.parent)
    tmp = temp_name(path)
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
