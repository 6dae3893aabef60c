"""Which deadline a job's cycle is held to (decide/heuristic.py) and how the folds judge it (decide/report.py,
state/history.py), on boards and logs written by hand with injected time."""

from __future__ import annotations

from typing import Any

import log_records
from jobdeck.decide.heuristic import Heuristic
from jobdeck.decide.policy import policy_of
from jobdeck.decide.report import report
from jobdeck.state.board import Board
from jobdeck.state.history import DECK, HOUR, History
from jobdeck.state.spec import Spec

DAY = 86400.0
MONDAY = 20_000 * DAY  # a UTC midnight


def heuristic_of(log: log_records.Log, *jobs: dict[str, Any]) -> Heuristic:
    """A shadow policy of ``jobs`` against the board ``log`` folds into."""
    spec = Spec.model_validate({"decide": {"mode": "shadow"}, "jobs": [{"command": ["true"], **job} for job in jobs]})
    board = Board()
    for record in log.records:
        board.apply(record)
    assert not board.rejected, board.rejected
    return Heuristic(policy_of(spec), board)


def test_a_cron_fire_caught_up_late_keeps_its_days_deadline_through_a_skipped_fire() -> None:
    log = log_records.Log()
    # the 05:00 fire, caught up at 07:00 by a runner that was down, has missed its 06:00 deadline
    log.add(MONDAY + 7 * 3600, "triggered", "nightly", source="cron", root="nightly", by="r", fire=MONDAY + 5 * 3600)
    log.add(MONDAY + 7 * 3600 + 1, "claimed", "nightly", attempt=1, runner="r")
    log.add(MONDAY + 8 * 3600, "progress", "nightly", what="fire_skipped", fire=MONDAY + 8 * 3600,
            reason="previous cycle still running")
    heuristic = heuristic_of(log, {"id": "nightly", "schedule": "0 * * * *", "deadline": "06:00"})
    state = heuristic.board.state("nightly")
    assert heuristic.deadline_of(heuristic.policy.jobs["nightly"], state, MONDAY + 9 * 3600) == MONDAY + 6 * 3600
    assert heuristic.missed(MONDAY + 9 * 3600) == [("nightly", MONDAY + 6 * 3600)]
    assert (state.began, state.last_fire) == (MONDAY + 5 * 3600, MONDAY + 8 * 3600)  # its fire; the latest one handled


def test_a_cycle_that_succeeded_is_not_held_to_its_deadline_again_but_one_that_failed_is() -> None:
    log = log_records.Log()
    log.add(MONDAY + 3600, "listed", jobs=["ontime", "late", "broken"])
    for job, ended in (("ontime", MONDAY + 5 * 3600), ("late", MONDAY + 7 * 3600), ("broken", MONDAY + 5 * 3600)):
        token = log.add(ended - 600, "claimed", job, attempt=1, runner="r")
        log.add(ended, "failed" if job == "broken" else "succeeded", job, token=token,
                **({"reason": "exit_code"} if job == "broken" else {}))
        log.add(MONDAY + 8 * 3600, "retried", job, by="op")  # the operator runs each again: the same cycle
    heuristic = heuristic_of(log, *({"id": job, "deadline": "06:00"} for job in ("ontime", "late", "broken")))
    now = MONDAY + 8 * 3600 + 60
    # met, or missed and done since: settled; failed for good and not done: still missed
    assert {job: heuristic.deadline_of(heuristic.policy.jobs[job], heuristic.board.state(job), now)
            for job in ("ontime", "late", "broken")} == {"ontime": None, "late": None, "broken": MONDAY + 6 * 3600}
    assert heuristic.missed(now) == [("broken", MONDAY + 6 * 3600)]
    assert heuristic.at_risk("ontime", now) is None and heuristic.at_risk("late", now) is None


