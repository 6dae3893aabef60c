"""Outcome events of attempts that get no verdict (not started, interrupted), and result.json, which keeps one.

An attempt that could not be set up (``not_started_event``) or whose runner
stopped (``interrupted_event``) gets its outcome here rather than from a verdict.
``result.json`` is written last in the attempt directory, atomically, and carries
the outcome event, so recovery can record it if the runner died before appending it.
"""

from __future__ import annotations

import errno
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.runner.attempt import Claimed
from jobdeck.state.atomic import FILE_MODE
from jobdeck.state.attempt_dirs import DIR_FLAGS, open_in
from jobdeck.state.attempts import RESULT, RUNS
from jobdeck.state.machine import NOT_STARTED, EventType, JobState

if TYPE_CHECKING:
    from jobdeck.state.spec import Job

RETRY_NOT_STARTED = 1.0
"""Seconds before an attempt that could not be set up is tried again (nothing ran)..."""
MAX_NOT_STARTED_WAIT = 60.0
"""...doubled for each such attempt in a row, up to this."""


def not_started_event(claimed: Claimed, state: JobState, now: float, exc: BaseException) -> dict[str, Any]:
    """Outcome of an attempt whose directory or files could not be set up: transient, retried soon.

    Nothing ran, so it does not use up one of the job's tries (the state machine
    gives it back), however long the deck refuses files; the waits grow instead,
    so a deck that stays read-only does not fill the log.
    """
    streak = 0
    for attempt in reversed(state.attempts[:-1]):  # the last one is this attempt
        if attempt.reason != NOT_STARTED:
            break
        streak += 1
    wait = min(RETRY_NOT_STARTED * 2 ** streak, MAX_NOT_STARTED_WAIT)
    return {"type": EventType.FAILED, "job": claimed.job_id, "token": claimed.token, "attempt": claimed.attempt,
            "reason": NOT_STARTED, "failure": "transient", "retry_at": now + wait,
            "message": f"the attempt could not be set up, nothing ran: {_setup_error(claimed, exc)}"}


def _setup_error(claimed: Claimed, exc: BaseException) -> str:
    """``exc`` as "path: problem", with the full path: the attempt is set up relative to open directories,
    so an OSError names only the last part (``'6'``, ``'stderr.log'``)."""
    if not isinstance(exc, OSError) or not isinstance(exc.filename, str | bytes) or not exc.strerror:
        return str(exc)
    name = os.fsdecode(exc.filename)
    directory = claimed.directory
    # (a name shared by two levels goes to the attempt's own: its directory is made at every claim)
    levels = {RUNS: directory.parent.parent, claimed.job_id: directory.parent, str(claimed.attempt): directory}
    path = name if os.path.isabs(name) else levels.get(name, directory / name)
    return f"{path}: {exc.strerror}"


def refused_event(claimed: Claimed, exc: BaseException) -> dict[str, Any]:
    """Outcome of a claim whose attempt directory jobdeck will not write into: failed, left to the operator.

    Nothing ran. Not retried automatically: the directory shows something is wrong
    with the deck (an attempt the log does not record, or a link), which a retry
    would not mend.
    """
    return {"type": EventType.FAILED, "job": claimed.job_id, "token": claimed.token, "attempt": claimed.attempt,
            "reason": "attempt_refused", "failure": "persistent", "message": f"nothing ran: {exc}"}


MAX_INTERRUPTED_RERUNS = 3
"""Interruptions in a row after which even an idempotent job goes to review (its runner may be what dies)."""


def interrupted_event(job: Job | None, state: JobState, token: int, now: float, why: str) -> dict[str, Any]:
    """Event for an attempt whose runner stopped: re-run at once when the job is idempotent, else review.

    The runner stopping is not the job failing: the re-run does not use one of the
    job's tries (the machine gives it back), so ``max_attempts: 1`` is re-run too,
    up to MAX_INTERRUPTED_RERUNS interruptions in a row.
    """
    event: dict[str, Any] = {"type": EventType.INTERRUPTED, "job": state.job, "token": token, "reason": why}
    if job is not None and job.idempotent and _interruptions_in_a_row(state) < MAX_INTERRUPTED_RERUNS:
        event["retry_at"] = now
    return event


