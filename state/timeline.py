"""When each job entered the backlog and which deadline its claim was decided under.

Two folds of the chain of work ask this: `jobdeck decisions --report` and
`jobdeck stats` (state/history.py). Both measure a wait from the job entering
the backlog (triggered, retried, or failed with a retry due) to its claim, and
call a deadline missed when the success after a `decided` event that named one
came later than it; this module is that rule, kept once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.state.machine import EventType

BACKLOG_ENTRIES = frozenset({EventType.TRIGGERED, EventType.RETRIED})
"""Record types that put a job in the backlog (a failed one with ``retry_at`` does too)."""


@dataclass(slots=True)
class Timeline:
    """Per job: when it last entered the backlog, and the deadline its last decision named."""

    entered: dict[str, float] = field(default_factory=dict)
    deadline_of: dict[str, float] = field(default_factory=dict)

    def enters_backlog(self, record: Mapping[str, Any]) -> bool:
        """Note ``record`` if it puts its job in the backlog; whether it did."""
        kind = record.get("type")
        if kind in BACKLOG_ENTRIES or (kind == EventType.FAILED and record.get("retry_at") is not None):
            self.entered[record["job"]] = record.get("ts", 0.0)
            return True
        return False

    def claimed(self, job: str, ts: float) -> float | None:
        """The wait that ends with ``job``'s claim at ``ts`` (None when its entry was not seen)."""
        entered = self.entered.pop(job, None)
        return None if entered is None else max(ts - entered, 0.0)

    def decided(self, record: Mapping[str, Any]) -> float | None:
        """Note the deadline a ``decided`` record names for its job; that deadline, if any."""
        deadline = record.get("deadline")
        if isinstance(deadline, int | float) and not isinstance(deadline, bool):
            self.deadline_of[record["job"]] = float(deadline)
            return float(deadline)
        return None

    def succeeded(self, job: str, ts: float) -> tuple[float, bool] | None:
        """(deadline, met) for ``job``'s success at ``ts``; None if no decision named a deadline since."""
        deadline = self.deadline_of.pop(job, None)
        return None if deadline is None else (deadline, ts <= deadline)

    def to_json(self) -> dict[str, Any]:
        return {"entered": self.entered, "deadline_of": self.deadline_of}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Timeline:
        return cls({str(k): float(v) for k, v in data["entered"].items()},
                   {str(k): float(v) for k, v in data["deadline_of"].items()})
