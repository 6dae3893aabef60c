"""`status --check`'s rules with time injected: which runner and job states are problems."""

from __future__ import annotations

import json
from typing import Any

from jobdeck.state.board import Board
from jobdeck.state.health import OVERRUN_SLACK, job_problems, runner_problems
from jobdeck.state.heartbeat import STALE_AFTER, Heartbeat
from jobdeck.state.loader import parse_spec
from jobdeck.state.machine import JobState, transition

NOW = 1_700_000_000.0


def spec_of(*jobs: dict[str, Any]) -> Any:
    return parse_spec(json.dumps({"jobs": list(jobs)}).encode()).spec


def beat(at: float, runner: str = "r1") -> Heartbeat:
    return Heartbeat(runner=runner, pid=42, host="h", at=at, parallel=1)


def claimed(job_id: str, at: float) -> JobState:
    return transition(JobState(job_id), {"type": "claimed", "attempt": 1, "seq": 1, "runner": "r1"}, at)


def kinds(problems: list[Any]) -> list[tuple[str, str | None]]:
    return [(p.kind, p.job) for p in problems]


def test_no_heartbeat_is_no_runner_and_an_old_one_is_stale() -> None:
    assert kinds(runner_problems([], NOW)) == [("no_runner", None)]
    assert runner_problems([beat(NOW - STALE_AFTER + 1)], NOW) == []
    stale = runner_problems([beat(NOW - 100, "old"), beat(NOW - STALE_AFTER - 1, "newer")], NOW)
    assert kinds(stale) == [("stale_heartbeat", None)]
    assert "runner newer" in stale[0].message and "hint:" in stale[0].message


def test_a_dead_runners_leftover_beside_a_live_one_is_no_problem() -> None:
    assert runner_problems([beat(NOW - 3600, "dead"), beat(NOW - 1, "live")], NOW) == []


def test_a_running_job_is_stuck_only_past_hard_timeout_grace_and_slack() -> None:
    spec = spec_of({"id": "slow", "command": ["true"], "timeout": {"hard": 60, "grace": 5}},
                   {"id": "unbounded", "command": ["true"]})
    limit = 60 + 5 + OVERRUN_SLACK
    board = Board({"slow": claimed("slow", NOW - limit + 1), "unbounded": claimed("unbounded", NOW - 1e6)})
    assert job_problems(spec, board, NOW, waiting_age=None) == []
    late = job_problems(spec, board, NOW + 2, waiting_age=None)
    assert kinds(late) == [("overrun", "slow")]
    assert "past its hard timeout of 1m00s" in late[0].message


def test_a_review_is_reported_only_past_the_waiting_age() -> None:
    spec = spec_of({"id": "pub", "command": ["true"], "review": "always"})
    review = transition(claimed("pub", NOW - 100), {"type": "succeeded", "token": 1, "review": True}, NOW - 50)
    board = Board({"pub": review})
    assert review.status == "review"
    assert job_problems(spec, board, NOW, waiting_age=None) == []
    assert job_problems(spec, board, NOW, waiting_age=60) == []
    assert kinds(job_problems(spec, board, NOW, waiting_age=30)) == [("review_waiting", "pub")]


def test_an_approval_waits_from_its_last_dependencys_end() -> None:
    spec = spec_of({"id": "up", "command": ["true"]},
                   {"id": "risky", "command": ["true"], "risk": "high", "depends_on": ["up"]},
                   {"id": "alone", "command": ["true"], "risk": "high"})
    up_done = transition(claimed("up", NOW - 200), {"type": "succeeded", "token": 1}, NOW - 100)
    board = Board({"up": up_done})
    assert kinds(job_problems(spec, board, NOW, waiting_age=50)) == [("approval_waiting", "risky")]
    assert job_problems(spec, board, NOW, waiting_age=150) == []
    approved = Board({"up": up_done, "risky": transition(JobState("risky"), {"type": "approved"}, NOW - 150)})
    assert job_problems(spec, approved, NOW, waiting_age=50) == []
