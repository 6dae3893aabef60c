"""runner/metrics.py's snapshot: the figures the textfile shows, from a board and its rollups."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from prometheus_client.parser import text_string_to_metric_families

from jobdeck.decide.heuristic import Heuristic
from jobdeck.decide.policy import policy_of
from jobdeck.runner.metrics import DURATION_BUCKETS, render, snapshot
from jobdeck.state.board import Board
from jobdeck.state.machine import Attempt, JobState, Status
from jobdeck.state.rollups import Histogram
from jobdeck.state.spec import Spec


def test_runs_below_a_bound_are_counted_in_its_le_bucket() -> None:
    board = Board()
    for n, seconds in enumerate((0.99, 58.0, 290.0), 1):
        board.rollups.add(f"j{n}", Attempt(1, n, "r", "default", 1000.0, 1000.0 + seconds, "succeeded"))
    cumulative = dict(snapshot(None, board, {}).durations)
    assert cumulative[1.0] == 1 and cumulative[60.0] == 2 and cumulative[300.0] == 3


def test_each_le_counts_every_run_at_or_under_it_and_none_a_bucket_over_it() -> None:
    runs = [0.01 * 1.013 ** n for n in range(1000)]  # 10 ms to ~4.3 days, ~1.3% apart: several per rollup bucket
    runs += [bound * scale for bound in DURATION_BUCKETS for scale in (0.95, 0.999, 1.0, 1.001, 1.05)]
    board = Board()
    for n, seconds in enumerate(runs, 1):
        board.rollups.add("job", Attempt(n, n, "r", "default", 0.0, seconds, "succeeded"))
    cumulative = dict(snapshot(None, board, {}).durations)
    for bound in DURATION_BUCKETS:
        over = Histogram.bounds(Histogram.bucket(bound))[1]  # the end of the rollup bucket the bound falls in
        at_most = sum(1 for seconds in runs if seconds <= bound)
        assert at_most <= cumulative[bound] <= at_most + sum(1 for seconds in runs if bound < seconds < over), bound
        assert over < bound * 1.1
    assert cumulative[float("inf")] == len(runs)


def test_the_deadlines_overdue_are_the_jobs_status_check_reports_as_missed() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc).timestamp()
    hour_ago, in_an_hour = "2026-12-06T11:00:00Z", "2026-12-06T13:00:00Z"
    spec = Spec.model_validate({"jobs": [
        {"id": "late", "command": ["true"], "deadline": hour_ago},  # not run by its deadline: overdue
        {"id": "running", "command": ["true"], "deadline": hour_ago},  # still running past it: overdue
        {"id": "done", "command": ["true"], "deadline": hour_ago},  # done (late or not): no longer overdue
        {"id": "ahead", "command": ["true"], "deadline": in_an_hour},
        {"id": "plain", "command": ["true"]}]})
    board = Board({"running": JobState("running", Status.RUNNING, since=now - 7200),
                   "done": JobState("done", Status.DONE, since=now - 600)})
    figures = snapshot(spec, board, {}, now=now)
    assert figures.overdue == len(Heuristic(policy_of(spec), board).missed(now)) == 2
    assert snapshot(spec, board, {}, now=now - 7200).overdue == 0  # two hours before: none passed yet
    assert snapshot(None, board, {}).overdue is None  # no spec, no deadlines to read


def test_the_textfile_shows_deadlines_met_missed_and_overdue_without_a_job_label() -> None:
    figures = replace(snapshot(None, Board(), {}), overdue=2, deadlines={"met": 7, "missed": 3})
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(render(figures).decode()) for s in family.samples}
    assert {key: value for key, value in samples.items() if key[0].startswith("jobdeck_deadlines")} == {
        ("jobdeck_deadlines_total", (("outcome", "met"),)): 7, ("jobdeck_deadlines_total", (("outcome", "missed"),)): 3,
        ("jobdeck_deadlines_overdue", ()): 2}  # one series each: no job label
    unknown = render(snapshot(None, Board(), {})).decode()
    assert "jobdeck_deadlines" not in unknown  # not known: left out, not shown as 0
