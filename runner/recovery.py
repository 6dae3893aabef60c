"""Attempts left running by a runner that is gone: record their result, or mark them interrupted.

Called under the deck lock. Lease still held → still running somewhere (an
orphaned child, or another runner): leave it. Lease free and result.json
present → the runner died after finishing: record the stored outcome. Lease
free and no result → interrupted: retried only when the job is idempotent,
otherwise sent to review.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from jobdeck.runner.attempt import lease_held
from jobdeck.runner.attempt_events import interrupted_event, read_result
from jobdeck.state.attempt_dirs import open_attempt_dir
from jobdeck.state.board import Board
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AttemptRefused
from jobdeck.state.machine import Status

if TYPE_CHECKING:
    from jobdeck.state.spec import Spec


def orphaned_events(deck: Deck, spec: Spec | None, board: Board, job_ids: set[str], mine: set[str],
                    now: float) -> list[dict[str, Any]]:
    """Events resolving every running attempt in ``job_ids`` that no live process holds."""
    events = []
    for job_id in sorted(job_ids - mine):
        state = board.state(job_id)
        attempt = state.attempt
        if state.status != Status.RUNNING or attempt is None or state.token is None:
            continue
        try:
            attempt_fd = open_attempt_dir(deck, attempt.workspace, job_id, attempt.n)
        except (FileNotFoundError, NotADirectoryError, AttemptRefused):  # gone, or a link: no lease, no result
            held, stored = False, None
        else:
            try:
                held = lease_held(attempt_fd)
                stored = None if held else read_result(attempt_fd)
            finally:
                os.close(attempt_fd)
        if held:
            continue
        if stored is not None and stored.get("token") == state.token:
            events.append({**stored, "recovered": True})
        else:
            job = spec.job(job_id) if spec is not None else None
            events.append(interrupted_event(job, state, state.token, now, "runner died"))
    return events
