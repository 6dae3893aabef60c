"""`status --check` with jobs.json invalid: the misses the runners recorded still stand as problems."""

from __future__ import annotations

from jobdeck.cli.status import told_by_runners
from jobdeck.state.board import Board

NOW = 1_800_000_000.0


def test_a_recorded_miss_stands_until_the_job_is_done_or_its_cycle_turns() -> None:
    board = Board()
    board.apply({"type": "triggered", "job": "report", "seq": 1, "ts": NOW - 7200})
    board.apply({"type": "decided", "job": "report", "action": "missed", "deadline": NOW - 600, "mode": "shadow",
                 "reasons": ["deadline 06:00 UTC missed"], "seq": 2, "ts": NOW - 599})
    [problem] = told_by_runners(board, NOW)
    assert (problem.kind, problem.job, problem.age) == ("deadline_missed", "report", 600.0)
    assert problem.message == ("report missed its deadline 10m00s ago and is not done (backlog), as a runner told "
                               "it; see `jobdeck why report`")
    board.apply({"type": "triggered", "job": "report", "seq": 3, "ts": NOW})  # its next cycle: the miss is history
    assert told_by_runners(board, NOW) == []
