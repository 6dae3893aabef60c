"""What happened in one scope over a stretch of time: the unit `jobdeck stats` counts in.

A tally is added to (the fold), merged (the hours of a window) and taken from
(a window reaching far back: the totals less the hours before it); its
durations are rollups' log-scale histograms, so its quantiles survive merging.
Money is a whole number of picodollars (``PICODOLLARS``): an event's cost is
converted once, as it is folded, so sums and differences are exact and a report
is the same whichever order or grouping (log, hours, cache) it was added in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.state.outcomes import failure_class
from jobdeck.state.rollups import Histogram

PICODOLLARS = 10**12
"""Picodollars (1e-12 USD) in a dollar: a tally's unit of money.

Fine enough that rounding each of a million events' costs to it moves a total by at most half a
micro-dollar, the last digit a report prints, and that per-token prices quoted to a ten-thousandth of a
dollar per million tokens are whole numbers of it. Python's ints do not overflow, so totals stay exact."""


def picodollars(usd: object) -> int:
    """A recorded cost (dollars, as the log holds it) in whole picodollars; 0 for anything not a finite number."""
    if isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd):
        return 0
    return round(usd * PICODOLLARS)


def dollars(amount: int) -> float:
    """``amount`` picodollars in dollars, rounded to the micro-dollar as reports print money."""
    return round(amount / PICODOLLARS, 6)


def quantile(histogram: Histogram, q: float) -> float | None:
    """The duration of rank ``q`` in ``histogram`` (None if empty), as `jobdeck stats` reports it.

    The rank is `decisions --report`'s: the smallest duration with at least a fraction ``q`` of them at or
    below it (the 7th of 14 for 0.5). It is placed in its bucket where it would lie were the bucket's
    durations spread evenly over it, so a single duration is one value whatever ``q`` (rollups'
    ``Histogram.quantile``, which the decision service's estimates read, puts it at the fraction ``q`` of its
    bucket: there one wait's p50 and p95 differ by up to a bucket, 9%).
    """
    if not histogram.total:
        return None
    rank = min(histogram.total, max(1, math.ceil(q * histogram.total)))
    seen = 0
    for key in sorted(histogram.counts):
        count = histogram.counts[key]
        if count > 0 and seen + count >= rank:
            low, high = Histogram.bounds(key)
            return low + (high - low) * (rank - seen - 0.5) / count
        seen += count
    return Histogram.bounds(max(histogram.counts))[1]


