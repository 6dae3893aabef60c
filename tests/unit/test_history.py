"""state/history.py: the hourly fold behind `jobdeck stats`, against counts made by hand."""

from __future__ import annotations

import random
from typing import Any

import log_records
from jobdeck.state.buckets import StoredLines
from jobdeck.state.history import DECK, HOUR, History
from jobdeck.state.outcomes import failure_class
from jobdeck.state.rollups import Histogram
from jobdeck.state.tally import PICODOLLARS, Tally, dollars, quantile
from jobdeck.state.timeline import Timeline


class Log(log_records.Log):
    """The hand-written log, with attempts as these tests write them."""

    def attempt(self, start: float, end: float, job: str, outcome: str, **fields: Any) -> None:
        token = self.add(start, "claimed", job, attempt=1, workspace=fields.pop("workspace", "default"))
        self.add(end, outcome, job, token=token, **fields)


def random_log(seed: int, hours: int = 48) -> Log:
    rng = random.Random(seed)
    log = Log()
    ts = 1_800_000_000.0
    for _ in range(hours * 6):
        job = rng.choice(["a", "b", "c"])
        log.add(ts, "triggered", job, by="op" if rng.random() < 0.3 else None)
        ts += rng.uniform(1, 900)
        outcome = rng.choice(["succeeded", "failed", "interrupted"])
        fields: dict[str, Any] = {"workspace": rng.choice(["w1", "w2"]), "cost": round(rng.random(), 3),
                                  "model": rng.choice(["m1", "m2"]), "usage": {"total_tokens": rng.randrange(99)}}
        if outcome == "failed":
            fields["reason"] = rng.choice(["exit_code", "rate_limit", "idle_timeout", "weird"])
        start = ts
        ts += rng.uniform(1, 1200)
        log.attempt(start, ts, job, outcome, **fields)
        if rng.random() < 0.2:
            log.add(ts, "approved", job, by="op")
    return log


