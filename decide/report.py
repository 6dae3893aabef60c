"""``jobdeck decisions --report``: what the decision service said, and what then happened.

Folded from the chain of work: each ``decided`` event, each claim's wait (from
the job entering the backlog ready to its claim), each attempt's end, cost and
deadline (missed when its time passed without a success: state/timeline.py).
In shadow and advise modes it shows which claims live mode would have changed:
where it would have started another job first, and where it would not have
started the claimed job then (held or deferred: ``followed: false``); in live
mode, what following it gave. Spend is set against the daily budget per UTC
day, as the budget gate counts it. Over a window where it was off there is
nothing to compare, and the report says so (``service_off``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.decide.times import day_start
from jobdeck.decide.verdict import HOLD, START
from jobdeck.state.history import ENDINGS
from jobdeck.state.machine import EventType, not_a_try, recorded_end
from jobdeck.state.rollups import SCORED_TYPE
from jobdeck.state.tally import dollars, picodollars
from jobdeck.state.timeline import Timeline

DAY = 86400


def quantile(values: list[float], q: float) -> float | None:
    """The smallest of ``values`` with at least a fraction ``q`` of them at or below it (the 7th of 14 for 0.5).

    The rank rule of ``Histogram.quantile`` (state/rollups.py), which `jobdeck stats` reads: there the
    value is placed within its log-scale bucket, so the two differ by less than a bucket (about 9%).
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1]


@dataclass
class DaySpend:
    """One UTC day's spend and the decisions that held a job for the budget that day."""

    spent_pico: int = 0
    """Ended attempts and scorer calls, in picodollars (state/tally.py), as the budget gate counts them."""
    held: int = 0
    """Holds for the budget told in live mode (once per job and change)."""
    would_have_held: int = 0
    """Claims of shadow and advise mode the service would have held for the budget."""


@dataclass
class Report:
    """Counts and waits over a stretch of the log."""

    decisions: int = 0
    service_decisions: int = 0
    """Decisions made in shadow, advise or live mode (off mode records only the deferrals of a closed window)."""
    mode_now: str | None = None
    """``decide.mode`` in jobs.json now (None: not known)."""
    daily_budget: float | None = None
    """``decide.budget.daily`` in jobs.json now (None: none set, or not known)."""
    compared: int = 0
    """Claims the service gave its verdict on (shadow, advise, live): ``changed`` is counted among these."""
    compared_live: int = 0
    """Those of ``compared`` made in live mode, where the claim is the service's choice."""
    by_mode: Counter[str] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    held_for: Counter[str] = field(default_factory=Counter)
    claims: int = 0
    differed: int = 0
    """Claims where the service would have started another job first (and this one too)."""
    kept_back: int = 0
    """Claims of a job the service would not have started then (held or deferred by a gate of live mode)."""
    kept_back_for: Counter[tuple[str, str]] = field(default_factory=Counter)
    """``kept_back`` by (action, what it needs): ("hold", "budget"), ("defer", "cooldown"), ..."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    """Claims that ``differed``, the first ones."""
    kept_back_examples: list[dict[str, Any]] = field(default_factory=list)
    """Claims ``kept_back``, the first ones."""
    waits: list[float] = field(default_factory=list)
    deadline_jobs: int = 0
    deadline_misses: int = 0
    missed: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0
    succeeded: int = 0
    spent_pico: int = 0
    """What the window's ended attempts and scorer calls cost, in picodollars."""
    days: dict[int, DaySpend] = field(default_factory=dict)
    """Per UTC day (days since the epoch) the window touches, whole: its spend and budget holds."""
    policies: set[str] = field(default_factory=set)

    @property
    def service_off(self) -> bool:
        """Whether the service was off over the window: it decided nothing there, though jobs were claimed
        (every claim of shadow, advise and live mode comes with a decision) or it is off now."""
        return not self.service_decisions and (self.claims > 0 or self.mode_now == "off")

    @property
    def changed(self) -> int:
        """Claims live mode would have changed: another job started first, or this one not started then."""
        return self.differed + self.kept_back

    @property
    def cost(self) -> float:
        return dollars(self.spent_pico)

    def kept_back_by_needs(self) -> dict[str, int]:
        """``kept_back`` by what the job needed (budget, reviews, cooldown...), the most first."""
        by_needs: Counter[str] = Counter()
        for (_, needs), n in self.kept_back_for.items():
            by_needs[needs] += n
        return dict(by_needs.most_common())

    def budget_days(self) -> list[dict[str, Any]]:
        """Each UTC day with spend or a budget hold: spent, and what passed ``daily_budget`` (null: none set)."""
        out = []
        for day, spend in sorted(self.days.items()):
            spent = dollars(spend.spent_pico)
            over = None if self.daily_budget is None else round(max(spent - self.daily_budget, 0.0), 6)
            out.append({"day": time.strftime("%Y-%m-%d", time.gmtime(day * DAY)), "spent": spent, "over": over,
                        "held": spend.held, "would_have_held": spend.would_have_held})
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "service_off": self.service_off, "decisions": self.decisions, "by_mode": dict(self.by_mode),
            "by_action": dict(self.by_action),
            "held_for": dict(self.held_for), "claims": self.claims, "compared": self.compared,
            "changed": self.changed, "differed": self.differed, "kept_back": self.kept_back,
            "kept_back_for": self.kept_back_by_needs(),
            "examples": self.examples, "kept_back_examples": self.kept_back_examples,
            "wait_p50": quantile(self.waits, 0.5), "wait_p95": quantile(self.waits, 0.95),
            "wait_max": max(self.waits, default=None), "deadline_jobs": self.deadline_jobs,
            "deadline_misses": self.deadline_misses, "missed": self.missed, "succeeded": self.succeeded,
            "failed": self.failed, "cost": self.cost,
            "budget": {"daily": self.daily_budget, "days": self.budget_days()}, "policies": sorted(self.policies),
        }