@dataclass(slots=True)
class Tally:
    """What happened in one scope over a stretch of time (an hour, a window, the whole log)."""

    runs: int = 0
    """Attempts that ended (an attempt that could not be set up never ran and is not one)."""
    outcomes: dict[str, int] = field(default_factory=dict)
    """Ended attempts by outcome as counted (state/outcomes.py): succeeded, failed (output that failed validation
    too), interrupted, cancelled."""
    reasons: dict[str, int] = field(default_factory=dict)
    """Failed attempts by their counted ``reason``."""
    run: Histogram = field(default_factory=Histogram)
    """Wall time of the attempts counted as succeeded, from claim to end."""
    wait: Histogram = field(default_factory=Histogram)
    """Time from becoming ready to the claim (state/timeline.py's rule), counted at the claim."""
    retries: int = 0
    """Attempts that ended with an automatic retry due (``retry_at``)."""
    rate_limits: int = 0
    """LLM calls answered with a rate limit, each once: retried, cooling the model down, ending in a fallback, or
    ending the attempt."""
    cooldowns: int = 0
    """Cooldowns a model entered after failures."""
    cooldown_skips: int = 0
    """Calls not made because the model was cooling down."""
    tokens: int = 0
    cost_pico: int = 0
    """Money spent, in picodollars (``PICODOLLARS``)."""
    models: dict[str, list[int]] = field(default_factory=dict)
    """Per model: [attempts, tokens, cost in picodollars] (a scorer's call adds tokens and cost, no attempt)."""
    interventions: dict[str, int] = field(default_factory=dict)
    """Operator records by type (approved, rejected, retried, cancelled, pinned, held, released)."""
    deadlines_met: int = 0
    deadlines_missed: int = 0
    last_ended: float | None = None

    def merge(self, other: Tally) -> None:
        """Add ``other`` into this tally."""
        self.runs += other.runs
        _add_counts(self.outcomes, other.outcomes)
        _add_counts(self.reasons, other.reasons)
        _add_counts(self.run.counts, other.run.counts)
        self.run.total += other.run.total
        _add_counts(self.wait.counts, other.wait.counts)
        self.wait.total += other.wait.total
        self.retries += other.retries
        self.rate_limits += other.rate_limits
        self.cooldowns += other.cooldowns
        self.cooldown_skips += other.cooldown_skips
        self.tokens += other.tokens
        self.cost_pico += other.cost_pico
        for model, (runs, tokens, cost) in other.models.items():
            mine = self.models.setdefault(model, [0, 0, 0])
            mine[0] += runs
            mine[1] += tokens
            mine[2] += cost
        _add_counts(self.interventions, other.interventions)
        self.deadlines_met += other.deadlines_met
        self.deadlines_missed += other.deadlines_missed
        if other.last_ended is not None and (self.last_ended is None or other.last_ended > self.last_ended):
            self.last_ended = other.last_ended

    def subtract(self, other: Tally) -> None:
        """Take ``other``, a part of this tally, out of it (``last_ended`` stays: a part cannot tell it)."""
        self.runs -= other.runs
        for mine, theirs in ((self.outcomes, other.outcomes), (self.reasons, other.reasons),
                             (self.run.counts, other.run.counts), (self.wait.counts, other.wait.counts),
                             (self.interventions, other.interventions)):
            for key, count in theirs.items():
                left = mine.get(key, 0) - count
                if left:
                    mine[key] = left
                else:
                    mine.pop(key, None)
        self.run.total -= other.run.total
        self.wait.total -= other.wait.total
        self.retries -= other.retries
        self.rate_limits -= other.rate_limits
        self.cooldowns -= other.cooldowns
        self.cooldown_skips -= other.cooldown_skips
        self.tokens -= other.tokens
        self.cost_pico -= other.cost_pico
        for model, (runs, tokens, cost) in other.models.items():
            mine_ = self.models[model]
            mine_[0] -= runs
            mine_[1] -= tokens
            mine_[2] -= cost
            if not any(mine_):
                del self.models[model]
        self.deadlines_met -= other.deadlines_met
        self.deadlines_missed -= other.deadlines_missed

    def failures_by_class(self) -> dict[str, int]:
        """Failed attempts by class, and interrupted ones as "interrupted"."""
        classes: dict[str, int] = {}
        for reason, count in self.reasons.items():
            name = failure_class(reason)
            classes[name] = classes.get(name, 0) + count
        if self.outcomes.get("interrupted"):
            classes["interrupted"] = self.outcomes["interrupted"]
        return dict(sorted(classes.items()))

    def to_json(self) -> dict[str, Any]:
        """Only the fields that are not empty: a cache holds thousands of these."""
        out: dict[str, Any] = {}
        for name in ("runs", "outcomes", "reasons", "retries", "rate_limits", "cooldowns", "cooldown_skips",
                     "tokens", "cost_pico", "models", "interventions", "deadlines_met", "deadlines_missed",
                     "last_ended"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if "last_ended" in out:
            out["last_ended"] = round(out["last_ended"], 3)
        for name in ("run", "wait"):
            histogram: Histogram = getattr(self, name)
            if histogram.total:
                out[name] = histogram.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        return cls(int(data.get("runs", 0)), dict(data.get("outcomes", {})), dict(data.get("reasons", {})),
                   Histogram.from_json(data.get("run", {})), Histogram.from_json(data.get("wait", {})),
                   int(data.get("retries", 0)), int(data.get("rate_limits", 0)), int(data.get("cooldowns", 0)),
                   int(data.get("cooldown_skips", 0)), int(data.get("tokens", 0)), int(data.get("cost_pico", 0)),
                   {str(k): list(v) for k, v in data.get("models", {}).items()},
                   dict(data.get("interventions", {})), int(data.get("deadlines_met", 0)),
                   int(data.get("deadlines_missed", 0)), data.get("last_ended"))


def _add_counts(into: dict[Any, int], other: Mapping[Any, int]) -> None:
    for key, count in other.items():
        into[key] = into.get(key, 0) + count
