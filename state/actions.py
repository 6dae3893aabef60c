"""Operator actions (approve, reject, retry, cancel, pause, resume, trigger) as events.

The CLI and the cockpit both call ``act``; it checks the action against the spec
and the caught-up board under the lock, then appends one event per affected job,
attributed to the operator. jobs.json is never written here.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from typing import Any

from jobdeck.state.board import Board, Store
from jobdeck.state.errors import IllegalTransition, UnknownJob
from jobdeck.state.graph import downstream
from jobdeck.state.machine import Status, allowed
from jobdeck.state.views import needs_approval

ACTIONS = {
    "approve": "approved",
    "reject": "rejected",
    "retry": "retried",
    "cancel": "cancelled",
    "pause": "paused",
    "resume": "resumed",
    "trigger": "triggered",
}


def operator() -> str:
    """Who is acting: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def act(store: Store, spec: Any, job_id: str, action: str, *, reason: str | None = None,
        via: str = "cli", by: str | None = None, inputs: Mapping[str, str] | None = None,
        now: float | None = None) -> list[dict[str, Any]]:
    """Apply an operator ``action`` to a job; return the stored event records.

    Raises UnknownJob for an id not in the spec and IllegalTransition (with the
    job's status) when the action does not apply now.
    """
    job = spec.job(job_id)
    if job is None:
        raise UnknownJob(f"no job '{job_id}' in jobs.json", hint="see `jobdeck ls` for the ids")
    event_type = ACTIONS[action]
    who = by or operator()

    def decide(board: Board) -> list[dict[str, Any]]:
        state = board.state(job_id)
        base = {"type": event_type, "by": who, "via": via}
        if reason:
            base["reason"] = reason
        if action == "trigger":
            targets = downstream([job_id], {j.id: j.depends_on for j in spec.jobs})
            busy = [t for t in targets if board.state(t).status == Status.RUNNING]
            if busy:
                raise IllegalTransition(
                    f"job '{busy[0]}' is running; a new cycle would overlap it",
                    hint="wait for it to finish, or cancel it first",
                )
            events = []
            for target in targets:
                event = {**base, "job": target, "source": f"{via}:{who}", "root": job_id}
                if target == job_id and inputs:
                    event["inputs"] = dict(inputs)
                events.append(event)
            return events
        if action in ("approve", "reject") and state.status == Status.BACKLOG and not needs_approval(job):
            raise IllegalTransition(
                f"job '{job_id}' is in the backlog and needs no approval",
                hint="approve/reject apply to jobs in review and to high-risk jobs before they run",
            )
        if not allowed(state, event_type):
            raise IllegalTransition(
                f"cannot {action} job '{job_id}': it is {state.status.value}"
                + (" and already approved" if action == "approve" and state.approved else ""),
            )
        return [{**base, "job": job_id}]

    records, _ = store.transact(decide, now=now)
    return records
