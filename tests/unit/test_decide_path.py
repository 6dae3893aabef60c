"""A deadline's slack and its at-risk check count the same path: what is left upstream, a closed window, approvals."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from jobdeck.decide.heuristic import Heuristic
from jobdeck.decide.outlook import Outlook
from jobdeck.decide.why import why
from jobdeck.state.board import Board, KeptBack
from jobdeck.state.machine import JobState, Status
from jobdeck.state.spec import Spec

# 2026-12-06 12:00 UTC: a window of 22:00-06:00 UTC is closed for ten more hours.
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc).timestamp()


def spec(*jobs: dict[str, Any], mode: str = "live") -> Spec:
    return Spec.model_validate({"decide": {"mode": mode}, "jobs": [{"command": ["true"], **job} for job in jobs]})


def ready(job: str, **fields: Any) -> JobState:
    return JobState(job, Status.BACKLOG, since=NOW - 60, **fields)


def heuristic_of(the_spec: Spec, *states: JobState) -> Heuristic:
    from jobdeck.decide.policy import policy_of

    return Heuristic(policy_of(the_spec), Board({state.job: state for state in states}))


def deadline_reason(heuristic: Heuristic, job: str) -> str:
    verdict = heuristic.verdict(job, heuristic.board.state(job), Outlook(NOW))
    return next(reason for reason in verdict.reasons if reason.startswith("deadline"))


@pytest.mark.parametrize("mode", ["off", "shadow", "advise", "live"])
def test_a_deadline_before_the_window_opens_cannot_be_met_in_every_mode(mode: str) -> None:
    heuristic = heuristic_of(spec({"id": "w", "window": "22:00-06:00", "deadline": "12:30"}, mode=mode), ready("w"))
    assert heuristic.at_risk("w", NOW) == (
        NOW + 1800, "deadline 12:30 UTC cannot be met: its window opens at 22:00, so at p90 it ends about 22:05, "
                    "9h35m late")
    assert deadline_reason(heuristic, "w") == ("deadline 12:30 UTC cannot be met: its window opens at 22:00, "
                                               "p90 duration 5m00s, late by 9h35m")


def test_why_shows_no_slack_for_a_job_its_window_defers_past_its_deadline() -> None:
    the_spec = spec({"id": "w", "window": "22:00-06:00", "deadline": "12:30"}, mode="shadow")
    text = [line for line, _ in why(the_spec, Board({"w": ready("w")}), "w", NOW).lines(NOW)]
    assert "  - deadline 12:30 UTC cannot be met: its window opens at 22:00, p90 duration 5m00s, late by 9h35m" in text
    assert not any("slack" in line for line in text)


def test_a_window_opening_close_to_the_deadline_puts_it_at_risk_and_counts_in_its_slack() -> None:
    tight = heuristic_of(spec({"id": "w", "window": "12:28-13:00", "deadline": "12:30"}), ready("w"))
    assert tight.at_risk("w", NOW) == (
        NOW + 1800, "deadline 12:30 UTC at risk: its window opens at 12:28, so at p90 it ends about 12:33, 3m00s late")
    roomy = heuristic_of(spec({"id": "w", "window": "12:10-13:00", "deadline": "12:30"}), ready("w"))
    assert roomy.at_risk("w", NOW) is None
    assert deadline_reason(roomy, "w") == ("deadline 12:30 UTC, its window opens at 12:10, p90 duration 5m00s, "
                                           "slack 15m00s")


def test_an_open_window_or_a_pin_leaves_the_slack_as_it_was() -> None:
    inside = heuristic_of(spec({"id": "w", "window": "11:00-13:00", "deadline": "12:30"}), ready("w"))
    assert inside.at_risk("w", NOW) is None
    assert deadline_reason(inside, "w") == "deadline 12:30 UTC, p90 duration 5m00s, slack 25m00s"
    pinned = heuristic_of(spec({"id": "w", "window": "22:00-06:00", "deadline": "12:30"}),
                          ready("w", override="pin", override_at=NOW - 5))
    assert pinned.at_risk("w", NOW) is None  # a pin runs it now, window or not


def test_an_upstream_window_is_named_in_the_deadline_it_feeds() -> None:
    heuristic = heuristic_of(spec({"id": "feed", "window": "22:00-06:00"},
                                  {"id": "report", "depends_on": ["feed"], "deadline": "12:30"}),
                             ready("feed"), ready("report"))
    assert heuristic.at_risk("report", NOW) == (
        NOW + 1800, "deadline 12:30 UTC cannot be met: the window of feed opens at 22:00, so at p90 it ends about "
                    "22:10, 9h40m late")
    assert deadline_reason(heuristic, "report").startswith(
        "deadline 12:30 UTC cannot be met: the window of feed opens at 22:00, p90 duration 5m00s, late by 9h40m")
    feeds = heuristic.verdict("feed", heuristic.board.state("feed"), Outlook(NOW)).reasons
    assert "feeds report (deadline 12:30 UTC), which cannot be met: its window opens at 22:00, critical path p90 " \
           "10m00s, late by 9h40m" in feeds


def test_why_and_at_risk_give_the_paths_lateness_and_name_the_approval_it_waits_on() -> None:
    the_spec = spec({"id": "approveme", "risk": "high"},
                    {"id": "late", "depends_on": ["approveme"], "deadline": "12:08"})
    heuristic = heuristic_of(the_spec, ready("approveme"), ready("late"))
    assert heuristic.at_risk("late", NOW) == (
        NOW + 480, "deadline 12:08 UTC at risk: what is left of its path takes 10m00s at p90, so it ends about 12:10, "
                   "2m00s late, and approveme waits for `jobdeck approve approveme`")
    text = [line for line, _ in why(the_spec, heuristic.board, "late", NOW).lines(NOW)]
    assert ("  - deadline 12:08 UTC, what is left of its path takes 10m00s at p90, p90 duration 5m00s, late by "
            "2m00s, and approveme waits for `jobdeck approve approveme`") in text
    approved = heuristic_of(the_spec, ready("approveme", approved=True), ready("late"))
    found = approved.at_risk("late", NOW)
    assert found is not None and found[1].endswith("so it ends about 12:10, 2m00s late")


def budget_deck(mode: str = "live") -> Spec:
    """enrich (an llm job) feeds report, due 12:15 UTC; $0.021 of the day's $0.03 is gone, so enrich is held."""
    return Spec.model_validate({"decide": {"mode": mode, "budget": {"daily": 0.03}, "default_cost": 0.021},
                                "jobs": [{"id": "enrich", "model": "openai/gpt-4o-mini", "prompt": "hi"},
                                         {"id": "report", "command": ["true"], "depends_on": ["enrich"],
                                          "deadline": "12:15"}]})


