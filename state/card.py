"""A card: one job as the board shows it, in `ls`, the cockpit and the card cache.

Built by ``views.card`` from a job, its state and the board.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing.NamedTuple compiles
# each string annotation (the first ~0.6 ms, then ~15 µs a field), and every command imports these classes.

from collections.abc import Mapping
from typing import Any, NamedTuple

from jobdeck.state.machine import Status


class Card(NamedTuple):
    """One job as the board shows it (a NamedTuple: one is built per job on every full read)."""

    id: str
    title: str
    column: Status
    agent: str
    attempt: int
    """Tries used in the current cycle (resets on a new cycle or an operator retry)."""
    max_attempts: int
    workspace: str
    priority: int
    labels: tuple[str, ...]
    since: float | None
    flags: tuple[str, ...] = ()
    reason: str | None = None
    next_fire: float | None = None
    retry_at: float | None = None
    kept_until: float | None = None
    """When the decision service's deferral among ``flags`` ends ("⏱ window 22:00"): its note goes then."""
    declared: bool = True
    """False for a job jobs.json no longer declares whose attempt is still under way (``views.undeclared_card``):
    `ls` lists it, flagged, until the attempt's end is recorded, so the operator can see it and cancel it."""

    def to_json(self) -> dict[str, Any]:
        out = self._asdict()
        out["column"] = self.column.value
        out["labels"] = list(self.labels)
        out["flags"] = list(self.flags)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Card":
        """The Card that ``to_json`` wrote."""
        return cls(**{**data, "column": Status(data["column"]), "labels": tuple(data["labels"]),
                      "flags": tuple(data["flags"])})
