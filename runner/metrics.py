"""The deck's figures as a Prometheus textfile, for node_exporter's textfile collector.

With ``metrics.textfile`` set, the runner takes a snapshot of the board and the
rollups (state/rollups.py) every ``metrics.every`` seconds on its loop (plain
numbers: a few microseconds per job), and renders and writes it on a thread
with prometheus-client's exposition (``generate_latest`` on a private
registry), atomically: a temp file in the target directory, renamed over the
file, so the collector never reads half of one. prometheus-client is imported
there, by the first write only.

Deadlines met and missed are the log's to tell, not the board's: the writer
counts them as `jobdeck stats` does (state/history.py), from the stats totals
(``stats_cache.TOTALS_NAME``: sized by the jobs, not the history; kept by every write) or, the first time,
the stats cache, then folding on its thread only what the log gained since
(``DeadlineCounts``): a `run --once` from cron pays for the minute it ran, not
for the deck's history. The deadlines overdue now are the board's, as `jobdeck
status --check` reads them (``Heuristic.missed``).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from jobdeck.state import stats_cache
from jobdeck.state.atomic import write_atomic
from jobdeck.state.board import CATCH_UP_BYTES
from jobdeck.state.buckets import Buckets
from jobdeck.state.errors import StateError, StatsCacheDamaged
from jobdeck.state.events import EventLog
from jobdeck.state.history import DAY, DECK, HOUR, History
from jobdeck.state.machine import Status
from jobdeck.state.rollups import Histogram

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.deck import Deck
    from jobdeck.state.spec import Spec

DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0)
"""Upper bounds (seconds) of the exported duration histogram; the rollups' finer buckets are folded into them.

A rollup bucket counts in the first bound at or above its lower edge: every run at or under a bound counts in
its ``le`` (a 0.99 s run in le="1.0"), and a run at most one rollup bucket (~9%) over it may count there too.
"""
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
    overdue: int | None = None
    """Jobs whose own deadline passed while they are not done (None without a spec to read deadlines from)."""
    deadlines: dict[str, int] | None = None
    """Deadlines met and missed over the deck's history (None: not known; the writer adds them)."""


def snapshot(spec: Spec | None, board: Board, heartbeats: dict[str, float], now: float | None = None) -> Snapshot:
    """The metrics for ``board`` at ``now`` (default: the clock); job counts include jobs that never ran, as
    backlog."""
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
        slot = next((i for i, bound in enumerate(DURATION_BUCKETS) if low <= bound), len(DURATION_BUCKETS))
        per_bound[slot] += count
    cumulative, running = [], 0
    for bound, count in zip([*DURATION_BUCKETS, float("inf")], per_bound):
        running += count
        cumulative.append((bound, running))
    return Snapshot(jobs={status.value: jobs.get(status.value, 0) for status in Status},
                    attempts=dict(sorted(attempts.items())), durations=cumulative, duration_sum=total,
                    cost=dict(sorted(rollups.cost_by_model.items())), heartbeats=dict(heartbeats),
                    overdue=None if spec is None else overdue(spec, board, time.time() if now is None else now))


def overdue(spec: Spec, board: Board, now: float) -> int:
    """How many jobs' own deadline of their current cycle passed while they are not done: what `status --check`
    reports as missed (O(jobs with a deadline))."""
    if not any(job.deadline is not None for job in spec.jobs):
        return 0
    from jobdeck.decide.heuristic import Heuristic
    from jobdeck.decide.policy import policy_of

    return len(Heuristic(policy_of(spec), board).missed(now))


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
                "Wall time of succeeded attempts, to within ~9%: a run up to one rollup bucket over a bound may "
                "count under it, and the sum counts each run at its rollup bucket's middle.",
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
            if figures.deadlines is not None:
                deadlines = CounterMetricFamily(
                    "jobdeck_deadlines", "Deadlines judged, as jobdeck stats counts them: met by a success that "
                    "ended by then, or missed.", labels=["outcome"])
                for outcome, count in figures.deadlines.items():
                    deadlines.add_metric([outcome], count)
                yield deadlines
            if figures.overdue is not None:
                yield GaugeMetricFamily("jobdeck_deadlines_overdue", "Jobs whose deadline passed while they are "
                                        "not done, as jobdeck status --check reports them.", value=figures.overdue)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Figures())  # type: ignore[arg-type]
    return generate_latest(registry)


