"""Attempts left running by a runner that is gone: record their result, or mark them interrupted.

Called under the deck lock. Lease still held → still running somewhere (an
orphaned child, or another runner): leave it. Lease free and result.json
present → the runner died after finishing: record the stored outcome. Lease
free and no result → interrupted: retried only when the job is idempotent,
otherwise sent to review.

The lease descriptor is inherited by everything the attempt's leader starts, so
after a runner crash a daemon could hold it long after the leader exited. The
attempt's boundary record (``agents/boundary.py``) says who the leader and the
runner were: when both are gone, what is left in the attempt's boundary is
stopped first (``abandoned_boundaries``, outside the lock), and the attempt is
resolved once nothing is (``busy`` holds the ones being stopped). A record
that names no leader (its runner was killed after starting the leader, before
recording it: a window of well under a millisecond) counts as a leader gone:
what the attempt runs is stopped whole and the attempt ends ``interrupted``,
retried by its policy; no process is taken to be the leader (a daemon the
leader left would be). A leader still running keeps the attempt as it is, even
if it closed its lease descriptor, until its job's hard or idle timeout passes: then it is stopped as its runner
would have stopped it, and ended with the timeout (``overdue_orphans``). Its
result.json is written before the stop begins, so that if this runner dies too
before the outcome is in the log, the next recovery records the timeout, not
``interrupted``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from jobdeck.agents.base import Failure, Outcome, timeout_words
from jobdeck.agents.boundary import Boundary, read_record
from jobdeck.agents.containment import reopen
from jobdeck.runner.attempt import Claimed, lease_held
from jobdeck.runner.attempt_events import interrupted_event, read_result, write_result
from jobdeck.runner.verdict import verdict
from jobdeck.state.attempt_dirs import open_attempt_dir, read_remote
from jobdeck.state.attempts import OUTPUT, REMOTE, REMOTE_SCRIPT, STDERR
from jobdeck.state.board import Board
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AttemptRefused
from jobdeck.state.machine import EventType, Status

if TYPE_CHECKING:
    from jobdeck.state.spec import Job, Spec


TakeOver = Callable[[str, Any, dict[str, Any]], bool]
"""Given a job id, its state and its attempt's ``remote.json``: whether this runner took the attempt over."""


