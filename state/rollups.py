"""Per-job and per-hour rollups of ended attempts, kept as the log is folded.

History questions (how long does this job take, how often does it fail, what
did today cost) are asked by `jobdeck stats`, the cockpit's header and the
decision service. Answering them from the log would cost time that grows with
history; these rollups are updated in O(1) per ended attempt by the board's fold
and saved in board.json with the states, so they cost the same at a million
events as at a thousand.

Durations go into a fixed log-scale histogram (``Histogram``): a quantile is
exact to within one bucket, about 9% of its value, whatever the number of runs.

An attempt counts as state/outcomes.py says: output that failed validation is a
failure, and its wall time is no success's. Rollups a board.json or checkpoint
kept from before that rule count such earlier attempts as successes, and are not
folded again for it (docs/ARCHITECTURE.md says why).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from jobdeck.state.machine import Attempt
from jobdeck.state.outcomes import counted_as

BUCKETS_PER_DOUBLING = 8
"""Histogram resolution: bucket k holds durations in [2^(k/8), 2^((k+1)/8)) hundredths of a second."""
HOURS_KEPT = 24 * 90
"""Hourly buckets kept for per-day questions (90 days)."""
SCORED_TYPE = "scored"
"""A deck-level record (no job, no transition): a model scorer's ranking and what its call cost, counted as spend."""
RECENT_FAILURES_KEPT = 1000
"""Failure times kept for "failed in the last hour" (the newest; older ones age out)."""


class _Record:
    """Compares and prints by its slots, as a dataclass did: equal only to its own class, unhashable.

    Plain classes, not dataclasses: importing dataclasses (and inspect) costs the CLI ~7 ms at start.
    """

    __slots__ = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()


class Histogram(_Record):
    """Counts of durations in log-scale buckets (sparse: only buckets that were hit)."""

    __slots__ = ("counts", "total")

    counts: dict[int, int]
    total: int

    def __init__(self, counts: dict[int, int] | None = None, total: int = 0) -> None:
        self.counts = {} if counts is None else counts
        self.total = total

    @staticmethod
    def bucket(seconds: float) -> int:
        return int(math.floor(math.log2(max(seconds, 0.0) * 100 + 1) * BUCKETS_PER_DOUBLING))

    @staticmethod
    def bounds(bucket: int) -> tuple[float, float]:
        """The durations (seconds) bucket ``bucket`` covers."""
        low = (2 ** (bucket / BUCKETS_PER_DOUBLING) - 1) / 100
        high = (2 ** ((bucket + 1) / BUCKETS_PER_DOUBLING) - 1) / 100
        return low, high

    def add(self, seconds: float) -> None:
        self.add_to(self.bucket(seconds))

    def add_to(self, bucket: int) -> None:
        """Count one duration whose ``bucket`` is known (one log per duration however many histograms take it)."""
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.total += 1

    def take_from(self, bucket: int) -> None:
        """Uncount one duration ``add_to`` counted in ``bucket`` (one that turned out not to count)."""
        left = self.counts.get(bucket, 0) - 1
        if left < 0:
            return
        if left:
            self.counts[bucket] = left
        else:
            del self.counts[bucket]
        self.total -= 1

    def quantile(self, q: float) -> float | None:
        """The duration below which a fraction ``q`` of runs ended (interpolated within its bucket)."""
        if not self.total:
            return None
        rank = q * self.total
        seen = 0
        for key in sorted(self.counts):
            count = self.counts[key]
            if seen + count >= rank:
                low, high = self.bounds(key)
                return low + (high - low) * ((rank - seen) / count if count else 0.0)
            seen += count
        return self.bounds(max(self.counts))[1]

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> Histogram:
        counts = {int(k): int(v) for k, v in data.items()}
        return cls(counts, sum(counts.values()))