def test_a_window_is_the_sum_of_its_whole_hours_whichever_way_it_is_summed() -> None:
    log = random_log(7)
    history = History()
    history.fold(log.records)
    end = log.records[-1]["ts"]
    span = end - log.records[0]["ts"]
    # hours only; hours to the next day and whole days; the totals less the days and hours before
    for back in (3 * HOUR, 40 * HOUR, span - 3 * HOUR):
        since = end - back
        first = int(since // HOUR) * HOUR  # by hand: the attempts that ended from the window's first hour on
        ended = [r for r in log.records if r["type"] in ("succeeded", "failed", "interrupted") and r["ts"] >= first]
        window = history.window(since)
        assert window[DECK].runs == len(ended)
        assert window[DECK].tokens == sum(r["usage"]["total_tokens"] for r in ended)
        summed = Tally()
        for hour in history.hours_from(int(since // HOUR)):
            summed.merge(history.hour(hour)[DECK])
        assert window[DECK].to_json() == summed.to_json()  # money too: whole picodollars, exact either way


def stored(history: History) -> History:
    """``history`` written as the stats cache writes it and read back."""
    import json

    hours, days = b"".join(history.hours.lines()), b"".join(history.days.lines())
    data = b"{}\n" + hours + days
    state = json.loads(json.dumps(history.state_json()))
    return History.from_json(state, StoredLines(data, 3, 3 + len(hours)), StoredLines(data, 3 + len(hours)))


def test_the_stored_history_folds_on_as_if_it_had_never_been_stored() -> None:
    log = random_log(11)
    cut = len(log.records) // 2
    whole = History()
    whole.fold(log.records)
    resumed = stored(_folded(log.records[:cut]))
    resumed.fold(log.records[cut:])
    again, reference = stored(resumed), stored(whole)
    for level in ("hours", "days"):
        keys = getattr(reference, level).keys_from(0)
        assert len(keys) > 1 and getattr(again, level).keys_from(0) == keys
        for key in keys:
            assert getattr(again, level).stored.get(key) == getattr(reference, level).stored.get(key)
    assert {s: t.to_json() for s, t in resumed.total.items()} == {s: t.to_json() for s, t in whole.total.items()}
    end = log.records[-1]["ts"]
    for back in (5 * HOUR, 30 * HOUR, end - log.records[0]["ts"] - 5 * HOUR):  # read back from what was stored
        assert {s: t.to_json() for s, t in again.window(end - back).items()} \
            == {s: t.to_json() for s, t in whole.window(end - back).items()}


def _folded(records: list[dict[str, Any]]) -> History:
    history = History()
    history.fold(records)
    return history


def test_a_stale_token_and_an_attempt_that_never_ran_are_not_runs() -> None:
    log = Log()
    token = log.add(0.0, "claimed", "a", attempt=1)
    log.add(5.0, "failed", "a", token=token + 100, reason="exit_code")  # refused by the machine
    log.add(6.0, "failed", "a", token=token, reason="not_started", retry_at=9.0)
    history = History()
    history.fold(log.records)
    assert history.total == {} and history.hours_from(0) == []


def test_a_scorers_call_is_spend_on_its_model() -> None:
    history = History()
    history.fold([{"seq": 1, "ts": 7200.0, "type": "scored", "cost": 0.2, "model": "judge",
                   "usage": {"total_tokens": 40}}])
    spent = 2 * PICODOLLARS // 10
    assert history.hour(2)[DECK].models == {"judge": [0, 40, spent]} and history.total[DECK].cost_pico == spent


def test_money_is_whole_picodollars_and_a_cost_that_is_no_number_counts_nothing() -> None:
    log = Log()
    for at, cost in enumerate((0.1, 0.2, float("nan"), float("inf"), True, "0.5", None, 0.0000015)):
        log.attempt(at * 10.0, at * 10.0 + 1, "a", "succeeded", cost=cost, model="m1")
    log.add(200.0, "scored", None, cost=float("inf"), model="judge", usage={"total_tokens": 5})
    history = History()
    history.fold(log.records)
    total = history.total[DECK]
    assert total.cost_pico == 300_001_500_000 and total.models == {"m1": [8, 0, 300_001_500_000]}
    assert dollars(total.cost_pico) == 0.300001 != round(0.1 + 0.2 + 0.0000015, 6)  # as floats: 0.30000150000000003
    taken = Tally.from_json(total.to_json())
    taken.subtract(total)
    assert taken.cost_pico == 0 and taken.models == {}


def test_the_timeline_measures_waits_and_deadlines_as_decisions_report_does() -> None:
    from jobdeck.decide.report import report

    records = [{"type": "triggered", "job": "a", "ts": 10.0},
               {"type": "decided", "job": "a", "ts": 11.0, "deadline": 50.0},
               {"type": "claimed", "job": "a", "ts": 30.0},
               {"type": "succeeded", "job": "a", "ts": 60.0},
               {"type": "failed", "job": "b", "ts": 70.0, "retry_at": 80.0},
               {"type": "decided", "job": "b", "ts": 71.0, "deadline": 200.0},
               {"type": "claimed", "job": "b", "ts": 90.0},
               {"type": "succeeded", "job": "b", "ts": 100.0}]
    folded = report(records)
    assert folded.waits == [20.0, 20.0] and folded.deadline_jobs == 2 and folded.deadline_misses == 1
    timeline = Timeline()
    assert timeline.enters_backlog(records[0]) and timeline.claimed("a", 30.0) == 20.0
    assert timeline.decided(records[1]) == 50.0 and timeline.succeeded("a", 60.0) == (50.0, False)


def test_failure_reasons_as_the_runner_and_the_agents_record_them_fall_in_the_issues_classes() -> None:
    recorded = {"exit_code": "exit", "signal": "exit", "idle_timeout": "idle_timeout", "hard_timeout": "hard_timeout",
                "invalid_output": "invalid_output", "auth": "provider_auth", "rate_limit": "provider_rate_limit",
                "server_error": "provider_server", "connection": "provider_server", "runner_error": "other"}
    assert {reason: failure_class(reason) for reason in recorded} == recorded
    tally = Tally(runs=3, outcomes={"failed": 2, "interrupted": 1}, reasons={"exit_code": 1, "signal": 1})
    assert tally.failures_by_class() == {"exit": 2, "interrupted": 1}


def test_a_deadline_is_missed_once_its_time_passes_without_a_success() -> None:
    timeline = Timeline()
    timeline.decided({"job": "late", "deadline": 100.0})
    timeline.decided({"job": "never", "deadline": 300.0})
    timeline.decided({"job": "ontime", "deadline": 1000.0})
    assert timeline.passed(100.0) == []  # a success at the deadline itself is in time
    assert timeline.succeeded("ontime", 50.0) == (1000.0, True)
    assert timeline.passed(200.0) == [("late", 100.0)] and timeline.passed(250.0) == []
    assert timeline.overdue(400.0) == [("never", 300.0)] == timeline.overdue(400.0)  # a reader's view: kept
    again = Timeline.from_json(timeline.to_json())
    assert again.passed(301.0) == [("never", 300.0)] and again.deadline_of == {}


def test_a_deadline_named_again_after_it_passed_is_one_miss_and_a_late_success_says_when() -> None:
    from jobdeck.decide.report import report

    # at risk before its deadline, started after it (the start names it again), done late; then the next cycle
    records = [{"seq": 1, "ts": 10.0, "type": "decided", "job": "report", "action": "at_risk", "deadline": 100.0},
               {"seq": 2, "ts": 150.0, "type": "decided", "job": "report", "action": "start", "deadline": 100.0},
               {"seq": 3, "ts": 150.0, "type": "claimed", "job": "report", "runner": "r"},
               {"seq": 4, "ts": 160.0, "type": "succeeded", "job": "report", "token": 3},
               {"seq": 5, "ts": 170.0, "type": "decided", "job": "report", "action": "start", "deadline": 100.0},
               {"seq": 6, "ts": 900.0, "type": "decided", "job": "report", "action": "start", "deadline": 1000.0},
               {"seq": 7, "ts": 900.0, "type": "claimed", "job": "report", "runner": "r"},
               {"seq": 8, "ts": 950.0, "type": "succeeded", "job": "report", "token": 7}]
    folded = report(records, now=2000.0)
    assert (folded.deadline_jobs, folded.deadline_misses) == (2, 1)
    assert folded.missed == [{"job": "report", "deadline": 100.0, "done": 160.0}]
    history = History()
    history.fold(records)
    tally = history.total["job:report"]
    assert (tally.deadlines_met, tally.deadlines_missed) == (1, 1)
    # resumed from a snapshot between the miss and the start that names the deadline again: still one miss
    timeline = Timeline()
    timeline.decided(records[0])
    assert timeline.passed(120.0) == [("report", 100.0)]
    resumed = Timeline.from_json(timeline.to_json())
    assert resumed.decided(records[1]) is None and resumed.late_success("report") == 100.0
    assert resumed.passed(10_000.0) == [] and resumed.succeeded("report", 160.0) is None
    older = {"entered": {}, "deadline_of": {"report": 100.0}, "runner_from": {}}  # written before judged was kept
    assert Timeline.from_json(older).passed(120.0) == [("report", 100.0)]


def test_a_plain_job_waits_from_its_runners_first_claim() -> None:
    history = History()
    history.fold([{"seq": 1, "ts": 10.0, "type": "claimed", "job": "a", "runner": "r1"},
                  {"seq": 2, "ts": 14.0, "type": "succeeded", "job": "a", "token": 1},
                  {"seq": 3, "ts": 14.0, "type": "claimed", "job": "b", "runner": "r1"},
                  {"seq": 4, "ts": 15.0, "type": "triggered", "job": "c"},
                  {"seq": 5, "ts": 20.0, "type": "claimed", "job": "c", "runner": "r2"}])
    waits = {job: history.total[f"job:{job}"].wait.quantile(0.5) for job in "abc"}
    assert waits["a"] < 0.01 and abs(waits["b"] - 4.0) < 0.4 and abs(waits["c"] - 5.0) < 0.5, waits


def test_a_wait_begins_when_the_operator_lets_the_job_go() -> None:
    """A job paused, held or awaiting approval is not waiting for a slot: its wait begins at the resume, the
    release of the hold or the approval, if that comes after it became ready; a release of a pin lifts nothing."""
    from jobdeck.decide.report import report

    log = Log()
    log.add(0.0, "claimed", "first", runner="r1")  # the runner's first claim: where a plain job's wait begins
    log.add(100.0, "resumed", "paused", by="op")  # paused in jobs.json: no record of the pause
    log.add(102.0, "claimed", "paused", runner="r1")
    log.add(200.0, "held", "held", by="op")
    log.add(300.0, "released", "held", by="op")
    log.add(301.0, "claimed", "held", runner="r1", ready=50.0)
    log.add(400.0, "approved", "risky", by="op")
    log.add(404.0, "claimed", "risky", runner="r1", ready=10.0)
    log.add(500.0, "pinned", "pinned", by="op")
    log.add(600.0, "released", "pinned", by="op")  # unpinned: back in line, still waiting since it became ready
    log.add(650.0, "claimed", "pinned", runner="r1", ready=450.0)
    log.add(700.0, "resumed", "later", by="op")  # resumed before it entered the backlog: its entry counts
    log.add(750.0, "triggered", "later")
    log.add(755.0, "claimed", "later", runner="r1")
    log.add(800.0, "claimed", "plain", runner="r1")  # nothing lifted: from the runner's first claim, as before
    expected = {"first": 0.0, "paused": 2.0, "held": 1.0, "risky": 4.0, "pinned": 200.0, "later": 5.0,
                "plain": 800.0}
    assert sorted(report(log.records).waits) == sorted(expected.values())
    history = History()
    history.fold(log.records)
    for job, wait in expected.items():
        low, high = Histogram.bounds(Histogram.bucket(wait))
        assert low <= quantile(history.total[f"job:{job}"].wait, 0.5) <= high, job
    half = History()
    half.fold(log.records[:4])  # stored between the hold and its release
    resumed = stored(half)
    resumed.fold(log.records[4:])
    assert {s: t.to_json() for s, t in resumed.total.items()} == {s: t.to_json() for s, t in history.total.items()}


def test_an_operators_record_counts_in_its_jobs_workspace_before_its_first_claim_too() -> None:
    """Approved before its first run, pinned, rejected or retried with no attempt: the record names no workspace.
    It counts in the workspace the job's next claim names, in its own hour; one never claimed, in the workspace
    jobs.json gives the job when the history is read."""
    log = Log()
    log.add(0.0, "approved", "publish", by="op")
    log.add(10.0, "pinned", "publish", by="op")
    log.add(20.0, "rejected", "risky", by="op")
    log.add(30.0, "retried", "risky", by="op")
    log.add(3 * HOUR, "claimed", "publish", attempt=1, workspace="w1", runner="r")
    log.add(3 * HOUR + 5, "cancelled", "publish", by="op")  # its attempt names the workspace
    whole = History()
    whole.fold(log.records)
    part = History()
    part.fold(log.records[:4])
    resumed = stored(part)  # stored before the claim that places the first records
    resumed.fold(log.records[4:])
    for history in (whole, stored(resumed)):
        assert history.hour(0)["workspace:w1"].interventions == {"approved": 1, "pinned": 1}
        assert history.total["workspace:w1"].interventions == {"approved": 1, "pinned": 1, "cancelled": 1}
        assert "workspace:w2" not in history.window(None)  # jobs.json not asked: risky's place is not known
        history.declared = {"risky": "w2", "publish": "w9"}  # publish's claim said where it ran
        for since in (None, 0.0):
            window = history.window(since, 4 * HOUR)
            assert window["workspace:w2"].interventions == {"rejected": 1, "retried": 1}
            assert window["workspace:w1"].interventions == {"approved": 1, "pinned": 1, "cancelled": 1}
            assert "workspace:w9" not in window
        assert "workspace:w2" not in history.window(HOUR, 4 * HOUR)  # both records came before the window
        assert history.total[DECK].interventions \
            == {"approved": 1, "pinned": 1, "cancelled": 1, "rejected": 1, "retried": 1}
        assert "workspace:w2" not in history.total  # the fold's own tallies keep only what the log says


def test_one_wait_is_its_own_p50_and_p95_and_each_quantile_is_within_the_bucket_of_its_rank() -> None:
    from jobdeck.decide.report import quantile as exact

    one = Histogram()
    one.add(19.5)
    assert quantile(one, 0.5) == quantile(one, 0.95) == quantile(one, 0.0)
    low, high = Histogram.bounds(Histogram.bucket(19.5))
    assert low < quantile(one, 0.5) < high
    for waits, histogram in log_records.random_waits(seed=3):
        for q in (0.5, 0.9, 0.95):
            truth = exact(waits, q)
            assert truth is not None
            low, high = Histogram.bounds(Histogram.bucket(truth))
            assert low <= quantile(histogram, q) <= high, (sorted(waits), q, truth)
    assert quantile(Histogram(), 0.5) is None
