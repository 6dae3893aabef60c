"""Pure runner logic with injected time and randomness: backoff, cron decisions, capacity."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from jobdeck.runner.backoff import retry_delay
from jobdeck.runner.capacity import Capacity
from jobdeck.runner.cron import decide
from jobdeck.state.spec import Job, Retry, Spec


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(("backoff", "expected"), [
    ("fixed", [2, 2, 2, 2]), ("linear", [2, 4, 6, 8]), ("exponential", [2, 4, 8, 10]),
])
def test_backoff_shapes_are_capped(backoff: str, expected: list[float]) -> None:
    retry = Retry(backoff=backoff, delay=2, max_delay=10, jitter=0)
    assert [retry_delay(retry, n) for n in (1, 2, 3, 4)] == expected


def test_jitter_stays_within_its_fraction() -> None:
    retry = Retry(backoff="fixed", delay=10, max_delay=100, jitter=0.2)
    rng = random.Random(1)
    delays = [retry_delay(retry, 1, rng=rng) for _ in range(500)]
    assert min(delays) >= 10 and max(delays) <= 12 and len(set(delays)) > 100


def test_retry_after_is_honoured_even_past_max_delay() -> None:
    retry = Retry(delay=1, max_delay=5, jitter=0)
    assert retry_delay(retry, 1, retry_after=30) == 30
    assert retry_delay(retry, 1, retry_after=0.5) == 1


def test_cron_decisions() -> None:
    job = Job(id="n", command=["true"], schedule="*/15 * * * *")
    assert decide(job, None, utc(2026, 1, 1, 0, 7), busy=False).action == "arm"
    assert decide(job, utc(2026, 1, 1, 0, 7), utc(2026, 1, 1, 0, 14), busy=False) is None
    fire = decide(job, utc(2026, 1, 1, 0, 7), utc(2026, 1, 1, 1, 1), busy=False)
    assert fire.action == "fire" and fire.fire == utc(2026, 1, 1, 1, 0) and fire.missed == 3
    busy = decide(job, utc(2026, 1, 1, 0, 7), utc(2026, 1, 1, 0, 16), busy=True)
    assert busy.action == "skip" and busy.fire == utc(2026, 1, 1, 0, 15)


def test_capacity_counts_global_agent_model_and_key_limits() -> None:
    spec = Spec.model_validate({
        "agents": {"w": {"type": "llm", "model": "m1", "max_concurrent": 1}},
        "limits": {"parallel": 3, "models": {"m2": 1}, "keys": {"crm": 2}},
        "jobs": [
            {"id": "a", "agent": "w", "prompt": "x"}, {"id": "b", "agent": "w", "prompt": "y"},
            {"id": "c", "model": "m2", "prompt": "x"}, {"id": "d", "model": "m2", "prompt": "x"},
            {"id": "e", "command": ["true"], "concurrency": "crm"},
            {"id": "f", "command": ["true"], "concurrency": "crm"},
            {"id": "g", "command": ["true"], "concurrency": "crm"},
        ]})
    cap = Capacity(parallel=10)
    job = spec.by_id
    cap.take(job["a"], spec)
    assert not cap.fits(job["b"], spec)
    cap.take(job["c"], spec)
    assert not cap.fits(job["d"], spec)
    cap.take(job["e"], spec), cap.take(job["f"], spec)
    assert not cap.fits(job["g"], spec)
    cap.give_back(job["e"], spec)
    assert cap.fits(job["g"], spec)
    small = Capacity(parallel=1)
    small.take(job["e"], spec)
    assert small.full and not small.fits(job["g"], spec)


def test_two_inbox_files_for_one_job_fire_one_cycle_and_defer_the_other() -> None:
    from jobdeck.runner.firing import inbox_events
    from jobdeck.state.board import Board

    spec = Spec.model_validate({"jobs": [
        {"id": "enrich", "command": ["true"], "trigger": "*.csv"},
        {"id": "report", "command": ["true"], "depends_on": ["enrich"]},
    ]})
    deps = {job.id: job.depends_on for job in spec.jobs}
    job = spec.by_id["enrich"]
    found = [(job, "default/a.csv:1:1:1", "/in/a.csv"), (job, "default/b.csv:2:1:1", "/in/b.csv")]
    events, deferred = inbox_events(found, deps, Board(), "r1")
    assert [(e["job"], e.get("inputs")) for e in events] == [("enrich", {"input": "/in/a.csv"}), ("report", None)]
    assert events[0]["file"] == "default/a.csv:1:1:1" and deferred == {"default/b.csv:2:1:1"}


def test_ready_jobs_start_by_priority_then_waiting_time_then_jobs_json_order() -> None:
    from jobdeck.runner.selection import ReadyIndex
    from jobdeck.state.board import Board

    ids = [f"j{n:02d}" for n in range(40)]
    random.Random(7).shuffle(ids)  # jobs.json order is not id order
    spec = Spec.model_validate({"jobs": [{"id": i, "command": ["true"], "priority": 1 if i in ("j05", "j30") else 0}
                                         for i in ids]})
    index = ReadyIndex()
    index.reset(spec)
    index.update(Board(), now=0.0)
    taken = [job.id for job in index.take(lambda job: True, lambda: False)]
    high = [i for i in ids if i in ("j05", "j30")]
    assert taken == high + [i for i in ids if i not in high]


class _Task:
    def __init__(self, done: bool) -> None:
        self._done = done

    def done(self) -> bool:
        return self._done


def test_a_run_that_ends_by_itself_gives_up_on_a_deck_that_refuses_writes(tmp_path: Path) -> None:
    from jobdeck.runner.loop import ONCE_PATIENCE, Runner
    from jobdeck.runner.write_pause import WritePause
    from jobdeck.state.deck import Deck

    runner = Runner(Deck(tmp_path), once=True, watch=False)
    runner.writes = WritePause(report=lambda record: None, resync=lambda: None)
    assert not runner.stuck(100.0), "writes succeed"
    runner.writes.failed(PermissionError(13, "Permission denied", "events.jsonl"), 100.0)
    assert runner.stuck(100.0), "nothing runs and nothing waits to be recorded"
    runner.tasks["a"] = _Task(done=False)  # type: ignore[assignment]
    assert not runner.stuck(200.0), "an attempt still runs: it is waited for"
    runner.tasks["a"] = _Task(done=True)  # type: ignore[assignment]
    runner.finished.append((None, {"type": "succeeded", "job": "a"}))  # type: ignore[arg-type]
    runner.writes.failed(PermissionError(13, "Permission denied", "events.jsonl"), 101.0)
    assert not runner.stuck(100.0 + ONCE_PATIENCE - 0.01), "its outcome gets a few seconds to be recorded"
    assert runner.stuck(100.0 + ONCE_PATIENCE), "counted from the first failed write"


def test_a_job_parked_then_ready_again_with_the_same_key_is_asked_once_per_turn() -> None:
    """park() leaves the job's heap entry; ready again, keyed alike, it had two, and the gate noted its hold twice."""
    from jobdeck.runner.selection import ReadyIndex
    from jobdeck.state.board import Board

    spec = Spec.model_validate({"jobs": [{"id": "held", "command": ["true"]}, {"id": "other", "command": ["true"]}]})
    index = ReadyIndex()
    index.reset(spec)
    index.update(Board(), now=0.0)
    index.park("held", until=5.0)  # deferred for a cooldown...
    index.update(Board(), now=6.0)  # ...and ready again, with the key it had
    asked: list[str] = []
    index.take(lambda job: asked.append(job.id) is not None, lambda: False)  # each refused: kept for the next turn
    assert sorted(asked) == ["held", "other"]
    asked.clear()
    index.take(lambda job: asked.append(job.id) is not None, lambda: False)
    assert sorted(asked) == ["held", "other"]  # and the duplicate is not kept either


def test_the_advice_names_a_job_parked_then_ready_again_once() -> None:
    """The advisor's heap kept both entries of such a job (shadow, advise): the advice read [b, b, c...], so a claim
    of c, the service's second choice, was reported third, and `decisions --report` counted it as not followed."""
    from jobdeck.runner.selection import ReadyIndex
    from jobdeck.state.board import Board

    spec = Spec.model_validate({"jobs": [{"id": job, "command": ["true"]} for job in ("b", "c", "d")]})
    index = ReadyIndex()
    index.reset(spec)
    index.advisor = lambda job_id, state, now: ((spec.by_id[job_id].id,), None)  # (by id: b, c, d)
    index.update(Board(), now=0.0)
    index.park("b", until=5.0)  # deferred for a cooldown...
    index.update(Board(), now=6.0)  # ...and ready again, keyed as it was
    assert index.advised(3) == ["b", "c", "d"]
    assert index.advice_rank("c") == 2