class JobRollup(_Record):
    """What one job's ended attempts add up to."""

    __slots__ = ("cost", "cost_max", "durations", "ended", "last_ended", "outcomes", "reasons", "tokens")

    ended: int
    outcomes: dict[str, int]
    """Ended attempts by outcome as counted (state/outcomes.py): succeeded, failed (output that failed validation
    too), interrupted, cancelled."""
    reasons: dict[str, int]
    """Failed and interrupted attempts by counted reason (exit_code, idle_timeout, invalid_output, ...)."""
    durations: Histogram
    """Wall time of the attempts counted as succeeded."""
    cost: float
    cost_max: float
    """The most one attempt has cost (the decision service's budget gate plans for it)."""
    tokens: int
    last_ended: float | None

    def __init__(self, ended: int = 0, outcomes: dict[str, int] | None = None, reasons: dict[str, int] | None = None,
                 durations: Histogram | None = None, cost: float = 0.0, cost_max: float = 0.0, tokens: int = 0,
                 last_ended: float | None = None) -> None:
        self.ended = ended
        self.outcomes = {} if outcomes is None else outcomes
        self.reasons = {} if reasons is None else reasons
        self.durations = Histogram() if durations is None else durations
        self.cost = cost
        self.cost_max = cost_max
        self.tokens = tokens
        self.last_ended = last_ended

    def failure_rate(self) -> float | None:
        """Failed attempts over ended ones (None before the first)."""
        return self.outcomes.get("failed", 0) / self.ended if self.ended else None

    def to_json(self) -> dict[str, Any]:
        return {"ended": self.ended, "outcomes": self.outcomes, "reasons": self.reasons,
                "durations": self.durations.to_json(), "cost": self.cost, "cost_max": self.cost_max,
                "tokens": self.tokens, "last_ended": self.last_ended}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRollup:
        return cls(int(data["ended"]), dict(data["outcomes"]), dict(data["reasons"]),
                   Histogram.from_json(data["durations"]), float(data["cost"]), float(data.get("cost_max", 0.0)),
                   int(data["tokens"]), data.get("last_ended"))


class HourRollup(_Record):
    """What ended in one hour (UTC), for per-day and per-model questions."""

    __slots__ = ("by_model", "cost", "failed", "succeeded")

    succeeded: int
    failed: int
    cost: float
    by_model: dict[str, float]
    """Cost per model."""

    def __init__(self, succeeded: int = 0, failed: int = 0, cost: float = 0.0,
                 by_model: dict[str, float] | None = None) -> None:
        self.succeeded = succeeded
        self.failed = failed
        self.cost = cost
        self.by_model = {} if by_model is None else by_model

    def to_json(self) -> dict[str, Any]:
        return {"succeeded": self.succeeded, "failed": self.failed, "cost": self.cost, "by_model": self.by_model}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HourRollup:
        return cls(int(data["succeeded"]), int(data["failed"]), float(data["cost"]), dict(data["by_model"]))


