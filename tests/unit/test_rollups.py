"""Rollups: quantiles within a bucket, counts and cost per job and per hour, the same from a snapshot as from a full fold."""

from __future__ import annotations

from typing import Any

import pytest

from jobdeck.state.board import Store, open_store
from jobdeck.state.deck import Deck
from jobdeck.state.machine import Attempt
from jobdeck.state.rollups import Histogram, Rollups


def test_quantiles_are_within_a_bucket_of_the_truth() -> None:
    histogram = Histogram()
    for seconds in range(1, 1001):
        histogram.add(seconds / 10)  # 0.1 s ... 100 s, uniform
    for q, truth in ((0.5, 50.0), (0.9, 90.0), (0.99, 99.0)):
        assert histogram.quantile(q) == pytest.approx(truth, rel=0.09)
    assert Histogram().quantile(0.5) is None
    assert Histogram.from_json(histogram.to_json()) == histogram


def test_an_ended_attempt_counts_once_per_job_and_per_hour() -> None:
    rollups = Rollups()
    hour = 3600 * 500_000
    rollups.add("a", Attempt(1, 1, "r", "default", hour + 10, hour + 40, "succeeded", cost=0.25,
                             usage={"prompt_tokens": 10, "completion_tokens": 5}), "openai/x")
    rollups.add("a", Attempt(2, 3, "r", "default", hour + 50, hour + 55, "failed", reason="exit_code"))
    rollups.add("a", Attempt(3, 5, "r", "default", hour + 60, None))  # still running: not counted
    job = rollups.jobs["a"]
    assert (job.ended, job.outcomes, job.reasons, job.tokens) == (2, {"succeeded": 1, "failed": 1}, {"exit_code": 1}, 15)
    assert job.failure_rate() == 0.5 and job.durations.quantile(0.5) == pytest.approx(30, rel=0.09)
    assert rollups.cost_since(hour) == 0.25 and rollups.hours[500_000].by_model == {"openai/x": 0.25}
    assert rollups.failures_since(hour + 54) == 1 and rollups.failures_since(hour + 56) == 0
    assert Rollups.from_json(rollups.to_json()) == rollups


def run_jobs(store: Store, count: int, at: float) -> None:
    for n in range(count):
        job = f"job-{n % 5}"
        attempt = store.board.state(job).next_attempt
        store.commit([{"type": "claimed", "job": job, "attempt": attempt, "runner": "t"}], now=at + n)
        token = store.board.state(job).token
        end: dict[str, Any] = ({"type": "failed", "reason": "exit_code", "exit_code": 1} if n % 4 == 0
                               else {"type": "succeeded", "review": True, "reason": "invalid output"} if n % 4 == 1
                               else {"type": "succeeded", "exit_code": 0, "cost": 0.01})
        store.commit([{**end, "job": job, "token": token}], now=at + n + 2 + n % 3)
        if store.board.state(job).status.value != "backlog":
            store.commit([{"type": "retried", "job": job, "by": "t"}], now=at + n + 5)


def test_rollups_from_a_snapshot_equal_a_full_fold(deck: Deck) -> None:
    with Store(deck) as store:
        run_jobs(store, 40, 1_800_000_000)
        store.write_snapshot()
        run_jobs(store, 25, 1_800_003_600)
        live = store.board.rollups.to_json()
    with open_store(deck) as resumed:
        assert resumed.log.offset > 0 and resumed.board.rollups.to_json() == live
    with open_store(deck, from_snapshot=False) as replayed:
        assert replayed.board.rollups.to_json() == live
    assert sum(job["ended"] for job in live["jobs"].values()) == 65
    failed = sum(1 for n in range(40) if n % 4 < 2) + sum(1 for n in range(25) if n % 4 < 2)  # invalid output too
    assert sum(job["outcomes"].get("failed", 0) for job in live["jobs"].values()) == failed
    assert sum(job["reasons"].get("invalid_output", 0) for job in live["jobs"].values()) == 10 + 6