def _interruptions_in_a_row(state: JobState) -> int:
    """How many of the job's attempts before the current one ended interrupted, counting back."""
    count = 0
    for attempt in reversed(state.attempts[:-1] if state.attempts and state.attempts[-1].outcome is None
                            else state.attempts):
        if attempt.outcome != "interrupted":
            break
        count += 1
    return count


def write_result(claimed: Claimed, event: Mapping[str, Any], output_bytes: int, ended: float, *,
                 dir_fd: int | None = None) -> None:
    """result.json, last: the completion marker with the outcome event inside.

    Written relative to ``dir_fd`` (default: the claim's open attempt directory),
    through no link.

    The file gets its name only once its content is written (an unnamed
    O_TMPFILE, then linked), so it is never seen empty or cut off, even when
    the deck turns full or read-only halfway. Not renamed over anything and not
    fsynced: the outcome event in the log is the durable record; result.json
    only lets recovery record an outcome whose event never reached the log.
    Where the file system has no O_TMPFILE it is written in place, and a reader
    treats a torn one as no result (the attempt is then "interrupted"), which is safe.
    """
    record = {"job": claimed.job_id, "attempt": claimed.attempt, "token": claimed.token,
              "started": claimed.started, "ended": ended, "output_bytes": output_bytes,
              "event": dict(event)}
    data = json.dumps(record).encode()
    path = claimed.directory / RESULT
    own = None
    if dir_fd is None:
        dir_fd = claimed.dir_fd
    if dir_fd < 0:
        dir_fd = own = os.open(claimed.directory, DIR_FLAGS)
    try:
        _write_result_in(dir_fd, data, path)
    finally:
        if own is not None:
            os.close(own)


def _write_result_in(dir_fd: int, data: bytes, path: Path) -> None:
    try:
        fd = os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, FILE_MODE, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
        _write_in_place(dir_fd, data, path)
        return
    try:
        _write_all(fd, data, path)
        try:
            _link(fd, dir_fd)
        except FileExistsError:  # left by a job in its place (a link is removed, never followed)
            os.unlink(RESULT, dir_fd=dir_fd)
            _link(fd, dir_fd)
    finally:
        os.close(fd)


def _link(fd: int, dir_fd: int) -> None:
    """Name the unnamed file ``fd`` result.json in ``dir_fd`` (linkat with AT_SYMLINK_FOLLOW on its
    /proc link, which is the file itself; a src_dir_fd makes os.link use linkat, which an absolute
    source path ignores). linkat never follows a link at the new name: it fails with EEXIST."""
    os.link(f"/proc/self/fd/{fd}", RESULT, src_dir_fd=fd, dst_dir_fd=dir_fd, follow_symlinks=True)


def _write_in_place(dir_fd: int, data: bytes, path: Path) -> None:
    fd = open_in(dir_fd, RESULT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        _write_all(fd, data, path)
    except OSError:
        try:  # a full disk leaves an empty or cut-off file: no result is clearer
            os.unlink(RESULT, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, path: Path) -> None:
    if os.write(fd, data) != len(data):
        raise OSError(errno.ENOSPC, f"short write to {path}")


def read_result(directory: Path | int) -> dict[str, Any] | None:
    """The outcome event stored in result.json (in a path or an open directory), if the file is
    complete and not a link, with the time the attempt ended as ``ended`` when the file says it.

    Recorded later by recovery, the event keeps that time: its record's own ``ts``
    is when the recovery ran (``state/machine.py`` prefers ``ended``)."""
    try:
        with open(open_in(directory, RESULT, os.O_RDONLY), "rb") as file:
            record = json.loads(file.read())
    except (OSError, ValueError):
        return None
    event = record.get("event") if isinstance(record, dict) else None
    if not isinstance(event, dict):
        return None
    ended = record.get("ended")
    if isinstance(ended, int | float) and not isinstance(ended, bool) and math.isfinite(ended):
        event = {**event, "ended": ended}
    return event
