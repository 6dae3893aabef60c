"""The decision policy of a spec, compiled once per spec: per-job deadlines, windows, waits, and a digest.

Every ``decided`` event carries ``policy``, the digest of the fields that shape
a decision, so a decision can always be traced to the policy that made it. The
mode is not one of them (each event carries it apart): a policy watched in
shadow mode keeps its digest when it goes live, so `decisions --report` can show
that what went live is what was watched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobdeck.decide.times import ClockTime, parse_clock, parse_instant
from jobdeck.state.cooldowns import cooldown_key, cooldown_label, key_name_for
from jobdeck.state.digest import sha256_hex
from jobdeck.state.graph import dependents
from jobdeck.state.views import needs_approval

if TYPE_CHECKING:
    from jobdeck.state.spec import Job, Spec


@dataclass(frozen=True, slots=True)
class JobPolicy:
    """What the decision service needs to know of one job."""

    id: str
    place: int
    """Its position in jobs.json (the last tie-break, as in ``off``)."""
    priority: int
    timezone: str
    deadline_clock: ClockTime | None
    deadline_at: float | None
    deadline_text: str | None
    max_wait: float | None
    window: tuple[ClockTime, ClockTime] | None
    window_text: str | None
    scheduled: bool
    """Started only when fired, by its cron schedule or a trigger (``views.waits_for_fire``)."""
    reviewed: bool
    """Its output always waits for a person (medium risk, or review: always)."""
    model: str | None
    """The model it calls first, for cooldowns and cost (None: no llm)."""
    models: tuple[str, ...]
    """The models it may call, in the written order (model, then fallbacks): what routing chooses among."""
    max_attempts: int
    approval: bool
    """High risk: each cycle waits for the operator's approval before it runs."""
    cooldown_keys: tuple[str, ...] = ()
    """Each of ``models``' key in the shared cooldowns (``state.cooldowns.cooldown_key``): where its agent calls it."""
    api_base: str | None = None
    """Its agent's endpoint, when not the provider's default."""
    api_key_name: str | None = None
    """Its agent's api_key variable, when it has its own."""

    def label(self, model: str) -> str:
        """``model`` in messages: with the endpoint and key variable when they are not the default."""
        first = self.models[0] if self.models else model
        return cooldown_label(model, self.api_base, key_name_for(model, first, self.api_base, self.api_key_name))


@dataclass(frozen=True, slots=True)
class Policy:
    """The ``decide`` section and every job's policy, with the digest decisions carry."""

    mode: str
    scorer: str | None
    """The llm agent asked to rank, or None for the heuristic."""
    scorer_timeout: float
    min_confidence: float
    daily_budget: float | None
    per_job_budget: float | None
    review_capacity: int | None
    horizon: float
    default_duration: float
    default_cost: float
    jobs: Mapping[str, JobPolicy]
    dependents: Mapping[str, list[str]]
    digest: str


def models_of(job: Job, spec: Spec) -> tuple[str, ...]:
    """The llm models a job may call, written order (none for other agents)."""
    if job.model is not None:
        return tuple(dict.fromkeys([job.model, *job.fallbacks]))
    named = spec.agents.get(job.agent) if job.agent is not None else None
    if named is not None and named.type == "llm" and named.model:
        return tuple(dict.fromkeys([named.model, *(job.fallbacks or named.fallbacks)]))
    return ()


def _job_policy(job: Job, place: int, spec: Spec) -> JobPolicy:
    clock = at = None
    if job.deadline is not None:
        if len(job.deadline) == 5:
            clock = parse_clock(job.deadline)
        else:
            at = parse_instant(job.deadline, job.timezone)
    window = None
    if job.window is not None:
        start, _, end = job.window.partition("-")
        window = (parse_clock(start), parse_clock(end))
    models = models_of(job, spec)
    named = spec.agents.get(job.agent) if job.agent is not None else None  # as the llm agent's Settings take it
    api_base = named.api_base if named is not None else None
    key_name = named.api_key.env if named is not None and named.api_key is not None else None
    return JobPolicy(job.id, place, job.priority, job.timezone, clock, at, job.deadline, job.max_wait, window,
                     job.window, job.schedule is not None or job.trigger is not None, job.review_policy == "always",
                     models[0] if models else None, models, job.retry.max_attempts, needs_approval(job),
                     tuple(cooldown_key(model, api_base, key_name_for(model, models[0], api_base, key_name))
                           for model in models), api_base, key_name)


def policy_of(spec: Spec) -> Policy:
    """The policy ``spec`` states (cheap enough to build once per spec change)."""
    decide = spec.decide
    scorer = decide.scorer
    agent = None if isinstance(scorer, str) else scorer.agent
    jobs = {job.id: _job_policy(job, place, spec) for place, job in enumerate(spec.jobs)}
    shaping = {
        "decide": decide.model_dump(mode="json", exclude={"mode"}),
        "jobs": {job.id: [job.deadline, job.max_wait, job.window, job.priority, job.timezone, job.review_policy,
                          job.depends_on, list(jobs[job.id].models)] for job in spec.jobs},
    }
    digest = sha256_hex(json.dumps(shaping, sort_keys=True, separators=(",", ":")).encode())[:12]
    return Policy(decide.mode, agent, 20.0 if agent is None else scorer.timeout,
                  0.0 if agent is None else scorer.min_confidence, decide.budget.daily, decide.budget.per_job,
                  decide.review_capacity, decide.horizon, decide.default_duration, decide.default_cost, jobs,
                  dependents(spec.dependencies), digest)
