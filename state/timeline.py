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
Each deadline is judged once: a later ``decided`` event naming it again (the
job's start, after an at-risk warning) does not set it pending again.
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
    judged: dict[str, float] = field(default_factory=dict)
    """Per job, the latest deadline already judged (met or missed)."""
    late: dict[str, float] = field(default_factory=dict)
    """Per job, a deadline missed with no success since: a success now is a late one."""
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
        deadline, job = record.get("deadline"), record["job"]
        if not isinstance(deadline, int | float) or isinstance(deadline, bool):
            return None
        deadline = float(deadline)
        if deadline <= self.judged.get(job, -math.inf):
            return None  # judged already: named again by a later verdict of the same cycle
        self.deadline_of[job] = deadline
        self.late.pop(job, None)
        self.next_due = min(self.next_due, deadline)
        return deadline

    def succeeded(self, job: str, ts: float) -> tuple[float, bool] | None:
        """(deadline, met) for ``job``'s success at ``ts``; None if no deadline is pending for it."""
        self.late.pop(job, None)
        deadline = self.deadline_of.pop(job, None)
        if deadline is None:
            return None
        self.judged[job] = deadline
        self._due_again()
        return deadline, ts <= deadline

    def late_success(self, job: str) -> float | None:
        """The deadline ``job`` missed, if its success now comes after it (call before ``succeeded``)."""
        return self.late.get(job) if job not in self.deadline_of else None

    def passed(self, ts: float) -> list[tuple[str, float]]:
        """The pending deadlines before ``ts`` (missed: no success came by then), as (job, deadline); forgets them."""
        if ts <= self.next_due:
            return []
        missed = self.overdue(ts)
        for job, deadline in missed:
            del self.deadline_of[job]
            self.judged[job] = self.late[job] = deadline
        self._due_again()
        return missed

    def overdue(self, now: float) -> list[tuple[str, float]]:
        """The pending deadlines before ``now``, as (job, deadline), kept (a reader's view at its clock)."""
        return sorted(((job, deadline) for job, deadline in self.deadline_of.items() if deadline < now),
                      key=lambda pair: (pair[1], pair[0]))

    def _due_again(self) -> None:
        self.next_due = min(self.deadline_of.values(), default=math.inf)

    def to_json(self) -> dict[str, Any]:
        return {"entered": self.entered, "deadline_of": self.deadline_of, "runner_from": self.runner_from,
                "judged": self.judged, "late": self.late}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Timeline:
        # (judged and late are absent from a snapshot written before they were kept)
        timeline = cls(*({str(k): float(v) for k, v in data.get(name, {}).items()}
                         for name in ("entered", "deadline_of", "runner_from", "judged", "late")))
        timeline._due_again()
        return timeline
