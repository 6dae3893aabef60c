"""The one deck lock: an flock on ``.jobdeck/lock``, a file never replaced or deleted.

The lock guards the event log and jobdeck's own writes of jobs.json. It is never
taken on a file that gets replaced (an flock on a replaced inode excludes nobody),
and only whole-file ``flock`` is used, never fcntl record locks, which are dropped
when any descriptor of the file is closed. ``fcntl.flock`` is called directly,
as for the attempt leases: a wrapper library cost more to import (~45 ms, on
every CLI start) than all the locking it would do.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from jobdeck.state.atomic import FILE_MODE, make_private_dir
from jobdeck.state.errors import DeckAccessError, LockTimeout, StateError, deck_access_error


class DeckLock:
    """A re-entrant-per-object exclusive lock with a timeout, held as a context manager."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd = -1
        self._depth = 0

    def acquire(self, timeout: float | None = None) -> None:
        """Take the lock, waiting up to ``timeout`` seconds, else raise LockTimeout."""
        if self._depth:
            self._depth += 1
            return
        if self._fd < 0:
            self._fd = self._open()
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        pause = 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"the deck lock {self.path} is held by another process "
                        f"for more than {limit:g}s",
                        hint="is a runner or `jobdeck edit` stuck? check with `fuser -v` on that file",
                    ) from None
                time.sleep(pause)  # flock has no timed wait; back off briefly
                pause = min(pause * 2, 0.02)
        self._depth = 1

    def _open(self) -> int:
        check_owner(self.path.parent)
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except FileNotFoundError:  # a deck without its state directory yet (jobs.json alone)
            pass
        except OSError as exc:  # e.g. a lock file this user may not write
            raise deck_access_error(exc, "take the deck lock", self.path) from None
        try:
            make_private_dir(self.path.parent)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError as exc:
            raise StateError(f"cannot create the deck lock {self.path}: {exc.strerror}",
                             hint="jobdeck keeps its lock and events there; make the deck directory writable") from None

    def release(self) -> None:
        """Release one level of the lock; the flock is dropped at the outermost."""
        if not self._depth:
            return
        self._depth -= 1
        if not self._depth and self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Release and close the descriptor."""
        self._depth = 1
        self.release()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> DeckLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def check_owner(state_dir: Path) -> None:
    """Refuse to write a deck whose state directory another user owns (root through sudo, say).

    Everything a write makes there (a new live log at a rotation, board.json, segments) would be
    this user's and private (0600), and would shut the deck's owner out of their own deck.
    """
    try:
        owner = os.stat(state_dir).st_uid
    except OSError:
        return  # missing (made below, as this user) or not to be looked at (opening it says why)
    me = os.geteuid()
    if owner == me:
        return
    import pwd

    def name(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return f"uid {uid}"

    raise DeckAccessError(f"{state_dir} belongs to {name(owner)}, not to {name(me)}: what this would write there "
                          f"would be {name(me)}'s alone and lock {name(owner)} out of the deck",
                          hint=f"run it as {name(owner)} (sudo -u {name(owner)} jobdeck ...)")