def test_the_report_judges_a_window_by_the_deadlines_named_before_it_and_a_success_by_its_end() -> None:
    log = log_records.Log()
    start = MONDAY + 10 * 3600  # the window's
    for job, due in (("early", start + 900), ("missed", start + 300), ("recovered", start + 1200),
                     ("never", start + 600), ("gone", start - 300)):
        log.add(start - 1800, "decided", job, mode="shadow", action="start", followed=True, deadline=due)
    tokens = {job: log.add(start - 1800, "claimed", job, attempt=1, runner="r")
              for job in ("early", "missed", "recovered", "never", "gone")}
    log.add(start - 60, "succeeded", "early", token=tokens["early"])  # met before the window: not the window's
    log.add(start - 30, "succeeded", "gone", token=tokens["gone"])  # late, before the window: not the window's
    # ended 100 s after its deadline, recorded by the next runner ten minutes later
    log.add(start + 1200, "succeeded", "missed", token=tokens["missed"], ended=start + 400, recovered=True)
    # ended a minute before its deadline, recorded after it
    log.add(start + 1800, "succeeded", "recovered", token=tokens["recovered"], ended=start + 1140, recovered=True)
    found = report(log.records, since=start, now=start + 3600)
    assert (found.deadline_jobs, found.deadline_misses) == (3, 2)
    assert found.missed == [{"job": "missed", "deadline": start + 300, "done": start + 400},
                            {"job": "never", "deadline": start + 600, "done": None}]
    whole = report(log.records, now=start + 3600)
    assert (whole.deadline_jobs, whole.deadline_misses) == (5, 3)


