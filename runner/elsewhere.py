"""What a runner's printout says about records other processes wrote to the log.

A runner folds every record appended to the log, but its printout (and its
``--json`` lines) is its own work: two overlapping ``run --once`` from cron must
not both report the same attempt. Of what others wrote, it keeps the operator's
actions (a cancel explains why an attempt of ours ended) and one note per claim
another runner made (so a run that started nothing says who did); their
outcomes are that runner's to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobdeck.state.actions import ACTION_OF_EVENT
from jobdeck.state.machine import EventType

CLAIMED_ELSEWHERE = "claimed_elsewhere"
"""The record type of the note a runner prints for another runner's claim."""


def report_of_foreign(record: Mapping[str, Any], runner_id: str) -> Mapping[str, Any] | None:
    """What to print for ``record``, which another process appended to the log; None: nothing."""
    kind = record.get("type")
    if kind == EventType.CLAIMED:
        if record.get("runner") == runner_id:  # (ours, read back: not another runner's work either)
            return None
        return {"type": CLAIMED_ELSEWHERE, "ts": record.get("ts"), "job": record.get("job"),
                "attempt": record.get("attempt"), "runner": record.get("runner")}
    if kind in ACTION_OF_EVENT:
        return record
    return None
