"""When each job became ready to start, and which deadline its work is held to.

Two folds of the chain of work ask this: `jobdeck decisions --report` and
`jobdeck stats` (state/history.py). Both measure a wait from the job entering
the backlog ready to its claim, and call a deadline missed when its time
passed without a success; this module is that rule, kept once.

A claim says when its job became ready (``ready``: the latest of its entering
the backlog, its retry time and its dependencies' finishing; state/views.py
``ready_since``), and the wait counts from there. For a claim that does not (a
log written before claims said it), a job enters the backlog with a
``triggered`` or ``retried`` event, or a failure with a retry due, and a job
with no such event (a plain job's first run) has been ready since the runner
that claims it began claiming: time spent waiting on a dependency counts
there too. A deadline named by a
``decided`` event is met by a success at or before it, and missed once a
record of the log (or the clock, for a reader) is past it with no success.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.state.machine import EventType

BACKLOG_ENTRIES = frozenset({EventType.TRIGGERED, EventType.RETRIED})
"""Record types that put a job in the backlog (a failed one with ``retry_at`` does too)."""
RUNNERS_KEPT = 64
"""Runners whose first claim is remembered: a runner claims in one stretch, and cron starts a new one each run."""


@dataclass(slots=True)
class Timeline:
    """Per job: when it last entered the backlog and the deadline pending for it; per runner, its first claim."""

    entered: dict[str, float] = field(default_factory=dict)
    deadline_of: dict[str, float] = field(default_factory=dict)
    runner_from: dict[str, float] = field(default_factory=dict)
    next_due: float = math.inf
    """The earliest pending deadline (derived from ``deadline_of``)."""

    def enters_backlog(self, record: Mapping[str, Any]) -> bool:
        """Note ``record`` if it puts its job in the backlog; whether it did."""
        kind = record.get("type")
        if kind in BACKLOG_ENTRIES or (kind == EventType.FAILED and record.get("retry_at") is not None):
            self.entered[record["job"]] = record.get("ts", 0.0)
            return True
        return False

    def claimed(self, job: str, ts: float, runner: object = None, ready: object = None) -> float | None:
        """The wait that ends with ``job``'s claim at ``ts`` by ``runner`` (None when its start is unknown):
        from the time the claim gives for the job becoming ready (``ready``), if it gives one."""
        entered = self.entered.pop(job, None)
        if isinstance(runner, str):
            began = self.runner_from.setdefault(runner, ts)
            if len(self.runner_from) > RUNNERS_KEPT:
                del self.runner_from[next(iter(self.runner_from))]
            if entered is None:
                entered = began
        if isinstance(ready, int | float) and not isinstance(ready, bool) and math.isfinite(ready):
            entered = ready
        return None if entered is None else max(ts - entered, 0.0)

    def decided(self, record: Mapping[str, Any]) -> float | None:
        """Note the deadline a ``decided`` record names for its job; that deadline, if any."""
        deadline = record.get("deadline")
        if isinstance(deadline, int | float) and not isinstance(deadline, bool):
            self.deadline_of[record["job"]] = float(deadline)
            self.next_due = min(self.next_due, float(deadline))
            return float(deadline)
        return None

    def succeeded(self, job: str, ts: float) -> tuple[float, bool] | None:
        """(deadline, met) for ``job``'s success at ``ts``; None if no deadline is pending for it."""
        deadline = self.deadline_of.pop(job, None)
        if deadline is None:
            return None
        self._due_again()
        return deadline, ts <= deadline

    def passed(self, ts: float) -> list[tuple[str, float]]:
        """The pending deadlines before ``ts`` (missed: no success came by then), as (job, deadline); forgets them."""
        if ts <= self.next_due:
            return []
        missed = self.overdue(ts)
        for job, _ in missed:
            del self.deadline_of[job]
        self._due_again()
        return missed

    def overdue(self, now: float) -> list[tuple[str, float]]:
        """The pending deadlines before ``now``, as (job, deadline), kept (a reader's view at its clock)."""
        return sorted(((job, deadline) for job, deadline in self.deadline_of.items() if deadline < now),
                      key=lambda pair: (pair[1], pair[0]))

    def _due_again(self) -> None:
        self.next_due = min(self.deadline_of.values(), default=math.inf)

    def to_json(self) -> dict[str, Any]:
        return {"entered": self.entered, "deadline_of": self.deadline_of, "runner_from": self.runner_from}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Timeline:
        timeline = cls({str(k): float(v) for k, v in data["entered"].items()},
                       {str(k): float(v) for k, v in data["deadline_of"].items()},
                       {str(k): float(v) for k, v in data["runner_from"].items()})
        timeline._due_again()
        return timeline