class TextfileWriter:
    """Writes the textfile every ``every`` seconds, one write at a time, on a thread the caller provides."""

    def __init__(self, path: Path, every: float, deck: Deck | None = None) -> None:
        self.path = path
        self.every = every
        self.deadlines = DeadlineCounts(deck) if deck is not None else None
        """The deadlines met and missed in ``deck``'s log, folded on by each write (none without a deck)."""
        self.due = 0.0
        self.pending: asyncio.Future[None] | None = None
        """The write under way, if any: one at a time."""
        self.error: str | None = None
        """The last write's failure, if it failed."""

    def write(self, figures: Snapshot) -> None:
        """Render and replace the file (temp file beside it, renamed over it); raises OSError."""
        if self.deadlines is not None:
            try:
                met, missed = self.deadlines.count()
            except (OSError, StateError):
                # the log cannot be followed now (moved, cut, unreadable: the runner tells that itself): this file
                # goes without the counters, and the next write takes them from the stats cache again
                self.deadlines.forget()
            else:
                figures = replace(figures, deadlines={"met": met, "missed": missed})
        write_atomic(self.path, render(figures), durable=False, mode=TEXTFILE_MODE)


class DeadlineCounts:
    """A deck's deadlines met and missed, folded as `jobdeck stats` folds them (state/history.py), kept up to date.

    The first count takes the history from the stats totals (TOTALS_NAME), else the stats cache, or, where none
    holds, folds the log from its start and saves the cache, as `jobdeck stats` would; each count after folds only
    the records appended since, so a write costs what the log gained, not its length. Only the totals are kept:
    the hours and days a fold fills are let go (a deck's history of them is the cache's, tens of MB at a million
    records), and the totals are saved whenever a count folded something, for the next runner or `run --once`.
    """

    def __init__(self, deck: Deck) -> None:
        self.deck = deck
        self._history: History | None = None
        self._log: EventLog | None = None

    def count(self) -> tuple[int, int]:
        """(met, missed) to the end of the log; OSError or StateError when it cannot be read."""
        history, log = self._history, self._log
        if history is None or log is None:
            history, log = self._history, self._log = self._start()
        elif self._fold(history, log):
            self._keep(history, log)
        history.hours, history.days = Buckets(HOUR), Buckets(DAY)  # (only the totals are read)
        total = history.total.get(DECK)
        return (total.deadlines_met, total.deadlines_missed) if total is not None else (0, 0)

    def _start(self) -> tuple[History, EventLog]:
        """The history to the end of the log, and the log standing there: from the stats cache where it holds (a
        line of it found damaged is folded again, as `stats` does), the cache then brought up to date."""
        log = EventLog(self.deck.events_path)
        # (stats_cache's own reader: the history and the log position it was taken at come from one read)
        totals = stats_cache.cached_history(self.deck, log, stats_cache.TOTALS_NAME)
        if totals is not None:
            if self._fold(totals, log):
                self._keep(totals, log)
            return totals, log
        history = stats_cache.cached_history(self.deck, log)
        if history is not None:
            try:
                if self._fold(history, log):
                    stats_cache.save_history(self.deck, history, log)
                self._keep(history, log)
                return history, log
            except StatsCacheDamaged:
                log.close()
                log = EventLog(self.deck.events_path)
        history = History()
        self._fold(history, log)
        stats_cache.save_history(self.deck, history, log)
        self._keep(history, log)
        return history, log

    def _keep(self, history: History, log: EventLog) -> None:
        """Save the totals where the next count, in this runner or the next, starts from."""
        stats_cache.save_history(self.deck, history, log, stats_cache.TOTALS_NAME)

    @staticmethod
    def _fold(history: History, log: EventLog) -> int:
        """Fold what ``log`` holds past its position into ``history``, a chunk at a time; how many records."""
        folded = 0
        while records := log.read_new(CATCH_UP_BYTES) or log.read_new():  # (a line longer than a chunk)
            history.fold(records)
            folded += len(records)
        return folded

    def forget(self) -> None:
        """Start again from the stats cache at the next count."""
        if self._log is not None:
            self._log.close()
        self._history = self._log = None


def textfile_path(deck_root: Path, textfile: str) -> Path:
    """Where ``metrics.textfile`` points: absolute, or relative to the deck."""
    path = Path(textfile).expanduser()
    return path if path.is_absolute() else deck_root / path
