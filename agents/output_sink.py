"""The attempt's output file as an agent writes it: streamed to disk, redacted, stamped with activity.

Agents write their output (and a child's stderr) through an ``OutputSink`` so a
secret is redacted before it reaches the disk, and so the idle timeout has one
clock to read: the sink's last activity.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from jobdeck.state.attempt_dirs import open_in
from jobdeck.state.redact import Redactor


class OutputSink:
    """The attempt's output file: appended as data arrives, redacted, activity-stamped.

    Writes go straight to the file (no buffering in Python) so a reader tailing it
    sees partial output at once. A secret split across two writes is caught by
    holding back a few bytes until the next write or ``close``.
    """

    def __init__(self, path: Path, redactor: Redactor, *, clock: Callable[[], float] = time.monotonic,
                 dir_fd: int | None = None,
                 lazy: bool = False, fd: int | None = None) -> None:
        self.path = path
        self.dir_fd = dir_fd
        """The open directory ``path`` is in: the file is opened relative to it (a link is never followed either way)."""
        self.redactor = redactor
        self.clock = clock
        self.bytes_written = 0
        self.last_activity = clock()
        self._held = b""
        self._keep = redactor.tail_keep() if redactor else 0
        self.opened = False
        """Whether the file was created (a lazy sink creates it on the first write)."""
        if fd is not None:  # already open (O_APPEND), e.g. created along with the attempt's lease
            self._fd, self.opened = fd, True
        else:
            self._fd = -1 if lazy else self._open()
        self._closed = False

    def _open(self) -> int:
        fd = open_in(self.path.parent if self.dir_fd is None else self.dir_fd, self.path.name,
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self.opened = True
        return fd

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.last_activity = self.clock()
        if self._keep:
            data, self._held = self.redactor.split(self._held + data, self._keep)
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self._fd < 0 and data:
            self._fd = self._open()
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            self.bytes_written += n
            view = view[n:]

    def touch(self) -> None:
        """Record activity without bytes (e.g. a keep-alive token)."""
        self.last_activity = self.clock()

    def direct_fd(self) -> int:
        """The file's descriptor, for a child that writes its output straight into it.

        Only for a child that cannot see any secret (nothing to redact): its bytes
        then skip the runner entirely. Call ``sync_activity`` to notice its writes.
        """
        if self._fd < 0:
            self._fd = self._open()
        self._direct = True
        return self._fd

    def sync_activity(self, wall_now: float | None = None) -> None:
        """For a direct child: take size and last write time from the file itself."""
        if not getattr(self, "_direct", False):
            return
        st = os.fstat(self._fd)
        if st.st_size != self.bytes_written:
            self.bytes_written = st.st_size
            wall_now = time.time() if wall_now is None else wall_now
            # the file's mtime is the child's last write; express it on our clock
            self.last_activity = max(self.last_activity, self.clock() - max(0.0, wall_now - st.st_mtime_ns / 1e9))

    def flush(self) -> None:
        """Write the bytes held back for redaction.

        Call only at a boundary no secret can span, such as the end of a model's
        reply; ``close`` does this too.
        """
        if self._held and not self._closed:
            held, self._held = self._held, b""
            self._write(self.redactor.data(held))

    def restart(self) -> None:
        """Empty the file so a replacement can be written (keep the old content elsewhere first).

        A reader tailing the file sees it shrink to zero and start again.
        """
        self.flush()
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
        self.bytes_written = 0
        self.last_activity = self.clock()

    def close(self) -> None:
        if self._closed:
            return
        self.sync_activity()
        self.flush()
        self._closed = True
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
