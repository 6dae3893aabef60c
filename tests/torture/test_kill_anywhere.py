"""kill -9 at every named crash point of a claim, a completion, an operator action and a file rewrite.

Each point is armed with ``JOBDECK_CRASH_AT`` (``state/crashpoint.py``); the
process must really die there (exit by SIGKILL), which is what makes the test
able to fail. Afterwards the files alone must show: every file parses, the
chain verifies, no attempt started twice, every job ends done or in review as
``interrupted``, and a restarted runner is running again in under 2 s.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest

from tests.functional.runner_kit import make_deck
from tests.torture.kit import (
    audit,
    claims_by_pid,
    drain,
    env_for,
    jobdeck,
    ledger_jobs,
    start_runner,
    stop,
    wait_for,
    write_figure,
)

#: Crash points reached by the runner, with the hit on which to die.
RUNNER_POINTS = [
    "claim.after_seal:2", "claim.after_flush:2", "claim.after_open:2",
    "complete.after_result:3", "complete.after_flush:2", "complete.after_release:2",
    "log.before_write:3", "log.torn_write:3", "log.after_write:3", "log.after_fsync:3",
    "atomic.before_write:1", "atomic.after_write:1", "atomic.after_rename:1",
]
#: Crash points of an operator action (`jobdeck cancel`: Store.commit and the log append).
ACTION_POINTS = ["commit.before_flush", "log.before_write", "log.torn_write", "log.after_write",
                 "log.after_fsync", "commit.after_flush"]
#: Crash points of a file rewrite (`jobdeck add`: jobs.json through write_atomic).
REWRITE_POINTS = ["atomic.before_write", "atomic.after_write", "atomic.after_fsync",
                  "atomic.after_rename", "atomic.after_dir_fsync"]
RESTART_LIMIT = 2.0


def _crash_runner(deck: Path, point: str, ids: list[str]) -> float | None:
    """Run a runner armed at ``point`` until it dies; return seconds to its first claim, if any.

    If every job is already final the point may be unreachable (no claim left to
    make): the runner is then stopped normally instead.
    """
    began = time.monotonic()
    runner = start_runner(deck, "--quiet", env=env_for(deck, JOBDECK_CRASH_AT=point, PYTHONFAULTHANDLER="1"))
    first_claim: float | None = None

    nothing_left = False

    def died_or_claimed() -> bool:
        nonlocal first_claim, nothing_left
        if first_claim is None and claims_by_pid(deck, runner.pid):
            first_claim = time.monotonic() - began
        if runner.poll() is not None:
            return True
        if time.monotonic() - began > 8 and audit_states_final(deck, ids):
            nothing_left = True
        return nothing_left

    try:
        wait_for(died_or_claimed, timeout=60, what=f"the runner to reach {point}")
    except AssertionError:
        runner.send_signal(signal.SIGABRT)  # faulthandler prints where every thread is stuck
        _, err = runner.communicate(timeout=30)
        raise AssertionError(f"the runner did not reach {point} in 60 s; its stacks:\n{err[-6000:]}") from None
    finally:
        stop(runner)
    _, err = runner.communicate()
    if nothing_left:
        return first_claim
    assert runner.returncode == -signal.SIGKILL, f"{point}: runner exited {runner.returncode}, not at the point\n{err}"
    return first_claim


def _kill_runner_at(tmp_path: Path, points: list[str], jobs: int) -> dict[str, float]:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, jobs)
    ids = [job["id"] for job in spec]
    deck = make_deck(tmp_path, spec, limits={"parallel": 4})
    restarts = []
    kills = 0
    for point in points:
        if kills and audit_states_final(deck, ids):
            break  # the deck is done: the remaining points have nothing to crash in
        took = _crash_runner(deck, point, ids)
        kills += 1
        if took is not None:
            restarts.append(took)
    runner = start_runner(deck, "--quiet")
    try:
        wait_for(lambda: audit_states_final(deck, ids), timeout=600, what="every job final")
    finally:
        stop(runner)
    drain(deck, ids)
    result = audit(deck, ledger, ids)
    assert result.corrupt_files == [], result.corrupt_files
    assert result.chain_ok, "jobdeck audit verify failed"
    assert result.double_starts == [], result.double_starts
    assert result.lost_jobs == [], result.lost_jobs
    assert restarts, "no crashed runner ever got as far as a claim"
    assert max(restarts) < RESTART_LIMIT, f"restart to first claim took {max(restarts):.2f}s"
    figures = {"kills": kills, "jobs": jobs, "restart_median_s": round(sorted(restarts)[len(restarts) // 2], 2),
               "restart_max_s": round(max(restarts), 2), "corrupt": len(result.corrupt_files),
               "double": len(result.double_starts), "lost": len(result.lost_jobs),
               "temp_files_left": len(result.leftover_temp_files),
               "interrupted": sum(1 for s in result.states.values() if s == "review")}
    return figures


def audit_states_final(deck: Path, ids: list[str]) -> bool:
    from tests.torture.kit import FINAL, board

    states = board(deck)
    return all(states.get(j) is not None and states[j].status.value in FINAL for j in ids)


def test_runner_killed_at_every_crash_point_loses_nothing(tmp_path: Path) -> None:
    figures = _kill_runner_at(tmp_path, RUNNER_POINTS, jobs=80)
    write_figure("kill_anywhere_runner", figures)


def test_operator_action_and_rewrite_killed_at_every_point_loses_nothing(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, 8)
    deck = make_deck(tmp_path, spec)
    spec_path = deck / "jobs.json"
    cancelled_or_not: dict[str, bool] = {}
    for n, point in enumerate(ACTION_POINTS):
        job = spec[n]["id"]
        result = jobdeck(deck, "cancel", job, "--reason", "torture",
                         env=env_for(deck, JOBDECK_CRASH_AT=point))
        assert result.returncode == -signal.SIGKILL, f"{point}: exit {result.returncode}\n{result.stderr}"
        cancelled_or_not[job] = any(e.get("type") == "cancelled" and e.get("job") == job
                                    for e in _events_lenient(deck))
    # the crash before the fsync may still leave the record (the page cache survives
    # a process kill); after it, the action must be there
    assert cancelled_or_not[spec[ACTION_POINTS.index("commit.after_flush")]["id"]]
    assert cancelled_or_not[spec[ACTION_POINTS.index("log.after_fsync")]["id"]]
    added = []
    for n, point in enumerate(REWRITE_POINTS):
        before = spec_path.read_bytes()
        new_id = f"added{n}"
        result = jobdeck(deck, "add", "--id", new_id, "--", *spec[0]["command"], env=env_for(deck, JOBDECK_CRASH_AT=point))
        assert result.returncode == -signal.SIGKILL, f"{point}: exit {result.returncode}\n{result.stderr}"
        after = spec_path.read_bytes()
        document = json.loads(after)  # never torn
        ids_now = {job["id"] for job in document["jobs"]}
        if after != before:
            assert new_id in ids_now and ids_now >= {j["id"] for j in json.loads(before)["jobs"]}
            added.append(new_id)
        if point in ("atomic.after_rename", "atomic.after_dir_fsync"):
            assert new_id in ids_now, f"{point}: the rename happened, the job must be there"
        if point in ("atomic.before_write", "atomic.after_write", "atomic.after_fsync"):
            assert after == before, f"{point}: the rename did not happen, jobs.json must be unchanged"
    # a normal action after the crashes repairs any torn tail and extends the chain
    assert jobdeck(deck, "cancel", spec[-1]["id"]).returncode == 0
    ids = [j["id"] for j in spec] + added
    drain(deck, ids)
    result = audit(deck, ledger, ids)
    assert result.corrupt_files == [], result.corrupt_files
    assert result.chain_ok
    assert result.double_starts == [] and result.lost_jobs == []
    write_figure("kill_anywhere_actions", {"kills": len(ACTION_POINTS) + len(REWRITE_POINTS),
                                           "corrupt": 0, "lost": 0, "double": 0,
                                           "temp_files_left": len(result.leftover_temp_files)})


def _events_lenient(deck: Path) -> list[dict]:
    out: list[dict] = []
    path = deck / ".jobdeck" / "events.jsonl"
    if not path.exists():
        return out
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_runner_killed_at_random_crash_points_long(tmp_path: Path) -> None:
    """200 kills: random points at random hit counts (seeded), on one deck of 6,000 jobs."""
    rng = random.Random(20261121)
    names = sorted({p.split(":")[0] for p in RUNNER_POINTS})
    # atomic.* points are hit by heartbeats (every 5 s): only the first is quick to reach
    points = [f"{name}:{1 if name.startswith('atomic.') else rng.randint(1, 6)}"
              for name in (rng.choice(names) for _ in range(200))]
    figures = _kill_runner_at(tmp_path, points, jobs=6000)
    write_figure("kill_anywhere_runner_long", figures)