def report(records: Iterable[Mapping[str, Any]], since: float | None = None, examples: int = 10,
           now: float | None = None, mode_now: str | None = None, daily_budget: float | None = None) -> Report:
    """The report of ``records`` (in log order) from ``since`` on, its pending deadlines judged at ``now``;
    ``mode_now`` and ``daily_budget`` are ``decide.mode`` and ``decide.budget.daily`` in jobs.json now, if known.

    Spend and budget holds are counted per UTC day over each day the window touches, whole: the budget is a day's.
    A deadline counts in the window when it passes there with no success, or a success there meets or misses it,
    though the decision that named it came before.
    """
    out = Report(mode_now=mode_now, daily_budget=daily_budget)
    timeline = Timeline()
    first_day = None if since is None else day_start(since)
    # per job, its open attempt's token (an ending with another one is refused) and start
    attempt_of: dict[str, tuple[int, float]] = {}
    counted: dict[str, float | None] = {}  # per job, its open attempt's claim as counted in the window: its wait

    unfinished: dict[str, dict[str, Any]] = {}  # per job, its listed miss with no success yet

    def missed(job: str, deadline: float, done: float | None) -> None:
        if since is None or deadline >= since:
            out.deadline_jobs += 1
            out.deadline_misses += 1
            out.missed.append({"job": job, "deadline": deadline, "done": done})
            if done is None:
                unfinished[job] = out.missed[-1]

    def spend(ts: float, cost: object) -> None:
        spent = picodollars(cost)
        if spent > 0 and (first_day is None or ts >= first_day):
            out.days.setdefault(int(ts // DAY), DaySpend()).spent_pico += spent
            if since is None or ts >= since:
                out.spent_pico += spent

    for record in records:
        kind, job, ts = record.get("type"), record.get("job"), record.get("ts", 0.0)
        opened = attempt_of.get(job) if isinstance(job, str) else None
        ending = kind in ENDINGS and opened is not None and record.get("token") == opened[0]
        ended = ts
        if kind == EventType.SUCCEEDED and ending and opened is not None:
            # judged at its own end: a success recovered from result.json after its deadline may have met it
            ended = recorded_end(record, opened[1], ts)
        for late, deadline in timeline.passed(ended, attempt_of):  # (a running job's wait for its attempt's end)
            missed(late, deadline, None)
        if not isinstance(job, str):
            if kind == SCORED_TYPE:
                spend(ts, record.get("cost"))  # a model scorer's call counts in the day's spend
            continue
        timeline.enters_backlog(record)
        if kind == EventType.CLAIMED:
            if isinstance(record.get("seq"), int):
                attempt_of[job] = (record["seq"], ts)
            wait = timeline.claimed(job, ts, record.get("runner"), record.get("ready"))  # (its runner's first claim may be before since)
            counted.pop(job, None)
            if since is None or ts >= since:
                out.claims += 1
                counted[job] = wait
                if wait is not None:
                    out.waits.append(wait)
        elif ending:
            del attempt_of[job]
            spend(ts, record.get("cost"))
            if job in counted:
                wait = counted.pop(job)
                if not_a_try(record.get("reason")):  # it started no try: not a claim, and no wait ended
                    out.claims -= 1
                    if wait is not None:
                        out.waits.remove(wait)
        elif (kind == EventType.DECIDED and record.get("action") == HOLD and record.get("needs") == "budget"
              and (first_day is None or ts >= first_day)):
            day = out.days.setdefault(int(ts // DAY), DaySpend())
            if record.get("mode") == "live":
                day.held += 1
            elif record.get("followed") is False:
                day.would_have_held += 1
        if kind == EventType.DECIDED:
            timeline.decided(record)  # (a deadline named before the window may be met or missed in it)
        elif kind == EventType.SUCCEEDED:
            missed_before = timeline.late_success(job)
            kept = timeline.succeeded(job, ended)
            if since is None or ts >= since:
                out.succeeded += 1
                miss = unfinished.pop(job, None)
                if miss is not None and missed_before == miss["deadline"]:
                    miss["done"] = ended  # missed when its time passed, and done since: late, not never
                if kept is not None:
                    out.deadline_jobs += 1
                    if not kept[1]:
                        out.deadline_misses += 1
                        out.missed.append({"job": job, "deadline": kept[0], "done": ended})
        if ending:  # this job's deadline, once its attempt ended without meeting it, and the others it is past
            for late, deadline in timeline.passed(ts, attempt_of):
                missed(late, deadline, None)
        if since is not None and ts < since:
            continue
        if kind == EventType.DECIDED:
            out.decisions += 1
            if record.get("mode") != "off":
                out.service_decisions += 1
            out.by_mode[str(record.get("mode"))] += 1
            out.by_action[str(record.get("action"))] += 1
            if record.get("policy"):
                out.policies.add(str(record["policy"]))
            if record.get("needs") and record.get("action") == HOLD:
                out.held_for[str(record["needs"])] += 1
            if "followed" in record and record.get("mode") != "off":
                out.compared += 1  # a claim it gave its verdict on
                if record.get("mode") == "live":
                    out.compared_live += 1  # followed: the claim is its own choice
            if record.get("followed") is False and record.get("action") != START:
                out.kept_back += 1  # it would have started nothing in its place, not another job first
                out.kept_back_for[(str(record.get("action")), str(record.get("needs") or "-"))] += 1
                if len(out.kept_back_examples) < examples:
                    out.kept_back_examples.append({"ts": ts, "claimed": job, "action": record.get("action"),
                                                   "needs": record.get("needs"),
                                                   "reasons": record.get("reasons", [])[:2]})
            elif record.get("followed") is False:
                out.differed += 1
                if len(out.examples) < examples:
                    out.examples.append({"ts": ts, "claimed": job, "advised": record.get("advised", [])[:3],
                                         "reasons": record.get("advised_why") or record.get("reasons", [])[:2]})
        elif kind == EventType.FAILED and record.get("retry_at") is None:
            out.failed += 1
    for late, deadline in timeline.overdue(time.time() if now is None else now):
        missed(late, deadline, None)
    return out
