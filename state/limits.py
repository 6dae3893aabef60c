"""The limit buckets an attempt occupies: per agent, per model, per executor, per concurrency key.

The runner counts them to decide what fits (runner/capacity.py); ``jobdeck why``
counts them to say which limit keeps a job waiting.
"""

from __future__ import annotations

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
    placed = spec.executor_of(job)
    if placed is not None and placed[1].parallel is not None:
        buckets.append(("executor", placed[0], placed[1].parallel))
    if job.concurrency is not None:
        buckets.append(("key", job.concurrency, spec.limits.keys.get(job.concurrency, 1)))
    return buckets
