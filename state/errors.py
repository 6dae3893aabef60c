"""The one exception hierarchy: every error a user can cause is a JobdeckError.

The CLI prints ``str(error)`` as a single line and exits with ``error.exit_code``;
the cockpit shows it in a notification. Messages say what, where, and how to fix.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping
from typing import Any


class JobdeckError(Exception):
    """Base class of every error jobdeck reports to a user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class DeckNotFound(JobdeckError):
    """No deck at the given place, or none above the current directory."""


class SpecError(JobdeckError):
    """jobs.json cannot be used: bad JSON, a schema error, a cycle, a bad cron..."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        job: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path, self.line, self.column = path, line, column
        self.job, self.field = job, field

    @property
    def location(self) -> str:
        return self.where()

    def where(self, *, short: bool = False) -> str:
        """'path:line:col: job 'x', field 'y'' (``short``: the file's name instead of its path)."""
        where = self.path or "jobs.json"
        if short and self.path:
            where = where.replace("\\", "/").rsplit("/", 1)[-1]
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        if self.job is not None:
            where += f": job '{self.job}'"
        if self.field:
            where += f"{',' if self.job is not None else ':'} field '{self.field}'"
        return where

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class SpecErrors(SpecError):
    """Several spec problems found at once; ``errors`` holds each one."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(
            first.message, path=first.path, line=first.line, column=first.column,
            job=first.job, field=first.field, hint=first.hint,
        )

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class SpecUnreadable(SpecError):
    """jobs.json is there but the system will not let it be read (permissions, I/O): an environment problem."""

    exit_code = 2


class LockTimeout(JobdeckError):
    """The deck lock could not be taken in time."""


class StateError(JobdeckError):
    """The state directory is unreadable or an action does not apply."""


class DeckAccessError(StateError):
    """The system refuses to read or write a file of the deck (permissions, read-only or full disk)."""


def deck_access_error(exc: OSError, doing: str, path: object = None) -> DeckAccessError:
    """A one-line DeckAccessError for ``exc``: what could not be done, to which file, and what to check.

    ``doing`` completes "cannot ...", e.g. "read the chain of work"; ``path`` names the
    file when ``exc`` does not.
    """
    where = exc.filename if exc.filename is not None else path
    hint = _ACCESS_HINTS.get(exc.errno or 0)
    refused = _refusing_directory(exc)
    if refused is not None:
        where = refused
        if exc.errno == errno.EACCES:
            hint = "check the owner and mode of that directory (it must be writable) and that every directory " \
                   "above it can be entered (x)"
    problem = exc.strerror or str(exc)
    return DeckAccessError(f"cannot {doing}: {where}: {problem}" if where is not None else f"cannot {doing}: {problem}",
                           hint=hint)


def _refusing_directory(exc: OSError) -> str | None:
    """For a refused link or rename (``exc`` names two files), the directory that refused the new name.

    ``filename`` is then the existing file, which is rarely the one at fault: the
    write is refused by the directory that was to gain (or lose) a name. None for
    any other error, or when the names are relative (to a directory descriptor).
    """
    if exc.filename2 is None or exc.errno not in _ACCESS_HINTS:
        return None
    names = [os.fspath(exc.filename2), os.fspath(exc.filename)]
    if not all(isinstance(name, str) and os.path.isabs(name) for name in names):
        return None
    directories = [os.path.dirname(name) for name in names]
    if exc.errno in (errno.EACCES, errno.EPERM):
        for directory in directories:  # the new name's directory first: a link writes only there
            if not os.access(directory, os.W_OK | os.X_OK):
                return directory
    return directories[0]


_ACCESS_HINTS = {
    errno.EACCES: "check the owner and mode of that file and that every directory above it can be entered (x)",
    errno.EPERM: "the file or its directory refuses changes (owner, mode, or an immutable flag)",
    errno.EROFS: "the deck is on a read-only file system",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
}


class IllegalTransition(StateError):
    """An event that the state machine does not allow from the job's status."""

    exit_code = 1


class StaleToken(IllegalTransition):
    """An event carrying a fencing token that is no longer the job's current one."""


class UnknownJob(JobdeckError):
    """A job id that jobs.json does not declare."""

    exit_code = 1

    @classmethod
    def among(cls, missing: list[str], declared: Iterable[str], where: object, more: str = "") -> UnknownJob:
        """"no job 'fech' in WHERE" (then ``more``), hinting at the declared id each one was likely meant as."""
        from jobdeck.state.ids import closest_id

        declared = list(declared)
        meant = {job_id: close for job_id in missing if (close := closest_id(job_id, declared)) is not None}
        if len(missing) == 1 and meant:
            hint = f"did you mean {meant[missing[0]]!r}?"
        elif meant:
            hint = "did you mean " + ", ".join(f"{close!r} for {job_id!r}" for job_id, close in meant.items()) + "?"
        else:
            hint = "see `jobdeck ls` for the ids"
        return cls(f"no job {', '.join(map(repr, missing))} in {where}{more}", hint=hint)


class NoSuchAttempt(JobdeckError):
    """A job that has no attempt, or none with the number asked for (the answer is no, as for an unknown job)."""

    exit_code = 1


class EditConflict(JobdeckError):
    """jobs.json changed on disk while it was being edited."""

    exit_code = 1


class AgentError(JobdeckError):
    """An agent could not be set up or run (missing executable, bad config)."""

    spent: Mapping[str, Any] | None = None
    """What the attempt's calls cost before it failed (``usage``, ``cost``, as an outcome has them): recorded
    with the failure, so a model's answer lost to a full disk still counts in the day's spend."""


class NotStarted(JobdeckError):
    """The attempt's files could not be set up (disk full, read-only deck); nothing ran, so it may be retried."""


class LogReplaced(StateError):
    """events.jsonl is no longer the file this process read and appended to (moved, replaced or truncated)."""

    def __init__(self, path: str, how: str, *, holder: str = "jobdeck") -> None:
        super().__init__(
            f"{path} was {how} while {holder} had it open: nothing more is written to the log "
            "(jobdeck never renames or truncates it)",
            hint="put the original file back at that path, then start the runner again; "
                 "logrotate, copytruncate included, must not touch it",
        )
        self.path, self.how = path, how


class HistoryMissing(LogReplaced):
    """Closed segments the reader needs are not in .jobdeck/log (archived or removed): the chain cannot be read
    through them. A LogReplaced, so whatever stops or waits for a log it cannot follow does so for this too."""

    def __init__(self, path: str, directory: str, start: int, end: int) -> None:
        """``start``..``end - 1``: the seqs missing."""
        missing = f"before seq {end}" if start == 1 else f"from seq {start} to {end - 1}"
        StateError.__init__(self, f"the chain of work {missing} is not in {directory} (segments archived or removed?)",
                            hint=f"put those segments back there to read it; `jobdeck audit verify --from {end}` "
                                 "checks what remains")
        self.path, self.how = path, f"missing its segments {missing}"


class StatsCacheDamaged(StateError):
    """A line of .jobdeck/stats-cache.json does not parse: the cache is folded again from the log."""


class HistoryLost(StateError):
    """The event log is empty or missing although the workspaces hold attempts of an earlier history."""


class AttemptRefused(JobdeckError):
    """An attempt directory that jobdeck will not write into: used by another attempt, or reached through a link."""
