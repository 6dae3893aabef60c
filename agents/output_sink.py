"""The attempt's output file as an agent writes it: streamed to disk, redacted, stamped with activity.

Agents write their output (and a child's stderr) through an ``OutputSink`` so a
secret is redacted before it reaches the disk, so the idle timeout has one
clock to read (the sink's last activity), and so the output's size limit is
kept in one place: the file never holds more than ``limit`` bytes once the
attempt ends. A write that fails (a full disk) is the deck's failure, not the
job's: the sink writes nothing more and ``close`` raises ``OutputUnwritable``,
which ends the attempt as ``runner_error``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobdeck.state.attempt_dirs import open_in
from jobdeck.state.errors import AgentError
from jobdeck.state.redact import Redactor
from jobdeck.state.space import full_note

LOOK_MIN = 0.005
"""Seconds: the shortest wait between two looks at the size of a file a child writes directly."""
LOOK_MAX = 0.5
"""Seconds: the longest such wait; a child that starts writing at disk speed right after a
look may pass the limit by as much as it writes in this time before it is stopped."""


class OutputUnwritable(AgentError):
    """The attempt's output (or stderr.log) could not be written: the attempt fails, whatever its job did."""

    reason = "runner_error"
    transient = False  # a full disk stays full until someone frees it: a retry at once would fail the same
    call: Any = None
    """The llm call whose answer could not be written (``llm_call.CallResult``: its usage and cost), if one."""