class Rollups(_Record):
    """Every job's rollup, the hourly totals and the recent failures."""

    __slots__ = ("cost_by_model", "hours", "jobs", "models", "recent_failures")

    jobs: dict[str, JobRollup]
    hours: dict[int, HourRollup]
    """Keyed by hours since the epoch (``int(ts // 3600)``)."""
    recent_failures: list[float]
    """End times of the newest failed attempts, oldest first."""
    models: dict[str, tuple[int, float]]
    """Per model: ended attempts that named it, and their cost (what a run on it costs, for routing)."""
    cost_by_model: dict[str, float]
    """Cost per model over the whole history (the hours keep 90 days): a counter for metrics."""

    def __init__(self, jobs: dict[str, JobRollup] | None = None, hours: dict[int, HourRollup] | None = None,
                 recent_failures: list[float] | None = None, models: dict[str, tuple[int, float]] | None = None,
                 cost_by_model: dict[str, float] | None = None) -> None:
        self.jobs = {} if jobs is None else jobs
        self.hours = {} if hours is None else hours
        self.recent_failures = [] if recent_failures is None else recent_failures
        self.models = {} if models is None else models
        self.cost_by_model = {} if cost_by_model is None else cost_by_model

    def add(self, job: str, attempt: Attempt, model: str | None = None) -> None:
        """Count one ended attempt (called once, when the fold ends it)."""
        if attempt.ended is None:
            return
        outcome, reason = counted_as(attempt.outcome or "failed", attempt.reason)
        rollup = self.jobs.get(job)
        if rollup is None:
            rollup = self.jobs[job] = JobRollup()
        rollup.ended += 1
        rollup.outcomes[outcome] = rollup.outcomes.get(outcome, 0) + 1
        if outcome in ("failed", "interrupted") and reason:
            rollup.reasons[reason] = rollup.reasons.get(reason, 0) + 1
        if outcome == "succeeded":
            rollup.durations.add(attempt.ended - attempt.started)
        cost = attempt.cost or 0.0
        rollup.cost += cost
        rollup.cost_max = max(rollup.cost_max, cost)
        rollup.tokens += tokens_of(attempt.usage)
        rollup.last_ended = attempt.ended
        hour = self._hour(int(attempt.ended // 3600))
        if outcome == "succeeded":
            hour.succeeded += 1
        elif outcome == "failed":
            hour.failed += 1
            self.recent_failures.append(attempt.ended)
            if len(self.recent_failures) > RECENT_FAILURES_KEPT:
                del self.recent_failures[:len(self.recent_failures) - RECENT_FAILURES_KEPT]
        name = model or (attempt.usage or {}).get("model")
        if name:
            runs, spent = self.models.get(str(name), (0, 0.0))
            self.models[str(name)] = (runs + 1, spent + cost)
        if cost:
            hour.cost += cost
            hour.by_model[str(name or "unknown")] = hour.by_model.get(str(name or "unknown"), 0.0) + cost
            self.cost_by_model[str(name or "unknown")] = self.cost_by_model.get(str(name or "unknown"), 0.0) + cost

    def add_spend(self, ts: float, cost: Any, model: Any) -> None:
        """Count money spent outside an attempt (a model scorer's call) in its hour's cost."""
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not cost > 0 or not math.isfinite(cost):
            return
        hour = self._hour(int(ts // 3600))
        hour.cost += cost
        name = str(model or "unknown")
        hour.by_model[name] = hour.by_model.get(name, 0.0) + cost
        self.cost_by_model[name] = self.cost_by_model.get(name, 0.0) + cost

    def _hour(self, key: int) -> HourRollup:
        hour = self.hours.get(key)
        if hour is None:
            hour = self.hours[key] = HourRollup()
            if len(self.hours) > HOURS_KEPT:
                for old in sorted(self.hours)[:len(self.hours) - HOURS_KEPT]:
                    del self.hours[old]
        return hour

    def model_cost(self, model: str) -> float | None:
        """Mean cost of an attempt that ran on ``model`` (None before the first)."""
        runs, spent = self.models.get(model, (0, 0.0))
        return spent / runs if runs else None

    def failures_since(self, since: float) -> int:
        return sum(1 for ended in self.recent_failures if ended >= since)

    def cost_since(self, since: float, until: float | None = None) -> float:
        """Cost of attempts and scorer calls that ended from the hour of ``since`` on, and before the hour of
        ``until`` if given (whole hours): a day's spend leaves out hours stamped after it by a clock set back since."""
        first = int(since // 3600)
        end = None if until is None else int(until // 3600)
        return sum(hour.cost for key, hour in self.hours.items() if key >= first and (end is None or key < end))

    def hours_between(self, start: float, end: float) -> Iterable[tuple[int, HourRollup]]:
        first, last = int(start // 3600), int(end // 3600)
        return sorted((key, hour) for key, hour in self.hours.items() if first <= key <= last)

    def to_json(self) -> dict[str, Any]:
        return {"jobs": {job: rollup.to_json() for job, rollup in self.jobs.items()},
                "hours": {str(k): hour.to_json() for k, hour in sorted(self.hours.items())},
                "recent_failures": self.recent_failures, "cost_by_model": self.cost_by_model,
                "models": {model: list(value) for model, value in sorted(self.models.items())}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rollups:
        return cls({job: JobRollup.from_json(value) for job, value in data["jobs"].items()},
                   {int(k): HourRollup.from_json(value) for k, value in data["hours"].items()},
                   [float(t) for t in data["recent_failures"]],
                   {model: (int(value[0]), float(value[1])) for model, value in data.get("models", {}).items()},
                   {str(k): float(v) for k, v in data.get("cost_by_model", {}).items()})


def tokens_of(usage: Mapping[str, Any] | None) -> int:
    """Tokens a record's ``usage`` reports: its total, else prompt plus completion."""
    if not usage:
        return 0
    total = usage.get("total_tokens")
    if isinstance(total, int):
        return total
    return sum(v for k, v in usage.items() if k in ("prompt_tokens", "completion_tokens") and isinstance(v, int))
