"""The heuristic's ranking, gates and reasons, on hand-built boards with an injected clock."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from jobdeck.decide.heuristic import Heuristic
from jobdeck.decide.outlook import Outlook, outlook_of
from jobdeck.decide.policy import policy_of
from jobdeck.state.board import Board
from jobdeck.state.machine import Attempt, JobState, Status
from jobdeck.state.spec import Spec

# 2026-12-06 04:00 UTC: two hours before a 06:00 UTC deadline.
NOW = datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc).timestamp()


def spec(*jobs: dict[str, Any], **decide: Any) -> Spec:
    return Spec.model_validate({"decide": {"mode": "live", **decide},
                                "agents": {"llm": {"type": "llm", "model": "openai/m"}},
                                "jobs": [job if "model" in job else {"command": ["true"], **job} for job in jobs]})


def board(*states: JobState, history: dict[str, list[tuple[float, str, float]]] | None = None) -> Board:
    """A board with these states and, per job, ended attempts as (duration, outcome, cost)."""
    found = Board({state.job: state for state in states})
    for job, runs in (history or {}).items():
        for n, (seconds, outcome, cost) in enumerate(runs, 1):
            found.rollups.add(job, Attempt(n, n, "r", "default", NOW - 86400, NOW - 86400 + seconds, outcome,
                                           cost=cost or None))
    return found


def ready(job: str, since: float = NOW - 60, **fields: Any) -> JobState:
    return JobState(job, Status.BACKLOG, since=since, **fields)


def test_a_job_with_a_close_deadline_goes_ahead_of_higher_priority_work_and_says_why() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "adhoc", "priority": 5}, {"id": "report", "deadline": "06:00"})),
                          board(ready("adhoc"), ready("report"), history={"report": [(6000, "succeeded", 0)] * 5}))
    ranked = heuristic.rank(["adhoc", "report"], Outlook(NOW))
    assert [v.job for v in ranked] == ["report", "adhoc"]
    reasons = ranked[0].reasons
    assert reasons[0].startswith("deadline 06:00 UTC, p90 duration 1h") and "slack" in reasons[0]
    assert ranked[0].rank == 1 and ranked[0].score > ranked[1].score


def test_a_far_deadline_leaves_the_operators_order_alone_until_its_slack_is_within_the_horizon() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "adhoc", "priority": 5}, {"id": "report", "deadline": "06:00"})),
                          board(ready("adhoc"), ready("report"), history={"report": [(60, "succeeded", 0)] * 5}))
    assert [v.job for v in heuristic.rank(["adhoc", "report"], Outlook(NOW))] == ["adhoc", "report"]
    key, _, _, change = heuristic.order("report", heuristic.board.state("report"), NOW)
    slack = heuristic.slack("report", NOW)
    assert slack is not None and change == pytest.approx(slack.latest_start - 3600)
    later = change + 1
    assert [v.job for v in heuristic.rank(["adhoc", "report"], Outlook(later))] == ["report", "adhoc"]


def test_a_job_feeding_a_deadline_inherits_it_through_the_critical_path() -> None:
    heuristic = Heuristic(
        policy_of(spec({"id": "other", "priority": 1}, {"id": "fetch"},
                       {"id": "report", "depends_on": ["fetch"], "deadline": "06:00"})),
        board(ready("other"), ready("fetch"), ready("report"),
              history={"fetch": [(3000, "succeeded", 0)] * 3, "report": [(3000, "succeeded", 0)] * 3}))
    ranked = heuristic.rank(["other", "fetch"], Outlook(NOW))
    assert [v.job for v in ranked] == ["fetch", "other"]
    assert ranked[0].reasons[0].startswith("feeds report (deadline 06:00 UTC): critical path p90 1h")


def test_a_flaky_job_keeps_time_for_its_retries() -> None:
    runs = [(600, "succeeded", 0)] * 2 + [(600, "failed", 0)] * 2
    steady = Heuristic(policy_of(spec({"id": "j", "deadline": "06:00", "retry": {"max_attempts": 3}})),
                       board(ready("j"), history={"j": runs[:2]}))
    flaky = Heuristic(policy_of(spec({"id": "j", "deadline": "06:00", "retry": {"max_attempts": 3}})),
                      board(ready("j"), history={"j": runs}))
    assert flaky.estimate("j").margin == pytest.approx(flaky.estimate("j").p90)  # 50% failures: one retry
    assert flaky.slack("j", NOW).latest_start < steady.slack("j", NOW).latest_start  # type: ignore[union-attr]
    assert any("fails 50% of runs" in r for r in flaky.order("j", flaky.board.state("j"), NOW)[2])


def test_max_wait_is_a_hard_bound_on_waiting() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "urgent", "deadline": "04:10"}, {"id": "old", "max_wait": "1h"},
                                         {"id": "eager", "priority": 9})),
                          board(ready("urgent"), ready("old", since=NOW - 1800), ready("eager")))
    # urgent must start by 04:05, old by 04:30: earliest latest start first, both ahead of priority
    ranked = heuristic.rank(["urgent", "old", "eager"], Outlook(NOW))
    assert [v.job for v in ranked] == ["urgent", "old", "eager"]
    assert ranked[1].reasons[0] == "must start by 04:30 UTC (max_wait 1h00m), in 30m00s"
    _, _, _, change = heuristic.order("old", heuristic.board.state("old"), NOW)
    assert change == pytest.approx(NOW + 1800)
    ranked = heuristic.rank(["urgent", "old", "eager"], Outlook(NOW + 1800))
    assert [v.job for v in ranked] == ["old", "urgent", "eager"]
    assert "past max_wait 1h" in ranked[0].reasons[0]


def test_max_wait_counts_from_when_the_job_became_ready_not_from_its_wait_on_a_dependency() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "up"}, {"id": "down", "depends_on": ["up"], "max_wait": "30m"},
                                         {"id": "late", "max_wait": "30m"})),
                          board(JobState("up", Status.DONE, since=NOW - 600),  # finished ten minutes ago
                                ready("down", since=NOW - 3 * 3600),  # in the backlog for three hours
                                ready("late", since=NOW - 20 * 60, not_before=NOW - 300)))
    assert heuristic.waiting_since("down", heuristic.board.state("down"), NOW) == NOW - 600
    assert heuristic.waiting_since("late", heuristic.board.state("late"), NOW) == NOW - 300  # its retry came due
    key, _, reasons, change = heuristic.order("down", heuristic.board.state("down"), NOW)
    assert reasons[0] == "must start by 04:20 UTC (max_wait 30m00s), in 20m00s"  # not "past max_wait: starts first"
    assert change == pytest.approx(NOW + 1200)
    ranked = heuristic.rank(["down", "late"], Outlook(NOW))
    assert [v.job for v in ranked] == ["down", "late"]  # ready ten minutes against five


def test_far_from_any_deadline_the_service_keeps_the_operators_order() -> None:
    # y is first in jobs.json and was run by hand before (it has a since); x was never seen (none), so your
    # order (runner/selection.py: priority, since or 0, place) starts x first, and so must the service
    up = JobState("up", Status.DONE, since=NOW - 30)
    heuristic = Heuristic(policy_of(spec({"id": "y"}, {"id": "x"}, {"id": "up"}, {"id": "z", "depends_on": ["up"]})),
                          board(ready("y", since=NOW - 600), JobState("x", Status.BACKLOG), up,
                                ready("z", since=NOW - 3600)))
    assert [v.job for v in heuristic.rank(["y", "x", "z"], Outlook(NOW))] == ["x", "z", "y"]


def test_no_history_uses_the_stated_defaults_and_says_so() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "ask", "agent": "llm"}, default_duration="10m", default_cost=0.3)),
                          board(ready("ask")))
    [verdict] = heuristic.rank(["ask"], Outlook(NOW))
    assert "no history: assumed 10m00s, $0.30 (decide.default_cost)" in verdict.reasons
    failing = Heuristic(policy_of(spec({"id": "dep", "retry": {"max_attempts": 3}})),
                        board(ready("dep"), history={"dep": [(0.002, "failed", 0.0)]}))
    [verdict] = failing.rank(["dep"], Outlook(NOW))
    assert verdict.reasons[:2] == ("no successful run yet: assumed 5m00s", "fails 100% of runs: 10m00s kept for retries")


def test_gates_defer_for_a_closed_window_and_a_cooling_model() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "night", "window": "22:00-03:00"}, {"id": "ask", "agent": "llm"})),
                          board(ready("night"), ready("ask")))
    night, ask = (heuristic.verdict(j, heuristic.board.state(j), Outlook(NOW, cooldowns={"openai/m": (NOW + 90, "rate_limit")}))
                  for j in ("night", "ask"))
    assert (night.action, night.until) == ("defer", datetime(2026, 12, 6, 22, 0, tzinfo=timezone.utc).timestamp())
    assert night.reasons[0].startswith("window 22:00-03:00 (UTC) opens at 22:00, in 18h00m")
    assert (ask.action, ask.until) == ("defer", NOW + 90)
    assert "cools down" in ask.reasons[0] and "rate_limit" in ask.reasons[0]
    inside = Outlook(datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc).timestamp())
    assert heuristic.verdict("night", heuristic.board.state("night"), inside).action == "start"


def test_a_window_looked_at_in_its_last_closed_second_opens_that_night_not_the_next() -> None:
    from jobdeck.decide.times import window_state

    tonight = datetime(2026, 12, 8, 22, 0, tzinfo=timezone.utc).timestamp()
    assert window_state((22, 0), (6, 0), "UTC", tonight - 0.4) == (False, tonight)
    assert window_state((22, 0), (6, 0), "UTC", tonight) == (True, tonight + 8 * 3600)
    assert window_state((22, 0), (6, 0), "UTC", tonight + 8 * 3600 - 0.4) == (True, tonight + 8 * 3600)
    assert window_state((22, 0), (6, 0), "UTC", tonight + 8 * 3600) == (False, tonight + 86400)


def test_the_budget_holds_what_would_overspend_counting_what_starts_before_it() -> None:
    history = {j: [(60, "succeeded", 0.4)] * 2 for j in ("a", "b", "c")}
    heuristic = Heuristic(policy_of(spec({"id": "a", "agent": "llm"}, {"id": "b", "agent": "llm"},
                                         {"id": "c", "agent": "llm"}, {"id": "free"}, budget={"daily": 1.0})),
                          board(*(ready(j) for j in "abc"), ready("free"), history=history))
    ranked = heuristic.rank(["a", "b", "c", "free"], Outlook(NOW, spent_today=0.1))
    assert [(v.job, v.action) for v in ranked] == [("a", "start"), ("b", "start"), ("free", "start"), ("c", "hold")]
    held = ranked[-1]
    assert held.needs == "budget" and held.until is not None
    assert held.reasons[0] == "budget: $0.10 spent today + $0.80 running or starting first + up to $0.40 for this job > $1.00 a day"


def test_once_the_days_budget_is_spent_an_llm_job_with_no_estimate_is_held_a_shell_job_is_not() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "ask", "agent": "llm"}, {"id": "sh"}, budget={"daily": 1.0})),
                          board(ready("ask"), ready("sh")))
    assert heuristic.estimate("ask").cost_high == 0.0  # default_cost 0, no history
    spent = Outlook(NOW, spent_today=1.0)
    ask, sh = (heuristic.verdict(j, heuristic.board.state(j), spent) for j in ("ask", "sh"))
    assert (ask.action, ask.needs) == ("hold", "budget")
    assert ask.reasons[0] == ("budget: $1.00 spent today + $0.00 running or starting first >= $1.00 a day, "
                              "and it calls openai/m")
    assert sh.action == "start"
    assert heuristic.verdict("ask", heuristic.board.state("ask"), Outlook(NOW, spent_today=0.99)).action == "start"


def test_a_job_over_the_per_job_budget_is_held() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "big", "agent": "llm"}, budget={"per_job": 0.25})),
                          board(ready("big"), history={"big": [(60, "succeeded", 0.5)]}))
    verdict = heuristic.verdict("big", heuristic.board.state("big"), Outlook(NOW))
    assert (verdict.action, verdict.needs) == ("hold", "budget")
    assert "it may cost $0.50, over the per-job budget $0.25" in verdict.reasons[0]


def test_review_capacity_holds_only_jobs_whose_output_goes_to_review() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "checked", "risk": "medium"}, {"id": "plain"}, review_capacity=2)),
                          board(ready("checked"), ready("plain"), JobState("x", Status.REVIEW),
                                JobState("y", Status.REVIEW)))
    outlook = outlook_of(heuristic.board, NOW, {})
    assert outlook.review_waiting == 2
    verdicts = {v.job: v for v in heuristic.rank(["checked", "plain"], outlook)}
    assert (verdicts["checked"].action, verdicts["checked"].needs) == ("hold", "reviews")
    assert verdicts["plain"].action == "start"


def test_the_operator_wins_a_pin_skips_the_gates_and_goes_first_a_hold_holds() -> None:
    heuristic = Heuristic(policy_of(spec({"id": "urgent", "deadline": "04:10"}, {"id": "night", "window": "22:00-23:00"},
                                         {"id": "kept"})),
                          board(ready("urgent"), ready("night", override="pin", override_at=NOW - 5),
                                ready("kept", override="hold", override_at=NOW - 5)))
    ranked = heuristic.rank(["urgent", "night", "kept"], Outlook(NOW))
    assert [(v.job, v.action) for v in ranked] == [("night", "start"), ("urgent", "start"), ("kept", "hold")]
    assert ranked[0].reasons[0] == "pinned by the operator" and ranked[-1].needs == "release"


def test_the_policy_digest_follows_what_shapes_decisions_only() -> None:
    base = policy_of(spec({"id": "a", "deadline": "06:00"})).digest
    assert policy_of(spec({"id": "a", "deadline": "06:00", "title": "A"})).digest == base
    assert policy_of(spec({"id": "a", "deadline": "06:30"})).digest != base
    assert policy_of(spec({"id": "a", "deadline": "06:00"}, budget={"daily": 3})).digest != base
    # the mode decides whether a verdict acts, not what it is: shadow's digest is the one that goes live
    assert policy_of(spec({"id": "a", "deadline": "06:00"}, mode="shadow")).digest == base


def test_a_deadline_of_each_cycle_is_the_first_after_the_cycle_began_in_the_jobs_time_zone() -> None:
    policy = policy_of(spec({"id": "j", "deadline": "06:00", "timezone": "Europe/Paris"}))
    heuristic = Heuristic(policy, board(ready("j")))
    # 04:00 UTC is 05:00 in Paris: the deadline is 06:00 Paris, 05:00 UTC, an hour away
    assert heuristic.deadline_of(policy.jobs["j"], ready("j", since=NOW), NOW) == NOW + 3600
    began_after = ready("j", since=NOW + 7200)
    assert heuristic.deadline_of(policy.jobs["j"], began_after, NOW) == NOW + 3600 + 86400


def test_routing_goes_past_a_cooling_model_and_to_the_cheapest_when_the_budget_runs_low() -> None:
    job = {"id": "ask", "model": "openai/big", "fallbacks": ["openai/small", "openai/mid"], "prompt": "hi"}
    history = board(ready("ask"))
    for model, cost in (("openai/big", 0.05), ("openai/small", 0.004), ("openai/mid", 0.02)):
        history.rollups.models[model] = (10, cost * 10)
    heuristic = Heuristic(policy_of(spec(job, budget={"daily": 1.0})), history)
    assert heuristic.route("ask", Outlook(NOW, spent_today=0.1)) == (None, None)  # the written order
    cooling = Outlook(NOW, spent_today=0.1, cooldowns={"openai/big": (NOW + 120, "rate_limit")})
    assert heuristic.route("ask", cooling) == ("openai/small", "openai/big cools down until 04:02 UTC: routed to "
                                                               "openai/small")
    model, why = heuristic.route("ask", Outlook(NOW, spent_today=0.85))
    assert model == "openai/small"
    assert why == "budget 85% used: routed to openai/small, $0.004 a run against $0.05 on openai/big"
    everything = {m: (NOW + 60, "rate_limit") for m in ("openai/big", "openai/small", "openai/mid")}
    verdict = heuristic.verdict("ask", heuristic.board.state("ask"), Outlook(NOW, cooldowns=everything))
    assert verdict.action == "defer" and verdict.reasons[0].startswith("all 3 of its models cool down until")
    assert heuristic.verdict("ask", heuristic.board.state("ask"), cooling).action == "start"


def test_a_deadline_is_at_risk_when_the_rest_of_its_path_ends_after_it() -> None:
    spec_ = spec({"id": "fetch"}, {"id": "report", "depends_on": ["fetch"], "deadline": "04:15"})
    history = {"fetch": [(600, "succeeded", 0)] * 3, "report": [(600, "succeeded", 0)] * 3}
    heuristic = Heuristic(policy_of(spec_), board(ready("fetch"), ready("report"), history=history))
    deadline, why = heuristic.at_risk("report", NOW) or (0.0, "")
    # two ~10-minute jobs (p90 9m56s each, to the histogram's bucket) left, 15 minutes to go
    assert deadline == NOW + 900 and why.startswith("deadline 04:15 UTC at risk: what is left of its path takes 19m")
    running = JobState("fetch", Status.RUNNING, attempts=(Attempt(1, 1, "r", "default", NOW - 500),), since=NOW - 500)
    heuristic = Heuristic(policy_of(spec_), board(running, ready("report"), history=history))
    assert heuristic.at_risk("report", NOW) is None  # fetch is mostly done: its last ~1.5m, then report's ~10m
    assert heuristic.remaining("report", NOW) == pytest.approx(heuristic.estimate("fetch").p90 - 500
                                                               + heuristic.estimate("report").p90)
    late = Heuristic(policy_of(spec_), board(ready("fetch"), ready("report"), history=history))
    _, why = late.at_risk("report", NOW + 1200) or (0.0, "")  # 04:20: the 04:15 deadline is gone already
    assert why.startswith("deadline 04:15 UTC missed 5m00s ago, not done: at p90 it ends about 04:39"), why


def test_a_scheduled_jobs_deadline_is_its_cycles_even_after_a_retry_late_in_it() -> None:
    policy = policy_of(spec({"id": "j", "deadline": "06:00", "schedule": "0 1 * * *"}))
    heuristic = Heuristic(policy, board(ready("j")))
    fired = NOW - 3 * 3600  # 01:00
    retried_late = ready("j", since=NOW + 2.5 * 3600, last_fire=fired, cycle=1)  # requeued at 06:30, after it
    assert heuristic.deadline_of(policy.jobs["j"], retried_late, NOW + 2.5 * 3600) == NOW + 2 * 3600  # 06:00 today


def test_a_job_that_waits_for_its_first_fire_has_no_deadline_running_yet() -> None:
    policy = policy_of(spec({"id": "nightly", "deadline": "04:05", "schedule": "0 23 * * *"},
                            {"id": "inbox", "deadline": "04:05", "trigger": "*.csv"}))
    armed = board(ready("nightly", since=NOW - 60), ready("inbox", since=NOW - 60))
    heuristic = Heuristic(policy, armed)
    for job in ("nightly", "inbox"):
        assert heuristic.deadline_of(policy.jobs[job], armed.state(job), NOW) is None
        assert heuristic.at_risk(job, NOW) is None
    fired = JobState("nightly", Status.BACKLOG, since=NOW - 60, cycle=1, last_fire=NOW - 60)
    assert heuristic.deadline_of(policy.jobs["nightly"], fired, NOW) == NOW + 300


def test_a_job_with_no_event_waits_from_when_a_runner_listed_it_not_from_now() -> None:
    policy = policy_of(spec({"id": "tidy", "max_wait": "3h"}, {"id": "report", "deadline": "03:58"}))
    listed = board()
    listed.apply({"type": "listed", "jobs": ["tidy", "report"], "ts": NOW - 2 * 3600, "seq": 1})
    heuristic = Heuristic(policy, listed)
    assert listed.state("tidy").since == NOW - 2 * 3600
    _, _, reasons, _ = heuristic.order("tidy", listed.state("tidy"), NOW)
    assert reasons[0] == "must start by 05:00 UTC (max_wait 3h00m), in 1h00m"
    # listed at 02:00, not run since: today's 03:58 deadline, two minutes gone, not tomorrow's
    assert heuristic.deadline_of(policy.jobs["report"], listed.state("report"), NOW) == NOW - 120
    assert heuristic.at_risk("report", NOW) is not None


def test_a_daily_deadline_is_the_first_after_the_trigger_even_once_the_job_was_claimed_or_requeued() -> None:
    policy = policy_of(spec({"id": "report", "deadline": "03:58"}))
    found = board()
    found.apply({"type": "triggered", "job": "report", "ts": NOW - 3600, "seq": 1})  # 03:00
    found.apply({"type": "claimed", "job": "report", "attempt": 1, "runner": "r", "ts": NOW - 60, "seq": 2})
    heuristic = Heuristic(policy, found)
    assert heuristic.deadline_of(policy.jobs["report"], found.state("report"), NOW) == NOW - 120
    assert heuristic.at_risk("report", NOW) is not None


def test_the_budget_compares_money_exactly_as_the_tally_keeps_it() -> None:
    # two $0.021 calls as a model's price gives them use a $0.042 budget, though their float sum is below it
    spent = Outlook(NOW, spent_today=0.020999999999999998 + 0.020999999999999998)
    heuristic = Heuristic(policy_of(spec({"id": "ask", "agent": "llm"}, budget={"daily": 0.042})), board(ready("ask")))
    ask = heuristic.verdict("ask", heuristic.board.state("ask"), spent)
    assert (ask.action, ask.needs) == ("hold", "budget")
    assert ask.reasons[0] == ("budget: $0.042 spent today + $0.00 running or starting first >= $0.042 a day, "
                              "and it calls openai/m")
    # and $0.10 + $0.20 fits in $0.30, a day's or a job's, though 0.1 + 0.2 > 0.3 in floats
    fits = Heuristic(policy_of(spec({"id": "b", "agent": "llm"}, budget={"daily": 0.3, "per_job": 0.3})),
                     board(ready("b"), history={"b": [(60, "succeeded", 0.2)]}))
    assert fits.verdict("b", fits.board.state("b"), Outlook(NOW, spent_today=0.1)).action == "start"
    dear = Heuristic(policy_of(spec({"id": "b", "agent": "llm"}, budget={"per_job": 0.3})),
                     board(ready("b"), history={"b": [(60, "succeeded", 0.1 + 0.2)]}))
    assert dear.verdict("b", dear.board.state("b"), Outlook(NOW)).action == "start"


def test_a_job_with_no_history_is_given_its_models_mean_cost_and_says_so() -> None:
    found = board(ready("c4"))
    for job in ("c1", "c2"):  # two other jobs ran on the same model, $0.021 each
        found.rollups.add(job, Attempt(1, 1, "r", "default", NOW - 600, NOW - 540, "succeeded",
                                       cost=0.020999999999999998), "openai/m")
    heuristic = Heuristic(policy_of(spec({"id": "c4", "agent": "llm"}, budget={"daily": 0.042})), found)
    estimate = heuristic.estimate("c4")
    assert (estimate.cost, estimate.cost_high, estimate.cost_model) == (0.020999999999999998,) * 2 + ("openai/m",)
    spent = Outlook(NOW, spent_today=found.rollups.cost_since(NOW - 3600))
    held = heuristic.verdict("c4", found.state("c4"), spent)
    assert (held.action, held.needs) == ("hold", "budget")
    assert held.reasons[0] == ("budget: $0.042 spent today + $0.00 running or starting first + up to $0.021 for this "
                               "job > $0.042 a day")
    assert "no history: assumed 5m00s, $0.021, openai/m's mean" in held.reasons
    roomy = heuristic.verdict("c4", found.state("c4"), Outlook(NOW, spent_today=0.021))
    assert roomy.action == "start"  # $0.021 + $0.021 fits in $0.042
    # the estimate follows the model's history as other jobs end on it (it is cached until they do)
    found.rollups.add("c3", Attempt(1, 1, "r", "default", NOW - 300, NOW - 240, "succeeded", cost=0.051), "openai/m")
    assert heuristic.estimate("c4").cost == pytest.approx(0.031)
    # default_cost stays the last resort: a model whose runs recorded no cost (a mock), or none at all
    mock = board(ready("c4"))
    mock.rollups.add("c1", Attempt(1, 1, "r", "default", NOW - 600, NOW - 540, "succeeded"), "openai/m")
    for history in (mock, board(ready("c4"))):
        fallback = Heuristic(policy_of(spec({"id": "c4", "agent": "llm"}, default_cost=0.01)), history)
        assert (fallback.estimate("c4").cost, fallback.estimate("c4").cost_model) == (0.01, None)
        [verdict] = fallback.rank(["c4"], Outlook(NOW))
        assert "no history: assumed 5m00s, $0.01 (decide.default_cost)" in verdict.reasons


def test_in_off_mode_a_never_run_jobs_daily_deadline_is_todays_so_it_is_missed_once_it_passes() -> None:
    # nothing lists jobs in off mode: the job's cycle is the day it is in, not one that begins whenever it is asked
    the_spec = spec({"id": "offdl2", "command": ["echo", "x"], "deadline": "04:08", "paused": True}, mode="off")
    heuristic = Heuristic(policy_of(the_spec), board())
    job, due = heuristic.policy.jobs["offdl2"], NOW + 480
    before, after = NOW + 440, NOW + 488  # 04:07:20, 04:08:08
    assert heuristic.deadline_of(job, heuristic.board.state("offdl2"), before) == due
    assert heuristic.missed(before) == []
    assert heuristic.deadline_of(job, heuristic.board.state("offdl2"), after) == due
    assert heuristic.missed(after) == [("offdl2", due)]
    assert heuristic.at_risk("offdl2", after) == (due, "deadline 04:08 UTC missed 8.0s ago, not done: at p90 it ends "
                                                       "about 04:13, 5m08s late")
    _, _, reasons, _ = heuristic.order("offdl2", heuristic.board.state("offdl2"), after)
    assert reasons[0] == "deadline 04:08 UTC missed 8.0s ago, p90 duration 5m00s, late by 5m08s"
    # the next day is its next cycle, with the next deadline
    tomorrow = datetime(2026, 12, 7, 0, 0, 1, tzinfo=timezone.utc).timestamp()
    assert heuristic.missed(tomorrow) == []
    assert heuristic.deadline_of(job, heuristic.board.state("offdl2"), tomorrow) == due + 86400
    # in every other mode a runner lists such a job as it first sees it: its deadline is the first after that
    shadow = Heuristic(policy_of(spec({"id": "offdl2", "deadline": "04:08", "paused": True}, mode="shadow")), board())
    assert shadow.deadline_of(shadow.policy.jobs["offdl2"], shadow.board.state("offdl2"), after) == due + 86400


def test_a_cooldown_ending_soon_is_said_to_the_second() -> None:
    """"cools down until 13:56 UTC" at 13:56:23, for 13:56:53, read as already over."""
    heuristic = Heuristic(policy_of(spec({"id": "ask", "model": "openai/big", "prompt": "hi"})), board(ready("ask")))
    soon = Outlook(NOW, cooldowns={"openai/big": (NOW + 30, "rate_limit")})
    verdict = heuristic.verdict("ask", heuristic.board.state("ask"), soon)
    assert verdict.reasons[0] == "model openai/big cools down until 04:00:30 UTC (rate_limit)"
    later = Outlook(NOW, cooldowns={"openai/big": (NOW + 3630, "rate_limit")})
    assert heuristic.verdict("ask", heuristic.board.state("ask"), later).reasons[0].startswith(
        "model openai/big cools down until 05:00 UTC")


def test_spend_stamped_on_a_later_day_is_not_todays() -> None:
    # a clock that ran two days ahead stamped $5 of spend, then was set back: today has spent its own $0.10
    found = board(ready("ask"))
    ahead = NOW + 2 * 86400
    found.rollups.add("early", Attempt(1, 1, "r", "default", ahead - 60, ahead, "succeeded", cost=5.0))
    found.rollups.add("today", Attempt(1, 2, "r", "default", NOW - 120, NOW - 60, "succeeded", cost=0.1))
    assert outlook_of(found, NOW, {}).spent_today == 0.1
    heuristic = Heuristic(policy_of(spec({"id": "ask", "agent": "llm"}, budget={"daily": 1.0})), found)
    assert heuristic.verdict("ask", found.state("ask"), heuristic.outlook(NOW, {})).action == "start"


def test_a_job_waiting_for_its_dependency_has_no_max_wait_start_by_until_it_is_ready() -> None:
    """Its wait has not begun: `why` said "must start by" a time it could not start by, which `status --check`
    and the overdue events (``waits_past``) never held it to."""
    jobs = ({"id": "fetch"}, {"id": "report", "depends_on": ["fetch"], "max_wait": "1m"})
    fetching = JobState("fetch", Status.RUNNING, since=NOW - 600, token=1)
    blocked = Heuristic(policy_of(spec(*jobs)), board(fetching, ready("report", since=NOW - 600)))
    _, _, reasons, _ = blocked.order("report", blocked.board.state("report"), NOW)
    assert not any("must start by" in reason or "past max_wait" in reason for reason in reasons)
    assert "max_wait 1m00s counts once it is ready" in reasons
    assert blocked.waits_past(NOW) == ([], None)
    fetched = JobState("fetch", Status.DONE, since=NOW - 30)
    ready_now = Heuristic(policy_of(spec(*jobs)), board(fetched, ready("report", since=NOW - 600)))
    _, _, reasons, _ = ready_now.order("report", ready_now.board.state("report"), NOW)
    assert reasons[0].startswith("must start by") and reasons[0].endswith("in 30s")


def test_a_job_whose_only_attempt_cost_nothing_is_given_its_models_mean_like_a_job_with_none() -> None:
    """A 429 costs nothing: the job's own zero says nothing of what a run costs; its model's mean does, as for a
    job that never ran (two jobs on one model were given $0.02 and $0.001)."""
    found = board(ready("refused"), ready("fresh"))
    found.rollups.add("other", Attempt(1, 1, "r", "default", NOW - 600, NOW - 540, "succeeded", cost=0.001),
                      "openai/m")
    found.rollups.add("refused", Attempt(1, 1, "r", "default", NOW - 300, NOW - 299, "failed"), "openai/m")
    heuristic = Heuristic(policy_of(spec({"id": "refused", "agent": "llm"}, {"id": "fresh", "agent": "llm"})), found)
    refused, fresh = heuristic.estimate("refused"), heuristic.estimate("fresh")
    assert (refused.cost, refused.cost_model, refused.cost_assumed) == (fresh.cost, "openai/m", False)
    assert refused.cost == pytest.approx(0.0005)  # (the mean of an attempt on the model: the 429 counts as one)