class OutputSink:
    """The attempt's output file: appended as data arrives, redacted, activity-stamped.

    Writes go straight to the file (no buffering in Python) so a reader tailing it
    sees partial output at once. A secret split across two writes is caught by
    holding back a few bytes until the next write or ``close``.
    """

    def __init__(self, path: Path, redactor: Redactor, *, clock: Callable[[], float] = time.monotonic,
                 dir_fd: int | None = None,
                 lazy: bool = False, fd: int | None = None, limit: int | None = None) -> None:
        self.path = path
        self.dir_fd = dir_fd
        """The open directory ``path`` is in: the file is opened relative to it (a link is never followed either way)."""
        self.redactor = redactor
        self.clock = clock
        self.bytes_written = 0
        self.last_activity = clock()
        self.limit = limit
        """Bytes the output may hold (None: no limit); what is written past it is not kept."""
        self.over_limit = False
        """Whether more than ``limit`` bytes were written: the attempt must be stopped."""
        self._looked = (self.last_activity, 0)  # (time, size) at the last look, for the growth rate
        self._held = b""
        self._keep = redactor.tail_keep() if redactor else 0
        self.opened = False
        """Whether the file was created (a lazy sink creates it on the first write)."""
        self.write_error: OSError | None = None
        """The first write (or lazy open) that failed; every later write raises it again without trying."""
        if fd is not None:  # already open (O_APPEND), e.g. created along with the attempt's lease
            self._fd, self.opened = fd, True
        else:
            self._fd = -1 if lazy else self._open()
        self._closed = False
        self._written: os.stat_result | None = None
        """The file as ``close`` left it: ``redact_written`` tells by it whether the job wrote the file itself."""

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
        """Append ``data``; raises OSError (kept in ``write_error``) if it cannot be written."""
        if self.write_error is not None:  # a hole mid-output would be worse than an end cut short
            raise self.write_error
        if self.limit is not None and self.bytes_written + len(data) > self.limit:
            self.over_limit = True
            data = data[:max(0, self.limit - self.bytes_written)]
        try:
            if self._fd < 0 and data:
                self._fd = self._open()
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                self.bytes_written += n
                view = view[n:]
        except OSError as exc:
            self.write_error = exc
            raise

    def unwritable(self) -> OutputUnwritable | None:
        """What to report for the write that failed (naming a full filesystem when it is one); None if none did."""
        if self.write_error is None:
            return None
        what = self.write_error.strerror or str(self.write_error)
        full = full_note(self.path.parent)
        return OutputUnwritable(f"could not write {self.path.name}: {what}{f'; {full}' if full else ''}")

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
            self.over_limit = self.over_limit or (self.limit is not None and st.st_size > self.limit)
            wall_now = time.time() if wall_now is None else wall_now
            # the file's mtime is the child's last write; express it on our clock
            self.last_activity = max(self.last_activity, self.clock() - max(0.0, wall_now - st.st_mtime_ns / 1e9))

    def next_look(self, timeout: float | None) -> float | None:
        """``timeout`` cut short to when the output's size should next be looked at, if it has a limit.

        The wait is half the time the output would take to reach its limit at the
        rate it grew since the last look, kept between LOOK_MIN and LOOK_MAX: a
        fast writer is looked at often as it nears the limit, a quiet one twice a second.
        """
        if self.limit is None:
            return timeout
        now = self.clock()
        then, size = self._looked
        self._looked = (now, self.bytes_written)
        grown, elapsed = self.bytes_written - size, now - then
        wait = LOOK_MAX
        if grown > 0 and elapsed > 0:
            wait = max(LOOK_MIN, min(LOOK_MAX, (self.limit - self.bytes_written) * elapsed / grown / 2))
        return wait if timeout is None else min(timeout, wait)

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
        self.over_limit = False
        self.last_activity = self.clock()

    def close(self) -> None:
        """Write what is held back and close the file, which is closed whatever fails.

        Raises:
            OutputUnwritable: a write failed, now or before: the output is incomplete.
        """
        if self._closed:
            return
        try:
            self.sync_activity()
            if self.write_error is None:
                with contextlib.suppress(OSError):  # kept in write_error, raised below
                    self.flush()
        finally:
            self._closed = True
            if self.over_limit and self._fd >= 0:
                self._clip()
            if self._fd >= 0:
                with contextlib.suppress(OSError):
                    self._written = os.fstat(self._fd)
                os.close(self._fd)
                self._fd = -1
        failure = self.unwritable()
        if failure is not None:
            raise failure from self.write_error

    def redact_written(self) -> None:
        """After ``close``: redact what the job wrote into the file itself ($JOBDECK_OUTPUT, `{{output}}`), whose
        bytes never passed through ``write``, seen as a file that is not the one written to, or not of the size
        written to it.

        Read once to look for a secret; only if one is there, written again redacted beside it and renamed over it.
        A FIFO or any other file that is not a regular one is left alone (never opened to block). Reads the whole
        file: call it off the event loop. Raises OutputUnwritable if the redacted copy cannot be written (a secret
        may be left in the file).
        """
        written = self._written
        if written is None or not self.redactor or getattr(self, "_direct", False) or self.write_error is not None:
            return
        where = self.path.parent if self.dir_fd is None else self.dir_fd
        try:
            fd = open_in(where, self.path.name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:  # removed, or a link in its place (which jobdeck never reads through)
            return
        try:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode):
                return
            ours = (found.st_dev, found.st_ino, found.st_size) == (written.st_dev, written.st_ino, self.bytes_written)
            self.bytes_written = found.st_size
            if ours:
                return  # only what passed through write: redacted already
            if not self._holds_secret(fd):
                return
            try:
                self.bytes_written = self._rewrite_redacted(fd, where)
            except OSError as exc:
                self.write_error = exc
                failure = self.unwritable()
                assert failure is not None
                raise failure from exc
        finally:
            os.close(fd)

    def _holds_secret(self, fd: int) -> bool:
        held, keep = b"", self.redactor.tail_keep()
        while chunk := os.read(fd, 1 << 20):
            raw = held + chunk
            data, held = self.redactor.split(raw, keep)
            if data != raw[:len(raw) - len(held)]:
                return True
        return self.redactor.data(held) != held

    def _rewrite_redacted(self, fd: int, where: Path | int) -> int:
        """Write the file behind ``fd`` again, redacted, beside it and renamed over it; its new size."""
        temp = f".{self.path.name}.redacted"
        at = {"dir_fd": where} if isinstance(where, int) else {}
        named = temp if at else str(self.path.parent / temp)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(named, **at)
        out = os.open(named, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, **at)
        size, held, keep = 0, b"", self.redactor.tail_keep()
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            while True:
                chunk = os.read(fd, 1 << 20)
                raw = held + chunk
                data, held = self.redactor.split(raw, keep) if chunk else (self.redactor.data(raw), b"")
                view = memoryview(data)
                while view:
                    view = view[os.write(out, view):]
                size += len(data)
                if not chunk:
                    break
            os.fsync(out)
            os.rename(named, self.path.name if at else str(self.path),
                      **({"src_dir_fd": where, "dst_dir_fd": where} if at else {}))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(named, **at)
            raise
        finally:
            os.close(out)
        return size

    def _clip(self) -> None:
        """Cut a file a child wrote past the limit back to it (the child is stopped by now)."""
        assert self.limit is not None
        try:
            os.ftruncate(self._fd, self.limit)
        except OSError:  # e.g. a deck turned read-only: the file keeps the excess
            return
        self.bytes_written = min(self.bytes_written, self.limit)
