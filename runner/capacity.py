"""Capacity: the global parallel limit plus per-agent, per-model and per-key limits.

Counts are kept per runner process; the per-key, per-model and per-agent limits
count every attempt this runner sees running on the board, so two runners on
one deck share them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobdeck.state.limits import limit_keys

if TYPE_CHECKING:
    from jobdeck.state.spec import Job, Spec


@dataclass
class Capacity:
    """Slots in use, by bucket; ``parallel`` bounds this runner's own attempts."""

    parallel: int
    mine: int = 0
    used: Counter[tuple[str, str]] = field(default_factory=Counter)

    def fits(self, job: Job, spec: Spec) -> bool:
        if self.mine >= self.parallel:
            return False
        return all(self.used[(kind, name)] < limit for kind, name, limit in limit_keys(job, spec))

    def take(self, job: Job, spec: Spec, *, own: bool = True) -> None:
        self.mine += own
        for kind, name, _ in limit_keys(job, spec):
            self.used[(kind, name)] += 1

    def give_back(self, job: Job, spec: Spec, *, own: bool = True) -> None:
        self.mine -= own
        for kind, name, _ in limit_keys(job, spec):
            self.used[(kind, name)] -= 1

    @property
    def full(self) -> bool:
        return self.mine >= self.parallel
