"""A child process supervised straight from the event loop's selector.

asyncio's subprocess support costs more per spawn than the fork itself: a
transport, a protocol, a pipe transport and a task per stream, futures for each.
For a runner that starts a thousand short jobs that overhead is the bottleneck,
so a child here is a ``subprocess.Popen`` plus three selector registrations at
most: a pidfd that becomes readable when the child exits (Linux 5.3+; a waiting
thread elsewhere), and, only when the output must pass through the runner, a
reader per pipe that hands each chunk to a callback. A callback that cannot
take a chunk (OSError: the disk is full) ends its pipe's draining: the child's
next write there fails (EPIPE, or SIGPIPE), as a write to a full disk would.
Input, when there is any, is fed through a non-blocking writer.

The child is the leader of a new session and process group, so the whole group
can be signalled. Its exit status is collected here, by ``waitpid`` on its own
pid only, never by a wait for any child. With ``keep_zombie`` the status is read
at exit but the child is left unreaped until ``release()``: until then its pid
(and so its group and session ids) cannot name another process, which is what
lets a boundary signal and recognise what the child left behind.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

CHUNK = 65536
PIPE = subprocess.PIPE

_devnull_fd = -1


def _devnull() -> int:
    """One read-only /dev/null descriptor for every child's stdin (opened once)."""
    global _devnull_fd
    if _devnull_fd < 0:
        _devnull_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    return _devnull_fd


class Child:
    """A started child: its pid, a future for its exit, and its pipes being drained."""

    def __init__(self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop,
                 keep_zombie: bool = False) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.loop = loop
        self.keep_zombie = keep_zombie
        self._reaped = False
        self._exit: asyncio.Future[int] = loop.create_future()
        self._streams: list[asyncio.Future[None]] = []
        self._watch_exit()

    @classmethod
    def spawn(cls, argv: Sequence[str], *, cwd: Path | str, env: Mapping[str, str],
              stdout: int, stderr: int, on_stdout: Callable[[bytes], None] | None = None,
              on_stderr: Callable[[bytes], None] | None = None, stdin: bytes | None = None,
              pass_fds: Sequence[int] = (), keep_zombie: bool = False,
              started: Callable[[int], None] | None = None) -> Child:
        """Start ``argv`` (no shell) in a new session.

        ``stdout`` and ``stderr`` are each a descriptor the child writes into
        directly, or ``PIPE``, whose chunks go to ``on_stdout`` / ``on_stderr``.
        ``started`` gets the pid the moment the program runs, before anything
        else is set up (a boundary takes the child in then).
        Raises OSError (e.g. FileNotFoundError) if the program cannot be started.
        """
        loop = asyncio.get_running_loop()
        popen = subprocess.Popen(
            list(argv), stdin=PIPE if stdin is not None else _devnull(), stdout=stdout, stderr=stderr,
            cwd=cwd, env=dict(env), start_new_session=True, pass_fds=tuple(pass_fds), bufsize=0)
        if started is not None:
            started(popen.pid)
        child = cls(popen, loop, keep_zombie)
        if on_stdout is not None:
            child._drain(_take(popen, "stdout"), on_stdout)
        if on_stderr is not None:
            child._drain(_take(popen, "stderr"), on_stderr)
        if stdin is not None:
            child._feed(_take(popen, "stdin"), stdin)
        return child

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    @property
    def exited(self) -> asyncio.Future[int]:
        """Resolves to the exit status; for ``asyncio.wait`` (which never cancels it). Do not cancel it."""
        return self._exit

    async def wait(self) -> int:
        """The exit status (negative: killed by that signal). Cancelling the wait leaves the child alone."""
        return await asyncio.shield(self._exit)

    async def streams_closed(self) -> None:
        """Until every piped stream reached end of file (all holders of its write end closed it)."""
        if self._streams:
            await asyncio.gather(*self._streams)

    def release(self) -> None:
        """Collect the exit status of a ``keep_zombie`` child now, or when it exits if it has not yet."""
        self.keep_zombie = False
        if self._exit.done() and not self._reaped:
            self._reaped = True
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass

    def close_streams(self) -> None:
        """Stop draining the pipes now (e.g. after the group was killed and a stray holds one open)."""
        for future in self._streams:
            if not future.done():
                future.cancel()

    # -- exit -----------------------------------------------------------------------

    def _watch_exit(self) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfd (old kernel, other OS): a thread waits
            threading.Thread(target=self._wait_in_thread, name=f"wait-{self.pid}", daemon=True).start()
            return

        def exited() -> None:
            self.loop.remove_reader(pidfd)
            os.close(pidfd)
            self._reap(os.WNOHANG)

        self.loop.add_reader(pidfd, exited)

    def _wait_in_thread(self) -> None:
        code = self._collect(0)
        try:
            self.loop.call_soon_threadsafe(self._exited, code)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _reap(self, flags: int) -> None:
        code = self._collect(flags)
        if code is None:  # not yet (cannot happen after the pidfd fired, but be safe)
            self.loop.call_later(0.01, self._reap, flags)
            return
        self._exited(code)

    def _collect(self, flags: int) -> int | None:
        """The exit code (negative: the signal that killed it), 255 if lost; None if not exited yet."""
        if self.keep_zombie:
            try:
                info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT | flags)
            except ChildProcessError:  # reaped elsewhere; the status is lost
                return 255
            if info is None:
                return None
            return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            return 255
        if pid == 0:
            return None
        self._reaped = True
        return os.waitstatus_to_exitcode(status)

    def _exited(self, code: int) -> None:
        self.popen.returncode = code  # Popen must not wait for it again
        if not self._exit.done():
            self._exit.set_result(code)
        if not self.keep_zombie:
            self.release()

    # -- pipes ----------------------------------------------------------------------

    def _drain(self, stream: io.FileIO, deliver: Callable[[bytes], None]) -> None:
        fd = stream.fileno()
        os.set_blocking(fd, False)
        done: asyncio.Future[None] = self.loop.create_future()
        self._streams.append(done)

        def readable() -> None:
            try:
                data = os.read(fd, CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data:
                try:
                    deliver(data)
                    return
                except OSError:  # e.g. a full disk: the callback keeps the error, the rest is not wanted
                    pass
            finish()

        def finish(_: object = None) -> None:
            if stream.closed:
                return
            self.loop.remove_reader(fd)
            stream.close()
            if not done.done():
                done.set_result(None)

        done.add_done_callback(finish)
        self.loop.add_reader(fd, readable)

    def _feed(self, stream: io.FileIO, data: bytes) -> None:
        fd = stream.fileno()
        os.set_blocking(fd, False)
        view = memoryview(data)

        def writable() -> None:
            nonlocal view
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                return
            except OSError:  # the child closed its stdin or exited: the rest is not wanted
                view = view[:0]
            if not view:
                self.loop.remove_writer(fd)
                stream.close()

        if view:
            self.loop.add_writer(fd, writable)
        else:
            stream.close()


def _take(popen: subprocess.Popen[bytes], name: str) -> io.FileIO:
    """Take a pipe from Popen (unbuffered, so a raw FileIO) so that Popen never touches it again."""
    stream = getattr(popen, name)
    setattr(popen, name, None)
    return stream  # type: ignore[no-any-return]
