"""``jobdeck decisions --report``: what the decision service said, and what then happened.

Folded from the chain of work: each ``decided`` event, each claim's wait (from
the job entering the backlog ready to its claim), each attempt's end, cost and
deadline (missed when its time passed without a success: state/timeline.py).
In shadow and advise modes it shows where the service would have
started another job than the runner did (``followed: false``); in live mode,
what following it gave. Over a window where it was off there is nothing to
compare, and the report says so (``service_off``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.decide.verdict import HOLD, START
from jobdeck.state.machine import EventType
from jobdeck.state.timeline import Timeline


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Report:
    """Counts and waits over a stretch of the log."""

    decisions: int = 0
    service_decisions: int = 0
    """Decisions made in shadow, advise or live mode (off mode records only the deferrals of a closed window)."""
    mode_now: str | None = None
    """``decide.mode`` in jobs.json now (None: not known)."""
    compared: int = 0
    """Claims the service gave its verdict on (shadow, advise, live): ``differed`` is counted among these."""
    by_mode: Counter[str] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    held_for: Counter[str] = field(default_factory=Counter)
    claims: int = 0
    differed: int = 0
    """Claims where the service would have started another job first."""
    kept_back: int = 0
    """Claims of a job the service would not have started then (held or deferred by a gate of live mode)."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    deadline_jobs: int = 0
    deadline_misses: int = 0
    missed: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0
    succeeded: int = 0
    cost: float = 0.0
    policies: set[str] = field(default_factory=set)

    @property
    def service_off(self) -> bool:
        """Whether the service was off over the window: it decided nothing there, though jobs were claimed
        (every claim of shadow, advise and live mode comes with a decision) or it is off now."""
        return not self.service_decisions and (self.claims > 0 or self.mode_now == "off")

    def to_json(self) -> dict[str, Any]:
        return {
            "service_off": self.service_off, "decisions": self.decisions, "by_mode": dict(self.by_mode),
            "by_action": dict(self.by_action),
            "held_for": dict(self.held_for), "claims": self.claims, "compared": self.compared,
            "differed": self.differed,
            "kept_back": self.kept_back,
            "examples": self.examples, "wait_p50": _quantile(self.waits, 0.5), "wait_p95": _quantile(self.waits, 0.95),
            "wait_max": max(self.waits, default=None), "deadline_jobs": self.deadline_jobs,
            "deadline_misses": self.deadline_misses, "missed": self.missed, "succeeded": self.succeeded,
            "failed": self.failed, "cost": round(self.cost, 6), "policies": sorted(self.policies),
        }


def report(records: Iterable[Mapping[str, Any]], since: float | None = None, examples: int = 10,
           now: float | None = None, mode_now: str | None = None) -> Report:
    """The report of ``records`` (in log order) from ``since`` on, its pending deadlines judged at ``now``;
    ``mode_now`` is ``decide.mode`` in jobs.json now, if known."""
    out = Report(mode_now=mode_now)
    timeline = Timeline()

    unfinished: dict[str, dict[str, Any]] = {}  # per job, its listed miss with no success yet

    def missed(job: str, deadline: float, done: float | None) -> None:
        if since is None or deadline >= since:
            out.deadline_jobs += 1
            out.deadline_misses += 1
            out.missed.append({"job": job, "deadline": deadline, "done": done})
            if done is None:
                unfinished[job] = out.missed[-1]

    for record in records:
        kind, job, ts = record.get("type"), record.get("job"), record.get("ts", 0.0)
        for late, deadline in timeline.passed(ts):
            missed(late, deadline, None)
        if not isinstance(job, str):
            continue
        timeline.enters_backlog(record)
        if kind == EventType.CLAIMED:
            wait = timeline.claimed(job, ts, record.get("runner"), record.get("ready"))  # (its runner's first claim may be before since)
            if since is None or ts >= since:
                out.claims += 1
                if wait is not None:
                    out.waits.append(wait)
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
            timeline.decided(record)
            if "followed" in record and record.get("mode") != "off":
                out.compared += 1  # a claim it gave its verdict on
            if record.get("followed") is False and record.get("action") != START:
                out.kept_back += 1  # it would have started nothing in its place, not another job first
            elif record.get("followed") is False:
                out.differed += 1
                if len(out.examples) < examples:
                    out.examples.append({"ts": ts, "claimed": job, "advised": record.get("advised", [])[:3],
                                         "reasons": record.get("advised_why") or record.get("reasons", [])[:2]})
        elif kind in (EventType.SUCCEEDED, EventType.FAILED):
            cost = record.get("cost")
            if isinstance(cost, int | float):
                out.cost += cost
            if kind == EventType.FAILED and record.get("retry_at") is None:
                out.failed += 1
            if kind == EventType.SUCCEEDED:
                out.succeeded += 1
                miss = unfinished.pop(job, None)
                if miss is not None and timeline.late_success(job) == miss["deadline"]:
                    miss["done"] = ts  # missed when its time passed, and done since: late, not never
                kept = timeline.succeeded(job, ts)
                if kept is not None:
                    out.deadline_jobs += 1
                    if not kept[1]:
                        out.deadline_misses += 1
                        out.missed.append({"job": job, "deadline": kept[0], "done": ts})
    for late, deadline in timeline.overdue(time.time() if now is None else now):
        missed(late, deadline, None)
    return out
