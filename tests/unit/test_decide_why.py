"""`jobdeck why`'s rank: it counts only the ready jobs that may start now; its reasons name their time zone."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from jobdeck.decide.why import why
from jobdeck.state.board import Board
from jobdeck.state.machine import Attempt, JobState, Status
from jobdeck.state.spec import Spec

# 2026-12-06 12:00 UTC (13:00 in Berlin): a window of 22:00-06:00 UTC is closed.
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc).timestamp()


def spec(*jobs: dict[str, Any], mode: str, **decide: Any) -> Spec:
    return Spec.model_validate({"decide": {"mode": mode, **decide},
                                "agents": {"llm": {"type": "llm", "model": "openai/m"}},
                                "jobs": [{"command": ["true"], **job} for job in jobs]})


def ready(job: str, **fields: Any) -> JobState:
    return JobState(job, Status.BACKLOG, since=NOW - 60, **fields)


def lines(spec_: Spec, board: Board, job: str) -> list[str]:
    return [text for text, _ in why(spec_, board, job, NOW).lines(NOW)]


@pytest.mark.parametrize("mode", ["off", "shadow", "advise"])
def test_jobs_deferred_by_their_window_are_not_counted_ahead(mode: str) -> None:
    the_spec = spec({"id": "night", "priority": 9, "window": "22:00-06:00"}, {"id": "first", "priority": 5},
                    {"id": "me"}, {"id": "paused", "priority": 7, "paused": True},
                    {"id": "held", "priority": 8}, mode=mode)
    board = Board({job: ready(job) for job in ("night", "first", "me", "paused")}
                  | {"held": ready("held", override="hold", override_at=NOW - 5)})
    answer = why(the_spec, board, "me", NOW)
    assert (answer.rank, answer.startable, answer.ready) == (2, 2, 3)
    assert answer.headline == "it is ready: 2 of 2 in the order the runner starts jobs (1 more ready job waits " \
                              "for its window)"
    assert answer.to_json()["startable"] == 2
    night = why(the_spec, board, "night", NOW)  # its own window closed: no place in the order now
    assert night.rank is None and night.headline == "it is ready but cannot start now"
    assert night.blocking == ["window 22:00-06:00 (UTC) opens at 22:00, in 10h00m"]


def test_a_pinned_job_outside_its_window_is_counted_ahead_it_starts_now() -> None:
    the_spec = spec({"id": "night", "window": "22:00-06:00"}, {"id": "me"}, mode="off")
    board = Board({"night": ready("night", override="pin", override_at=NOW - 5), "me": ready("me")})
    assert why(the_spec, board, "me", NOW).headline == "it is ready: 2 of 2 in the order the runner starts jobs"


def test_in_live_mode_jobs_the_service_defers_or_holds_are_not_counted() -> None:
    the_spec = spec({"id": "night", "priority": 9, "window": "22:00-06:00"},
                    {"id": "dear", "agent": "llm", "priority": 8}, {"id": "me"}, mode="live", budget={"per_job": 0.1})
    board = Board({job: ready(job) for job in ("night", "dear", "me")})
    board.rollups.add("dear", Attempt(1, 1, "r", "default", NOW - 86400, NOW - 86300, "succeeded", cost=0.5))
    answer = why(the_spec, board, "me", NOW)
    assert (answer.rank, answer.startable, answer.ranked, answer.ready) == (1, 1, 1, 3)
    text = lines(the_spec, board, "me")
    assert text[0] == "it is ready: 1 of 1 in the order the runner starts jobs (2 more ready jobs are deferred or held)"
    assert text[1].startswith("decision service (live, policy ") and text[1].endswith(", rank 1 of 1 it would start")


def test_in_shadow_mode_the_verdicts_rank_counts_what_the_service_would_start() -> None:
    the_spec = spec({"id": "dear", "agent": "llm", "priority": 8}, {"id": "me"}, mode="shadow",
                    budget={"per_job": 0.1})
    board = Board({job: ready(job) for job in ("dear", "me")})
    board.rollups.add("dear", Attempt(1, 1, "r", "default", NOW - 86400, NOW - 86300, "succeeded", cost=0.5))
    text = lines(the_spec, board, "me")
    assert text[0] == "it is ready: 2 of 2 in the order the runner starts jobs"  # shadow: the budget only advises
    assert text[1].endswith(", rank 1 of 1 it would start")


def test_deadline_reasons_name_the_jobs_time_zone() -> None:
    berlin = spec({"id": "report", "deadline": "14:00", "timezone": "Europe/Berlin"},
                  {"id": "feed"}, {"id": "after", "depends_on": ["feed"], "deadline": "13:30"},
                  {"id": "old", "max_wait": "2h"}, mode="live")
    board = Board({job: ready(job) for job in ("report", "feed", "old")} | {"after": JobState("after", Status.BACKLOG)})
    assert lines(berlin, board, "report")[2].startswith("  - deadline 14:00 Europe/Berlin, p90 duration 5m00s, slack")
    assert lines(berlin, board, "feed")[2].startswith("  - feeds after (deadline 13:30 UTC): critical path p90")
    assert "  - must start by 13:59 UTC (max_wait 2h00m), in 1h59m" in lines(berlin, board, "old")


def test_a_job_waiting_for_its_schedule_is_told_its_next_fire_in_its_zone() -> None:
    the_spec = spec({"id": "nightly", "schedule": "0 2 * * *", "timezone": "Europe/Berlin"}, mode="off")
    answer = why(the_spec, Board({}), "nightly", NOW)
    assert answer.blocking == ["waits for its schedule (0 2 * * *): next fire 02:00 Europe/Berlin "
                               "(`jobdeck trigger nightly` starts a cycle now)"]


def test_a_review_hold_says_when_its_queue_counts_jobs_that_start_first() -> None:
    the_spec = spec({"id": "draft1", "risk": "medium"}, {"id": "draft2", "risk": "medium"},
                    {"id": "draft3", "risk": "medium"}, mode="live", review_capacity=2)
    board = Board({job: ready(job) for job in ("draft1", "draft2", "draft3")})
    answer = why(the_spec, board, "draft3", NOW)
    assert answer.blocking == ["review queue 2 of capacity 2 once draft1, draft2, starting first, are counted, "
                               "and its output goes to review"]
    board = Board({"draft3": ready("draft3"), "draft1": JobState("draft1", Status.REVIEW),
                   "draft2": JobState("draft2", Status.REVIEW)})
    assert why(the_spec, board, "draft3", NOW).blocking == ["review queue 2 of capacity 2, and its output goes to "
                                                            "review"]


def test_the_runners_own_hold_counts_its_claims_as_the_real_queue() -> None:
    from jobdeck.decide.heuristic import Heuristic
    from jobdeck.decide.outlook import Outlook
    from jobdeck.decide.policy import policy_of

    the_spec = spec({"id": "draft1", "risk": "medium"}, {"id": "draft2", "risk": "medium"}, mode="live",
                    review_capacity=1)
    heuristic = Heuristic(policy_of(the_spec), Board({job: ready(job) for job in ("draft1", "draft2")}))
    outlook = Outlook(NOW)
    outlook.commit(0.0, True)  # as runner/deciding.py's admits: draft1 is claimed in this turn's commit
    assert heuristic.gate("draft2", ready("draft2"), outlook)[3] == ("review queue 1 of capacity 1, and its output "
                                                                    "goes to review")


def test_an_llm_job_whose_runs_recorded_no_cost_says_which_cost_it_is_given() -> None:
    the_spec = spec({"id": "dear", "agent": "llm"}, {"id": "cheap", "agent": "llm"}, mode="live",
                    default_cost=0.01, budget={"daily": 0.015})
    board = Board({job: ready(job) for job in ("dear", "cheap")})
    for job in ("dear", "cheap"):  # a mock model: the attempts end with no cost
        board.rollups.add(job, Attempt(1, 1, "r", "default", NOW - 86400, NOW - 86300, "succeeded"))
    assert lines(the_spec, board, "dear")[2:] == ["  - no cost recorded: assumed $0.01 a run (decide.default_cost)"]
    cheap = lines(the_spec, board, "cheap")
    assert cheap[1] == "  - budget: $0.00 spent today + $0.01 running or starting first + up to $0.01 for this job " \
                       "> $0.015 a day (until 00:00 UTC, in 12h00m)"
    assert cheap[-1] == "  - no cost recorded: assumed $0.01 a run (decide.default_cost)"
    priced = Board({"dear": ready("dear")})
    priced.rollups.add("dear", Attempt(1, 1, "r", "default", NOW - 86400, NOW - 86300, "succeeded", cost=0.002))
    assert lines(the_spec, priced, "dear")[2:] == []  # a start in your order, nothing assumed: nothing to add


def test_a_cancelled_or_done_job_is_told_what_starts_its_next_cycle() -> None:
    the_spec = spec({"id": "nightly", "schedule": "0 2 * * *", "timezone": "Europe/Berlin"},
                    {"id": "ingest", "trigger": "*.csv"}, {"id": "once"}, mode="off")
    cancelled = JobState("nightly", Status.CANCELLED, reason="cancelled by the operator", since=NOW - 60)
    board = Board({"nightly": cancelled, "ingest": cancelled._replace(job="ingest"),
                   "once": cancelled._replace(job="once", status=Status.DONE)})
    assert why(the_spec, board, "nightly", NOW).headline == (
        "it was cancelled: cancelled by the operator; its schedule starts the next cycle at 02:00 Europe/Berlin")
    assert why(the_spec, board, "ingest", NOW).headline.endswith("; a file matching *.csv in its inbox starts the "
                                                                  "next cycle")
    assert why(the_spec, board, "once", NOW).headline == "it is done; `jobdeck trigger` runs it again"
