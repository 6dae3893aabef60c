"""state/history.py: the hourly fold behind `jobdeck stats`, against counts made by hand."""

from __future__ import annotations

import random
from typing import Any

from jobdeck.state.history import DECK, HOUR, History, HourLines
from jobdeck.state.tally import Tally, failure_class
from jobdeck.state.timeline import Timeline


class Log:
    """Records as the log holds them: seq, ts, type, job and the event's fields."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, ts: float, kind: str, job: str | None = None, **fields: Any) -> int:
        record = {"seq": len(self.records) + 1, "ts": ts, "type": kind, **fields}
        if job is not None:
            record["job"] = job
        self.records.append(record)
        return record["seq"]

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
    for back in (3 * HOUR, span - 3 * HOUR):  # fewer hours inside than before it (summed), then more (subtracted)
        since = end - back
        first = int(since // HOUR) * HOUR  # by hand: the attempts that ended from the window's first hour on
        ended = [r for r in log.records if r["type"] in ("succeeded", "failed", "interrupted") and r["ts"] >= first]
        window = history.window(since)
        assert window[DECK].runs == len(ended)
        assert window[DECK].tokens == sum(r["usage"]["total_tokens"] for r in ended)
        summed = Tally()
        for hour in history.hours_from(int(since // HOUR)):
            summed.merge(history.hour(hour)[DECK])
        assert window[DECK].to_json() | {"cost": 0} == summed.to_json() | {"cost": 0}
        assert abs(window[DECK].cost - summed.cost) < 1e-6


def test_the_stored_history_folds_on_as_if_it_had_never_been_stored() -> None:
    log = random_log(11)
    cut = len(log.records) // 2
    whole = History()
    whole.fold(log.records)
    first = History()
    first.fold(log.records[:cut])
    data = b"".join([b"{}\n", *first.hour_lines()])
    resumed = History.from_json(_round_trip(first), HourLines(data, 3))
    resumed.fold(log.records[cut:])
    again = HourLines(b"".join([b"{}\n", *resumed.hour_lines()]), 3)
    assert again.keys_from(None) == whole.hours_from(0)
    for hour in whole.hours_from(0):
        assert again.get(hour) == HourLines(b"".join([b"{}\n", *whole.hour_lines()]), 3).get(hour)
    assert {s: t.to_json() for s, t in resumed.total.items()} == {s: t.to_json() for s, t in whole.total.items()}


def _round_trip(history: History) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(history.state_json()))


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
    assert history.hour(2)[DECK].models == {"judge": [0, 40, 0.2]} and history.total[DECK].cost == 0.2


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
