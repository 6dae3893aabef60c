"""jobs.json's bytes, read so that no file in its place can block or exhaust the reader.

Kept apart from the loader (state/loader.py) because the everyday read paths
(state/lightspec.py) read the bytes to check them against ``spec.ok`` without
validating them, and should not import what validating needs.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from jobdeck.state.errors import SpecError, SpecUnreadable
from jobdeck.state.sizes import format_size

MAX_SPEC_BYTES = 64 << 20
"""The largest jobs.json read (64 MiB, some 100,000 jobs): anything bigger is a mistake, such as a
log saved over it, and would only exhaust memory."""


def read_spec_file(path: Path) -> bytes:
    """The bytes of the jobs.json at ``path``: a regular file (a symlink is followed) of at most
    MAX_SPEC_BYTES, else a one-line SpecError.

    Opened without blocking and checked on the open descriptor, so a FIFO, a device
    (a link to /dev/zero) or a huge file is refused, not waited on or read without end.

    Raises:
        SpecUnreadable: the system refuses to open or read it (permissions, I/O error), or it is no
            regular file (a directory, a FIFO, a device).
        SpecError: it is missing, or too large.
    """
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SpecError(
            "file not found", path=where,
            hint="was it, or the deck's directory, moved or removed? put it back where .jobdeck/ is "
                 "(`jobdeck init` would start a new deck, with no history)",
        ) from None
    except OSError as exc:
        raise SpecUnreadable(f"cannot open it: {exc.strerror}", path=where, hint=_access_hint(exc)) from None
    try:
        info = os.fstat(fd)
        # (no file to find problems in: the path's, as for one that cannot be read; exit 2)
        if stat.S_ISDIR(info.st_mode):
            raise SpecUnreadable("is a directory, not a file", path=where)
        if not stat.S_ISREG(info.st_mode):
            raise SpecUnreadable(f"is not a regular file (it is {_file_kind(info.st_mode)})", path=where,
                                 hint="jobs.json must be a plain file; a symbolic link to one is fine")
        if info.st_size > MAX_SPEC_BYTES:
            raise _too_large(info.st_size, where)
        chunks, size = [], 0
        while size <= MAX_SPEC_BYTES:  # it may grow while it is read
            chunk = os.read(fd, max(info.st_size - size, 0) + 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise SpecUnreadable(f"cannot read it: {exc.strerror}", path=where, hint=_access_hint(exc)) from None
    finally:
        os.close(fd)
    if size > MAX_SPEC_BYTES:
        raise _too_large(size, where)
    return b"".join(chunks)


def _too_large(size: int, where: str) -> SpecError:
    return SpecError(f"is {format_size(size)}, larger than the {format_size(MAX_SPEC_BYTES)} a jobs.json may be",
                     path=where, hint="is this the right file?")


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a file"


def _access_hint(exc: OSError) -> str | None:
    if isinstance(exc, PermissionError):
        return "check the file's owner and mode, and that every directory on its path can be entered (x)"
    return None
