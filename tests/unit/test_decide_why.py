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
    assert answer.blocking == ["waits for its schedule (0 2 * * *): next fire 02:00 Europe/Berlin"]
