"""Capacity: the global parallel limit plus per-agent, per-model and per-key limits.

Counts are kept per runner process; the per-key, per-model and per-agent limits
count every attempt this runner sees running on the board, so two runners on
one deck share them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobdeck.state.spec import Job, Spec


def limit_keys(job: Job, spec: Spec) -> list[tuple[str, str, int]]:
    """The (kind, name, limit) buckets a job's attempt occupies."""
    buckets: list[tuple[str, str, int]] = []
    if job.agent is not None:
        named = spec.agents.get(job.agent)
        if named is not None and named.max_concurrent:
            buckets.append(("agent", job.agent, named.max_concurrent))
    model = job.model or (spec.agents[job.agent].model if job.agent in spec.agents else None)
    if model and model in spec.limits.models:
        buckets.append(("model", model, spec.limits.models[model]))
    if job.concurrency is not None:
        buckets.append(("key", job.concurrency, spec.limits.keys.get(job.concurrency, 1)))
    return buckets


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
