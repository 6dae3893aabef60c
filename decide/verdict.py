"""A verdict: what the decision service says of one ready job, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

START, DEFER, HOLD = "start", "defer", "hold"
"""The actions: start now (in rank order), defer until a time, hold until something changes (``needs``)."""

SortKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One job's action, score and reasons; ``key`` orders the jobs that may start."""

    job: str
    action: str
    score: float
    reasons: tuple[str, ...]
    key: SortKey = ()
    until: float | None = None
    """For defer (and a budget hold): when to look again."""
    needs: str | None = None
    """What would let it start: for hold, budget, reviews or release; for defer, its window or a cooldown ending."""
    rank: int | None = None
    """1 for the job to start first; None for jobs deferred or held."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job": self.job, "action": self.action, "score": round(self.score, 1),
                               "reasons": list(self.reasons)}
        for name in ("until", "needs", "rank"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out