def orphaned_events(deck: Deck, spec: Spec | None, board: Board, job_ids: set[str], mine: set[str],
                    now: float, busy: Set[Path] = frozenset(), take_over: TakeOver | None = None,
                    stopped: Mapping[Path, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Events resolving every running attempt in ``job_ids`` that no live process holds.

    An attempt on an executor whose job the batch system still hosts is not
    resolved but offered to ``take_over`` (``runner/takeover.py``). One this runner
    stopped for its timeout (``stopped``, by directory: ``overdue_orphans``) ends
    with that outcome rather than ``interrupted``.
    """
    events = []
    for job_id in sorted(job_ids - mine):
        state = board.state(job_id)
        attempt = state.attempt
        if state.status != Status.RUNNING or attempt is None or state.token is None:
            continue
        try:
            directory = deck.attempt_dir(attempt.workspace, job_id, attempt.n)
        except AttemptRefused:  # its workspace leads out of the deck: opening it says so below
            directory = None
        if directory in busy:
            continue
        try:
            attempt_fd = open_attempt_dir(deck, attempt.workspace, job_id, attempt.n)
        except (FileNotFoundError, NotADirectoryError, AttemptRefused):  # gone, or a link: no lease, no result
            held, stored = False, None
        else:
            try:
                held = lease_held(attempt_fd)
                if not held:  # the lease is free, but the program may still run (its runner recorded it)
                    record = read_record(directory)
                    held = record is not None and record.local and record.leader_alive()
                stored = None if held else read_result(attempt_fd)
                remote = None if held or stored is not None else read_remote(attempt_fd)
                if remote is not None and take_over is not None and take_over(job_id, state, remote):
                    continue
            finally:
                os.close(attempt_fd)
        if held:
            continue
        timed_out = stopped.get(directory) if stopped is not None and directory is not None else None
        if timed_out is not None and timed_out.get("token") == state.token:
            events.append(timed_out)  # (its result.json holds the same: this runner wrote it before the stop)
        elif stored is not None and stored.get("token") == state.token:
            events.append({**stored, "recovered": True})
        else:
            job = spec.job(job_id) if spec is not None else None
            events.append(interrupted_event(job, state, state.token, now, "runner died"))
    return events


class Abandoned(NamedTuple):
    """A dead runner's attempt whose leader is gone too, and what it left running."""

    job_id: str
    directory: Path
    boundary: Boundary
    processes: int


def abandoned_boundaries(deck: Deck, board: Board, job_ids: set[str]) -> list[Abandoned]:
    """The boundaries of ``job_ids``' running attempts whose runner and leader are gone but that hold processes.

    Only attempts whose record can be checked from here (same host, boot and
    pid namespace); an emptied cgroup of such an attempt is removed on the way.
    """
    found = []
    for job_id in sorted(job_ids):
        state = board.state(job_id)
        if state.status == Status.RUNNING and state.attempt is not None:
            left = _left_running(deck, job_id, state.attempt.workspace, state.attempt.n, leader_gone=True)
            if left is not None:
                found.append(left)
    return found


def revoked_left(deck: Deck, board: Board, job_ids: Iterable[str], mine: Set[str], busy: Set[Path] = frozenset()
                 ) -> tuple[list[Abandoned], list[dict[str, Any]]]:
    """Attempts cancelled while their runner was dead: (those still running, events ending those that are not).

    An operator's cancel stops an attempt through its runner. With that runner
    killed, nothing did: its program (the leader included) ran on. The next
    runner finds such an attempt by its state (no longer running, its attempt
    never ended) and its record (a runner gone), stops all of it, and then ends
    it as its own runner would have: failed, ``cancelled``. An attempt whose
    runner cannot be checked from here (another host) is left as it is.
    """
    found, events = [], []
    for job_id in sorted(set(job_ids) - set(mine)):
        state = board.state(job_id)
        attempt = state.attempt
        if state.status == Status.RUNNING or attempt is None or attempt.outcome is not None:
            continue
        try:
            directory = deck.attempt_dir(attempt.workspace, job_id, attempt.n)
        except AttemptRefused:  # its workspace leads out of the deck: nothing of it is read there
            continue
        if directory in busy:
            continue
        record = read_record(directory)
        if record is None:  # its runner died before its program started, or an attempt not run here
            try:
                started = lease_held(directory)
            except OSError:
                started = False
            if started or os.path.lexists(directory / REMOTE_SCRIPT):
                continue
        elif not record.local or record.runner_alive():
            continue
        else:
            left = _left_running(deck, job_id, attempt.workspace, attempt.n, leader_gone=False)
            if left is not None:
                found.append(left)
                continue
        events.append({"type": EventType.FAILED, "job": job_id, "token": attempt.token, "reason": "cancelled"})
    return found, events


class Overdue(NamedTuple):
    """A dead runner's attempt still running past its job's timeout: what to stop, and the outcome to record then."""

    left: Abandoned
    event: dict[str, Any]


def overdue_orphans(deck: Deck, spec: Spec | None, board: Board, job_ids: Iterable[str], mine: Set[str],
                    now: float, busy: Set[Path] = frozenset()) -> tuple[list[Overdue], float | None]:
    """Dead runners' attempts whose leader still runs past the job's hard or idle timeout, and the next such deadline.

    Their runner would have stopped them; with it gone, nothing did. The hard
    timeout counts from the claim, the idle one from the last growth of the
    attempt's ``output`` or ``stderr.log`` (their mtimes). Only attempts whose record can be
    checked and stopped from here (same host, boot and pid namespace); an attempt
    on a batch system is taken over instead (``runner/takeover.py``). Each one's
    result.json is written here, before the caller stops it (``_keep_result``).
    """
    found: list[Overdue] = []
    next_due: float | None = None
    for job_id in sorted(set(job_ids) - set(mine)):
        state = board.state(job_id)
        attempt = state.attempt
        job = spec.job(job_id) if spec is not None else None
        if (state.status != Status.RUNNING or attempt is None or state.token is None or job is None
                or (job.timeout.hard is None and job.timeout.idle is None)):
            continue
        try:
            directory = deck.attempt_dir(attempt.workspace, job_id, attempt.n)
        except AttemptRefused:  # its workspace leads out of the deck: nothing of it is read there
            continue
        if directory in busy or os.path.lexists(directory / REMOTE):
            continue
        record = read_record(directory)
        if record is None or not record.local or record.runner_alive() or not record.leader_alive():
            continue  # (a gone leader: abandoned_boundaries stops what it left, recovery resolves it)
        deadlines = []
        if job.timeout.hard is not None:
            deadlines.append((attempt.started + job.timeout.hard, "hard_timeout"))
        if job.timeout.idle is not None:
            deadlines.append((_last_growth(directory, attempt.started) + job.timeout.idle, "idle_timeout"))
        due, reason = min(deadlines)
        if due > now:
            next_due = due if next_due is None else min(next_due, due)
            continue
        left = _left_running(deck, job_id, attempt.workspace, attempt.n, leader_gone=False)
        if left is not None:
            claimed = Claimed(job.id, attempt.n, state.token, attempt.workspace, state.tries, directory, -1,
                              attempt.started)
            event = _timeout_event(job, claimed, reason, now)
            _keep_result(deck, claimed, event, now)
            found.append(Overdue(left, event))
    return found, next_due


def _last_growth(directory: Path, started: float) -> float:
    """When the attempt last wrote its output or diagnostics (not before it was claimed)."""
    last = started
    for name in (OUTPUT, STDERR):
        try:
            last = max(last, os.lstat(directory / name).st_mtime)
        except FileNotFoundError:
            continue
    return last


def _timeout_event(job: Job, claimed: Claimed, reason: str, now: float) -> dict[str, Any]:
    """The outcome an attempt stopped for ``reason`` gets, as its own runner would have recorded it."""
    limit = job.timeout.idle if reason == "idle_timeout" else job.timeout.hard
    outcome = Outcome.failed(reason, Failure.TRANSIENT if job.retry.on_timeout else Failure.PERSISTENT,
                             f"{timeout_words(reason, limit)}; stopped after its runner was gone")
    event = verdict(job, claimed, outcome, [], now)
    try:
        event["output_bytes"] = os.lstat(claimed.directory / OUTPUT).st_size
    except FileNotFoundError:
        pass
    return event


def _keep_result(deck: Deck, claimed: Claimed, event: dict[str, Any], now: float) -> None:
    """Write ``event`` into the attempt's result.json before the attempt is stopped, as its runner would at its end.

    Once the stop begins, the leader may be gone and the lease free at any moment;
    should this runner die before the outcome is in the log, the next recovery
    then finds this result, not "no result" (which it would record as ``interrupted``).
    """
    try:
        dir_fd = open_attempt_dir(deck, claimed.workspace, claimed.job_id, claimed.attempt)
    except (OSError, AttemptRefused):  # (the stop and this runner's own record go on without it)
        return
    try:
        write_result(claimed, event, int(event.get("output_bytes", 0)), now, dir_fd=dir_fd)
    except OSError:
        pass  # e.g. a full disk: this runner still records the outcome; only its death too would lose it
    finally:
        os.close(dir_fd)


def _left_running(deck: Deck, job_id: str, workspace: str, n: int, *, leader_gone: bool) -> Abandoned | None:
    """What a dead runner's attempt still runs (with ``leader_gone``, only once its leader exited), or None."""
    try:
        directory = deck.attempt_dir(workspace, job_id, n)
    except AttemptRefused:  # its workspace leads out of the deck: nothing of it is read there
        return None
    record = read_record(directory)
    if record is None or not record.local or record.runner_alive() or (leader_gone and record.leader_alive()):
        return None
    boundary = reopen(record, directory, lambda: lease_held(directory))
    if boundary is None:
        return None
    processes = len(boundary.members())
    if processes:
        return Abandoned(job_id, directory, boundary, processes)
    boundary.close()
    return None