MIDNIGHT = NOW + 12 * 3600
"""When the budget's (UTC) day turns: the until of a budget hold made today."""


def hold_told(until: float | None = MIDNIGHT, needs: str = "budget") -> KeptBack:
    """A live hold as the runner told it, the board keeping it (``Board.kept_back``)."""
    return KeptBack("hold", needs, until, f"⏸ {needs}", None)


def test_a_live_hold_with_a_known_end_starts_the_path_when_it_ends_so_the_deadline_cannot_be_met() -> None:
    free = heuristic_of(budget_deck(), ready("enrich"), ready("report"))
    assert free.at_risk("report", NOW) is None  # 10 minutes of path, 15 to go
    heuristic = heuristic_of(budget_deck(), ready("enrich"), ready("report"))
    heuristic.board.kept_back["enrich"] = hold_told()
    assert heuristic.at_risk("report", NOW) == (
        NOW + 900, "deadline 12:15 UTC cannot be met: enrich is held for the budget until 00:00 UTC, so at p90 it "
                   "ends about 00:10, 11h55m late")
    text = [line for line, _ in why(budget_deck(), heuristic.board, "report", NOW).lines(NOW)]
    assert ("  - deadline 12:15 UTC cannot be met: enrich is held for the budget until 00:00 UTC, p90 duration "
            "5m00s, late by 11h55m") in text
    assert not any("slack" in line for line in text)
    # past the deadline, the miss gives the true lateness, not the seconds since the deadline
    assert heuristic.at_risk("report", NOW + 916) == (
        NOW + 900, "deadline 12:15 UTC missed 16s ago, not done: at p90 it ends about 00:10, 11h55m late")
    enrich = heuristic.verdict("enrich", heuristic.board.state("enrich"), Outlook(NOW)).reasons
    assert "feeds report (deadline 12:15 UTC), which cannot be met: it is held for the budget until 00:00 UTC, " \
           "critical path p90 10m00s, late by 11h55m" in enrich


def test_a_jobs_own_hold_and_a_cooldown_count_a_hold_with_no_known_end_or_outside_live_mode_does_not() -> None:
    own = heuristic_of(budget_deck(), JobState("enrich", Status.DONE), ready("report"))
    own.board.kept_back["report"] = hold_told()
    assert own.at_risk("report", NOW) == (
        NOW + 900, "deadline 12:15 UTC cannot be met: it is held for the budget until 00:00 UTC, so at p90 it ends "
                   "about 00:05, 11h50m late")
    cooling = heuristic_of(budget_deck(), ready("enrich"), ready("report"))
    cooling.board.kept_back["enrich"] = KeptBack("defer", "cooldown", NOW + 3 * 3600, "⏱ cooldown 15:00 UTC", None)
    assert cooling.at_risk("report", NOW) == (
        NOW + 900, "deadline 12:15 UTC cannot be met: enrich waits for its model's cooldown until 15:00 UTC, so at "
                   "p90 it ends about 15:10, 2h55m late")
    for mode, kept in (("live", hold_told(until=None, needs="reviews")),  # the review queue: no known end
                       ("shadow", hold_told())):  # a budget hold from live mode, before a switch to shadow
        heuristic = heuristic_of(budget_deck(mode), ready("enrich"), ready("report"))
        heuristic.board.kept_back["enrich"] = kept
        assert heuristic.at_risk("report", NOW) is None, mode
        assert heuristic.left("report", NOW).seconds == 600
    ended = heuristic_of(budget_deck(), ready("enrich"), ready("report"))
    ended.board.kept_back["enrich"] = hold_told(until=NOW - 60)  # told before, over now: the path starts now
    assert ended.at_risk("report", NOW) is None
    pinned = heuristic_of(budget_deck(), ready("enrich", override="pin", override_at=NOW), ready("report"))
    pinned.board.kept_back["enrich"] = hold_told()
    assert pinned.left("report", NOW).seconds == 600  # a pin passes every gate
