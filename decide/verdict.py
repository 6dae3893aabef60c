"""A verdict: what the decision service says of one ready job, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from jobdeck.state.board import longest

START, DEFER, HOLD = "start", "defer", "hold"
"""The actions: start now (in rank order), defer until a time, hold until something changes (``needs``)."""

SortKey = tuple[Any, ...]


class Gate(NamedTuple):
    """One gate that keeps a ready job from starting now (`Heuristic.gates`)."""

    action: str
    """DEFER or HOLD."""
    until: float | None
    """When it lets the job start (a defer), or when to look again (a budget hold: the day's turn); None: not
    before something changes (a release, a review, jobs.json)."""
    needs: str | None
    """What would let it start, as ``Verdict.needs``."""
    reason: str
    """Why, in words: "model openai/m cools down until 14:05 UTC (rate_limit)"."""

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in self._asdict().items() if value is not None}


def binding_gate(gates: Sequence[Gate]) -> Gate:
    """Of ``gates`` (one or more), the one that keeps the job back longest (``state.board.longest``: a hold with no
    end, else the latest end; the first of equals)."""
    return gates[longest([gate.until for gate in gates])]


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
    gates: tuple[Gate, ...] = ()
    """Every gate that holds it now, in the order they are asked; ``action``, ``until`` and ``needs`` are the
    first's (the runner looks again at its end), its ``reasons`` start with each gate's."""

    def binding(self) -> Verdict:
        """This verdict as its binding gate (``binding_gate``) says it: what a person waits for."""
        if len(self.gates) < 2:
            return self
        gate = binding_gate(self.gates)
        return replace(self, action=gate.action, until=gate.until, needs=gate.needs)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job": self.job, "action": self.action, "score": round(self.score, 1),
                               "reasons": list(self.reasons)}
        for name in ("until", "needs", "rank"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if len(self.gates) > 1:  # (one gate is the verdict's own action, until and needs)
            out["gates"] = [gate.to_json() for gate in self.gates]
        return out
