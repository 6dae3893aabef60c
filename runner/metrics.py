"""The deck's figures as a Prometheus textfile, for node_exporter's textfile collector.

With ``metrics.textfile`` set, the runner takes a snapshot of the board and the
rollups (state/rollups.py) every ``metrics.every`` seconds on its loop (plain
numbers: a few microseconds per job), and renders and writes it on a thread
with prometheus-client's exposition (``generate_latest`` on a private
registry), atomically: a temp file in the target directory, renamed over the
file, so the collector never reads half of one. prometheus-client is imported
there, by the first write only.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jobdeck.state.atomic import write_atomic
from jobdeck.state.machine import Status
from jobdeck.state.rollups import Histogram

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.spec import Spec

DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0)
"""Upper bounds (seconds) of the exported duration histogram; the rollups' finer buckets are folded into them."""
TEXTFILE_MODE = 0o644
"""node_exporter usually runs as another user: the textfile holds counts and costs, no secret."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The numbers one textfile shows, taken on the loop."""

    jobs: dict[str, int]
    attempts: dict[str, int]
    durations: list[tuple[float, int]]
    """(upper bound, cumulative count) for each bucket, +Inf last."""
    duration_sum: float
    cost: dict[str, float]
    heartbeats: dict[str, float] = field(default_factory=dict)


def snapshot(spec: Spec | None, board: Board, heartbeats: dict[str, float]) -> Snapshot:
    """The metrics for ``board`` (job counts include jobs that never ran, as backlog)."""
    jobs = Counter(state.status.value for state in board.jobs.values())
    if spec is not None:
        jobs[Status.BACKLOG.value] += sum(1 for job in spec.jobs if job.id not in board.jobs)
    rollups = board.rollups
    attempts: Counter[str] = Counter()
    merged = Histogram()
    for rollup in rollups.jobs.values():
        attempts.update(rollup.outcomes)
        for bucket, count in rollup.durations.counts.items():
            merged.counts[bucket] = merged.counts.get(bucket, 0) + count
    per_bound = [0] * (len(DURATION_BUCKETS) + 1)
    total = 0.0
    for bucket, count in merged.counts.items():
        low, high = Histogram.bounds(bucket)
        total += (low + high) / 2 * count  # the rollups keep counts, not sums: each run at its bucket's middle
        slot = next((i for i, bound in enumerate(DURATION_BUCKETS) if high <= bound), len(DURATION_BUCKETS))
        per_bound[slot] += count
    cumulative, running = [], 0
    for bound, count in zip([*DURATION_BUCKETS, float("inf")], per_bound):
        running += count
        cumulative.append((bound, running))
    return Snapshot(jobs={status.value: jobs.get(status.value, 0) for status in Status},
                    attempts=dict(sorted(attempts.items())), durations=cumulative, duration_sum=total,
                    cost=dict(sorted(rollups.cost_by_model.items())), heartbeats=dict(heartbeats))


def render(figures: Snapshot) -> bytes:
    """The textfile's content in Prometheus' text exposition format."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
                                        Metric)

    class Figures:
        def collect(self) -> Iterator[Metric]:
            jobs = GaugeMetricFamily("jobdeck_jobs", "Jobs per board column.", labels=["status"])
            for status, count in figures.jobs.items():
                jobs.add_metric([status], count)
            yield jobs
            attempts = CounterMetricFamily("jobdeck_attempts", "Ended attempts by outcome.", labels=["outcome"])
            for outcome, count in figures.attempts.items():
                attempts.add_metric([outcome], count)
            yield attempts
            yield HistogramMetricFamily(
                "jobdeck_attempt_duration_seconds",
                "Wall time of succeeded attempts (the sum counts each at its rollup bucket's middle).",
                buckets=[("+Inf" if bound == float("inf") else repr(bound), count)
                         for bound, count in figures.durations],
                sum_value=figures.duration_sum)
            cost = CounterMetricFamily("jobdeck_cost_usd", "Cost of ended attempts in US dollars, per model.",
                                       labels=["model"])
            for model, usd in figures.cost.items():
                cost.add_metric([model], usd)
            yield cost
            beat = GaugeMetricFamily("jobdeck_runner_heartbeat_timestamp_seconds",
                                     "When the runner last wrote its heartbeat (Unix time).", labels=["runner"])
            for runner, at in figures.heartbeats.items():
                beat.add_metric([runner], at)
            yield beat

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Figures())  # type: ignore[arg-type]
    return generate_latest(registry)


class TextfileWriter:
    """Writes the textfile every ``every`` seconds, one write at a time, on a thread the caller provides."""

    def __init__(self, path: Path, every: float) -> None:
        self.path = path
        self.every = every
        self.due = 0.0
        self.pending: asyncio.Future[None] | None = None
        """The write under way, if any: one at a time."""
        self.error: str | None = None
        """The last write's failure, if it failed."""

    def write(self, figures: Snapshot) -> None:
        """Render and replace the file (temp file beside it, renamed over it); raises OSError."""
        write_atomic(self.path, render(figures), durable=False, mode=TEXTFILE_MODE)


def textfile_path(deck_root: Path, textfile: str) -> Path:
    """Where ``metrics.textfile`` points: absolute, or relative to the deck."""
    path = Path(textfile).expanduser()
    return path if path.is_absolute() else deck_root / path