def test_stats_count_a_missed_deadline_in_its_own_hour_and_a_recovered_success_by_its_end() -> None:
    log = log_records.Log()
    log.add(MONDAY, "decided", "report", deadline=MONDAY + 1800)
    log.add(MONDAY, "decided", "recovered", deadline=MONDAY + 1800)
    token = log.add(MONDAY + 60, "claimed", "recovered", attempt=1, runner="r")  # (report never starts)
    # nothing is written for five hours; then the next runner records what it found done in result.json
    log.add(MONDAY + 5 * HOUR, "succeeded", "recovered", token=token, ended=MONDAY + 1200, recovered=True)
    history = History()
    history.fold(log.records)
    assert history.hour(int(MONDAY // HOUR))[DECK].deadlines_missed == 1  # report's, in the hour it fell in
    assert history.hour(int(MONDAY // HOUR) + 5)[DECK].deadlines_missed == 0
    assert (history.total[DECK].deadlines_met, history.total[DECK].deadlines_missed) == (1, 1)


def test_a_success_whose_output_was_rejected_settles_no_deadline() -> None:
    """Rejected in review, the cycle has no accepted work: the job is still held to its deadline, after the reject
    and after its retry."""
    log = log_records.Log()
    log.add(MONDAY + 3600, "listed", jobs=["rev"])
    token = log.add(MONDAY + 4 * 3600, "claimed", "rev", attempt=1, runner="r")
    log.add(MONDAY + 5 * 3600, "succeeded", "rev", token=token, review=True, reason="review")
    log.add(MONDAY + 5 * 3600 + 60, "rejected", "rev", by="op", reason="wrong answer")
    job = {"id": "rev", "deadline": "06:00", "review": "always"}
    now = MONDAY + 7 * 3600
    rejected = heuristic_of(log, job)  # failed for good now: `status --check` tells the failure, not the deadline
    assert rejected.deadline_of(rejected.policy.jobs["rev"], rejected.board.state("rev"), now) == MONDAY + 6 * 3600
    log.add(MONDAY + 7 * 3600, "retried", "rev", by="op")
    retried = heuristic_of(log, job)
    assert [name for name, _ in retried.missed(now + 60)] == ["rev"]


def test_a_recovered_success_is_judged_at_its_end_whatever_records_come_before_it() -> None:
    """Other runners' records, or the cron fires a runner writes before it recovers an orphan, came between the
    deadline and the recovered outcome: the deadline was judged missed at the first of them."""
    def judged(between: bool) -> tuple[tuple[int, int], tuple[int, int]]:
        log = log_records.Log()
        due = MONDAY + 1800
        log.add(MONDAY, "decided", "rec", deadline=due)
        token = log.add(MONDAY + 60, "claimed", "rec", attempt=1, runner="r")
        if between:
            log.add(due + 30, "claimed", "other", attempt=1, runner="r2")
        log.add(due + 600, "succeeded", "rec", token=token, ended=due - 60, recovered=True)
        history = History()
        history.fold(log.records)
        told = report(log.records, now=due + 3600)
        return ((history.total[DECK].deadlines_met, history.total[DECK].deadlines_missed),
                (told.deadline_jobs, told.deadline_misses))

    assert judged(between=False) == judged(between=True) == ((1, 0), (1, 0))


def test_a_deadline_moved_earlier_after_the_first_was_met_is_judged_as_the_service_judged_it() -> None:
    """The operator moved a job's deadline (23:59 to 22:32) after it had met the first, and its new cycle missed
    the new one: `status --check` and the service's `decided` record said missed; stats and the report must too."""
    log = log_records.Log()
    first, moved = MONDAY + 23 * HOUR + 59 * 60, MONDAY + 22 * HOUR + 32 * 60
    log.add(MONDAY + 20 * HOUR, "decided", "report", mode="shadow", action="start", followed=True, deadline=first)
    token = log.add(MONDAY + 20 * HOUR, "claimed", "report", attempt=1, runner="r")
    log.add(MONDAY + 20 * HOUR + 60, "succeeded", "report", token=token)  # met 23:59
    log.add(MONDAY + 22 * HOUR, "triggered", "report", by="op")
    log.add(moved + 1, "decided", "report", mode="shadow", action="missed", deadline=moved)
    log.add(moved + 120, "decided", "report", mode="shadow", action="missed", deadline=moved)  # named again
    log.add(moved + 180, "decided", "report", mode="shadow", action="start", deadline=moved - 3600)  # a stale one
    history = History()
    history.fold(log.records)
    assert (history.total[DECK].deadlines_met, history.total[DECK].deadlines_missed) == (1, 1)
    found = report(log.records, now=moved + 3600)
    assert (found.deadline_jobs, found.deadline_misses) == (2, 1)


def test_a_job_held_before_a_runner_first_saw_it_misses_the_deadline_of_the_day_it_was_listed() -> None:
    """Its first record is the operator's hold: the state has no `since`, and its cycle began when a runner listed
    it, not at every look (the deadline slid to tomorrow: no `missed`, no `status --check` problem)."""
    log = log_records.Log()
    log.add(MONDAY + 3600, "held", "rep", by="op", reason="not yet")
    log.add(MONDAY + 3600 + 5, "listed", jobs=["rep"])
    heuristic = heuristic_of(log, {"id": "rep", "deadline": "06:00"})
    state = heuristic.board.state("rep")
    assert state.since is None and state.override == "hold"
    now = MONDAY + 7 * 3600
    assert heuristic.deadline_of(heuristic.policy.jobs["rep"], state, now) == MONDAY + 6 * 3600
    assert heuristic.missed(now) == [("rep", MONDAY + 6 * 3600)]


def test_a_cycle_triggered_again_before_its_deadline_is_held_to_it_again_in_stats_too() -> None:
    """The first cycle met 06:00; the operator triggers the job again at 05:55, it waits, and the service says the
    new cycle missed 06:00: stats and the report count that miss (they passed over a deadline judged once)."""
    log = log_records.Log()
    due = MONDAY + 6 * 3600
    log.add(MONDAY + 3600, "decided", "x", mode="live", action="start", deadline=due)
    token = log.add(MONDAY + 3600, "claimed", "x", attempt=1, runner="r")
    log.add(MONDAY + 3700, "succeeded", "x", token=token)  # met 06:00
    log.add(due - 300, "triggered", "x", by="op")
    log.add(due - 290, "decided", "x", mode="live", action="hold", deadline=due)
    log.add(due + 2, "decided", "x", mode="live", action="missed", deadline=due)
    history = History()
    history.fold(log.records)
    assert (history.total[DECK].deadlines_met, history.total[DECK].deadlines_missed) == (1, 1)
    found = report(log.records, now=due + 3600)
    assert (found.deadline_jobs, found.deadline_misses) == (2, 1)
