"""A dead runner's remote attempt, taken over: its job still runs (or ran) on the batch system.

A local attempt dies with its runner's children, so recovery marks it
interrupted. An attempt on an executor (``agents/remote.py``) does not: the
batch system keeps it, and its ``remote.json`` says where. Recovery hands such
an attempt to ``take_over`` (deck lock held), which opens its directory, takes
its lease (so no other runner takes it too) and gives back a ``Claimed`` with
the record as ``resume``; the runner then follows it to its end like one of its
own. It is never submitted again.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.runner.attempt import Claimed, lease_held
from jobdeck.state.attempt_dirs import open_attempt_dir, open_in, read_remote
from jobdeck.state.attempts import LEASE, OUTPUT, REMOTE_SCRIPT
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AttemptRefused
from jobdeck.state.machine import Status

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.machine import JobState
    from jobdeck.state.spec import Spec


def can_take_over(spec: Spec | None, job_id: str, record: dict[str, Any]) -> bool:
    """Whether this runner's spec still places the job on the executor the attempt was submitted to."""
    job = spec.job(job_id) if spec is not None else None
    placed = spec.executor_of(job) if spec is not None and job is not None else None
    return placed is not None and placed[0] == record.get("executor")


def take_over(deck: Deck, job_id: str, state: JobState, record: dict[str, Any]) -> Claimed | None:
    """The attempt, opened and leased for this runner; None if another process holds its lease (lock held)."""
    attempt = state.attempt
    assert attempt is not None and state.token is not None
    try:
        dir_fd = open_attempt_dir(deck, attempt.workspace, job_id, attempt.n)
    except (OSError, AttemptRefused):
        return None
    try:
        lease = open_in(dir_fd, LEASE, os.O_RDONLY)
    except OSError:
        os.close(dir_fd)
        return None
    try:
        fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
        output = open_in(dir_fd, OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    except OSError:  # (BlockingIOError: someone took it first)
        os.close(lease)
        os.close(dir_fd)
        return None
    directory = deck.attempt_dir(attempt.workspace, job_id, attempt.n)
    return Claimed(job_id, attempt.n, state.token, attempt.workspace, state.tries, directory, lease,
                   attempt.started, output_fd=output, dir_fd=dir_fd, resume=record)


def left_on_cluster(deck: Deck, spec: Spec | None, board: Board, job_ids: Iterable[str],
                    mine: Set[str]) -> list[tuple[str, Path, dict[str, Any]]]:
    """Attempts cancelled while no runner followed them, whose batch job may still run: (job, directory, record).

    An operator's cancel ends a followed attempt through its runner, which stops
    the batch job. With no runner up, nothing does; the next runner finds such
    an attempt by its state (cancelled, its attempt never ended) and its files
    (a batch script never cleaned up, a record with the job's id, a free lease).
    """
    found = []
    for job_id in job_ids:
        state = board.state(job_id)
        attempt = state.attempt
        if job_id in mine or attempt is None or attempt.outcome is not None or state.status == Status.RUNNING:
            continue
        try:
            directory = deck.attempt_dir(attempt.workspace, job_id, attempt.n)
        except AttemptRefused:  # its workspace leads out of the deck: nothing of it is read there
            continue
        if not os.path.lexists(directory / REMOTE_SCRIPT):  # a local attempt, or one a runner saw to its end
            continue
        record = read_remote(directory)
        if (record is None or "id" not in record or spec is None
                or record.get("executor") not in spec.executors or lease_held(directory)):
            continue
        found.append((job_id, directory, record))
    return found
