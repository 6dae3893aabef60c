"""When each job became ready to start, and which deadline its work is held to.

Two folds of the chain of work ask this: `jobdeck decisions --report` and
`jobdeck stats` (state/history.py). Both measure a wait from the job entering
the backlog ready to its claim, and call a deadline missed when its time
passed without a success; this module is that rule, kept once.

A claim says when its job became ready (``ready``: the latest of its entering
the backlog, its retry time and its dependencies' finishing, state/views.py
``ready_since``; or when the runner first saw it in a jobs.json it reloaded, if
later), and the wait counts from there. For a claim that does not (a log
written before claims said it), a job enters the backlog with a ``triggered``
or ``retried`` event, or a failure with a retry due, and a job with no such
event (a plain job's first run) has been ready since the runner that claims it
began claiming: time spent waiting on a dependency counts there too. Either
way, a job the operator kept back (paused, held, not yet approved) waits from
the operator's letting it go (``resumed``, ``released`` of a hold, ``approved``)
when that comes later: it was not waiting for a slot. A deadline named by a
``decided`` event is met by a success that ended at or before it, and missed
once a record of the log (or the clock, for a reader) is past it with no
success. A success is judged at its attempt's end (state.machine.recorded_end),
before the record's own time passes the deadlines pending: an outcome recovered
from result.json is recorded later than it ended, by the next runner. Each
deadline is judged once: a later ``decided`` event naming it again (the job's
start, after an at-risk warning) does not set it pending again, nor does one
naming an earlier deadline, unless the service says that one was missed (the
operator moved the job's deadline within the day, after it had met the first); the folds note
every ``decided`` event, so a deadline named before a window is judged in it.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.state.machine import EventType

BACKLOG_ENTRIES = frozenset({EventType.TRIGGERED, EventType.RETRIED})
"""Record types that put a job in the backlog (a failed one with ``retry_at`` does too)."""
LETTING_GO = frozenset({EventType.RESUMED, EventType.APPROVED})
"""Operator records that lift a gate keeping a job back (``released`` does too, of a hold, not of a pin)."""
RUNNERS_KEPT = 64
"""Runners whose first claim is remembered: a runner claims in one stretch, and cron starts a new one each run."""


@dataclass(slots=True)
class Timeline:
    """Per job: when it last entered the backlog or the operator let it go, and the deadline pending for it; per
    runner, its first claim."""

    entered: dict[str, float] = field(default_factory=dict)
    deadline_of: dict[str, float] = field(default_factory=dict)
    runner_from: dict[str, float] = field(default_factory=dict)
    judged: dict[str, float] = field(default_factory=dict)
    """Per job, the deadline last judged (met or missed): a verdict naming it again does not set it pending again,
    nor one naming an earlier deadline, unless it says that one was missed (the operator moved the deadline)."""
    late: dict[str, float] = field(default_factory=dict)
    """Per job, a deadline missed with no success since: a success now is a late one."""
    next_due: float = math.inf
    """The earliest pending deadline (derived from ``deadline_of``)."""
    let_go: dict[str, float] = field(default_factory=dict)
    """Per job, the operator's latest letting it go (a resume, a hold released, an approval) not yet claimed."""
    held: dict[str, float] = field(default_factory=dict)
    """Per job, the operator's hold of it not yet released (its release lets the job go; a pin's does not)."""

    def enters_backlog(self, record: Mapping[str, Any]) -> bool:
        """Note ``record`` if it puts its job in the backlog (whether it did), or if the operator holds the job
        or lets it go."""
        kind, job = record.get("type"), record["job"]
        if kind in BACKLOG_ENTRIES or (kind == EventType.FAILED and record.get("retry_at") is not None):
            self.entered[job] = record.get("ts", 0.0)
            if kind == EventType.TRIGGERED:  # a new cycle, held to its own deadline: the same time of day, if
                self.judged.pop(job, None)   # triggered again before it (the service judges it anew, so do we)
            return True
        if kind == EventType.HELD:
            self.held[job] = record.get("ts", 0.0)
        elif kind == EventType.PINNED:  # a pin replaces a hold
            self.held.pop(job, None)
        elif kind in LETTING_GO or (kind == EventType.RELEASED and self.held.pop(job, None) is not None):
            self.let_go[job] = record.get("ts", 0.0)
        return False

    def claimed(self, job: str, ts: float, runner: object = None, ready: object = None) -> float | None:
        """The wait that ends with ``job``'s claim at ``ts`` by ``runner`` (None when its start is unknown):
        from the time the claim gives for the job becoming ready (``ready``), if it gives one, or from the
        operator's letting the job go, if that came later."""
        entered = self.entered.pop(job, None)
        if isinstance(runner, str):
            began = self.runner_from.setdefault(runner, ts)
            if len(self.runner_from) > RUNNERS_KEPT:
                del self.runner_from[next(iter(self.runner_from))]
            if entered is None:
                entered = began
        if isinstance(ready, int | float) and not isinstance(ready, bool) and math.isfinite(ready):
            entered = ready
        let_go = self.let_go.pop(job, None)
        if let_go is not None and (entered is None or let_go > entered):
            entered = let_go
        return None if entered is None else max(ts - entered, 0.0)

    def decided(self, record: Mapping[str, Any]) -> float | None:
        """Note the deadline a ``decided`` record names for its job; that deadline, if any."""
        deadline, job = record.get("deadline"), record["job"]
        if not isinstance(deadline, int | float) or isinstance(deadline, bool):
            return None
        deadline = float(deadline)
        judged = self.judged.get(job)
        if judged is not None and (deadline == judged or (deadline < judged and record.get("action") != "missed")):
            # judged already: named again by a later verdict of the same cycle; an earlier deadline only counts
            # again when the service itself says it was missed (the operator moved the deadline within the day)
            return None
        self.deadline_of[job] = deadline
        self.late.pop(job, None)
        self.next_due = min(self.next_due, deadline)
        return deadline

    def succeeded(self, job: str, ended: float) -> tuple[float, bool] | None:
        """(deadline, met) for ``job``'s success that ended at ``ended``; None if no deadline is pending for it."""
        self.late.pop(job, None)
        deadline = self.deadline_of.pop(job, None)
        if deadline is None:
            return None
        self.judged[job] = deadline
        self._due_again()
        return deadline, ended <= deadline

    def late_success(self, job: str) -> float | None:
        """The deadline ``job`` missed, if its success now comes after it (call before ``succeeded``)."""
        return self.late.get(job) if job not in self.deadline_of else None

    def passed(self, ts: float, running: Container[str] = ()) -> list[tuple[str, float]]:
        """The pending deadlines before ``ts`` (missed: no success came by then), as (job, deadline); forgets them.

        Those of ``running`` jobs wait for their attempt's ending record: its work may have ended in time, and
        be recorded late (an outcome recovered from result.json after its runner died, others' records first)."""
        if ts <= self.next_due:
            return []
        missed = [(job, deadline) for job, deadline in self.overdue(ts) if job not in running]
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
                "judged": self.judged, "late": self.late, "let_go": self.let_go, "held": self.held}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Timeline:
        # (judged and late are absent from a snapshot written before they were kept, let_go and held too)
        kept = {name: {str(k): float(v) for k, v in data.get(name, {}).items()}
                for name in ("entered", "deadline_of", "runner_from", "judged", "late", "let_go", "held")}
        timeline = cls(**kept)
        timeline._due_again()
        return timeline
