"""The cockpit's view of the decision service (cockpit/advice.py): backlog order, card reason lines, snapshots.

Hand-built boards and an injected clock, as in test_decide.py; no Textual.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jobdeck.cockpit.advice import Advisor, card_clock, snapshot, why_lines
from jobdeck.state.board import Board
from jobdeck.state.cooldowns import COOLDOWN_FILE
from jobdeck.state.deck import init_deck
from jobdeck.state.machine import Attempt, JobState, Status
from jobdeck.state.spec import Spec
from jobdeck.state.views import card

# 2026-12-06 04:00 UTC: two hours before a 06:00 UTC deadline.
NOW = datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc).timestamp()


def spec(*jobs: dict[str, Any], mode: str = "advise", **decide: Any) -> Spec:
    return Spec.model_validate({"decide": {"mode": mode, **decide},
                                "agents": {"llm": {"type": "llm", "model": "openai/m"}},
                                "jobs": [{"command": ["true"], **job} for job in jobs]})


def ready(job: str, since: float | None = NOW - 60, **fields: Any) -> JobState:
    return JobState(job, Status.BACKLOG, since=since, **fields)


def advisor(tmp_path: Path, local_zone: tzinfo = timezone.utc) -> Advisor:
    """An advisor on a machine whose clock reads ``local_zone`` (UTC unless said), whatever this one's."""
    return Advisor(init_deck(tmp_path / "deck", b'{"jobs": []}\n'), local_zone=local_zone)


def order_and_lines(the_spec: Spec, board: Board, tmp_path: Path, now: float = NOW,
                    local_zone: tzinfo = timezone.utc) -> list[tuple[str, str | None]]:
    """The backlog as the board would show it: (job, reason line), top to bottom."""
    advice = advisor(tmp_path, local_zone).advise(the_spec, board, now)
    cards = [card(job, board.state(job.id), board, now) for job in the_spec.jobs]
    advised = {c.id: advice.advised(c, n) for n, c in enumerate(cards)}
    return [(job, advised[job].line) for job in sorted(advised, key=lambda job: advised[job].order)]


def test_ranked_jobs_come_first_then_held_and_deferred_then_the_rest_as_today(tmp_path: Path) -> None:
    the_spec = spec({"id": "adhoc", "priority": 5}, {"id": "report", "deadline": "04:30"},
                    {"id": "plain"}, {"id": "costly", "agent": "llm"}, {"id": "night", "window": "22:00-03:00"},
                    {"id": "after", "depends_on": ["adhoc"], "priority": 9}, {"id": "kept"},
                    budget={"per_job": 0.01}, default_cost=0.05)
    board = Board({job: ready(job) for job in ("adhoc", "report", "plain", "costly", "night", "after")}
                  | {"kept": ready("kept", override="hold", override_at=NOW - 5)})
    assert order_and_lines(the_spec, board, tmp_path) == [
        ("report", "▲ due 04:30, slack 25m"),
        ("adhoc", "· priority 5"),
        ("plain", "· in order"),
        ("costly", "⏸ budget"),
        ("night", "⏱ window 22:00"),
        ("kept", "⏸ held"),
        ("after", None),  # not ready: where the operator's order puts it, with its own flags
    ]


def test_pins_waits_past_max_wait_and_a_dependents_deadline_say_so(tmp_path: Path) -> None:
    the_spec = spec({"id": "first"}, {"id": "starved", "max_wait": "1h"}, {"id": "feeder"},
                    {"id": "report", "depends_on": ["feeder"], "deadline": "04:40"}, {"id": "late", "deadline": "04:02"},
                    {"id": "waiting", "max_wait": "2h", "deadline": "05:30"})
    board = Board({"first": ready("first", override="pin", override_at=NOW - 1),
                   "starved": ready("starved", since=NOW - 7200), "feeder": ready("feeder"),
                   "report": ready("report"), "late": ready("late"), "waiting": ready("waiting", since=NOW - 5400)})
    assert order_and_lines(the_spec, board, tmp_path) == [
        ("first", "▲ pinned"),
        ("starved", "▲ waited past 1h"),
        ("late", "▲ due 04:02, late 3m"),
        ("feeder", "▲ for report 04:40, slack 30m"),
        ("waiting", "▲ start by 04:30, in 30m"),  # its max_wait comes before its deadline's latest start
        ("report", None),
    ]


def test_a_held_deck_says_so_on_a_card_that_would_otherwise_read_in_order(tmp_path: Path) -> None:
    the_spec = spec({"id": "plain"}, {"id": "report", "deadline": "04:30"})
    board = Board({"plain": ready("plain"), "report": ready("report")},
                  held={"by": "ana@box", "via": "cli", "ts": NOW - 60})
    assert order_and_lines(the_spec, board, tmp_path) == [("report", "▲ due 04:30, slack 25m"),
                                                          ("plain", "⏸ deck held")]


def test_a_deadline_gone_by_reads_missed_not_late(tmp_path: Path) -> None:
    the_spec = spec({"id": "gone", "deadline": "2026-12-06T03:50:00Z"}, {"id": "close", "deadline": "04:02"})
    board = Board({"gone": ready("gone"), "close": ready("close")})
    assert order_and_lines(the_spec, board, tmp_path) == [("gone", "▲ due 03:50, missed"),
                                                          ("close", "▲ due 04:02, late 3m")]


def test_a_cards_time_names_its_zone_only_where_the_machines_clock_reads_otherwise(tmp_path: Path) -> None:
    the_spec = spec({"id": "paris", "deadline": "05:40", "timezone": "Europe/Paris"},
                    {"id": "utc", "deadline": "04:50"}, {"id": "tokyo", "max_wait": "1h", "timezone": "Asia/Tokyo"})
    board = Board({job: ready(job) for job in ("paris", "utc", "tokyo")})
    assert order_and_lines(the_spec, board, tmp_path / "utc") == [  # 05:40 in Paris is 04:40 UTC
        ("paris", "▲ due 05:40 CET, slack 35m"), ("utc", "▲ due 04:50, slack 45m"),
        ("tokyo", "· start by 13:59 JST, in 59m")]  # (its bound safe: in your order, half its max_wait ahead)
    assert order_and_lines(the_spec, board, tmp_path / "berlin", local_zone=ZoneInfo("Europe/Berlin")) == [
        ("paris", "▲ due 05:40, slack 35m"), ("utc", "▲ due 04:50 UTC, slack 45m"),  # Berlin's clock is Paris's
        ("tokyo", "· start by 13:59 JST, in 59m")]


def test_a_card_clock_names_the_zone_as_it_is_on_that_day() -> None:
    summer = datetime(2026, 7, 1, 4, 0, tzinfo=timezone.utc).timestamp()
    assert card_clock(summer, "Europe/Paris", summer, timezone.utc) == "06:00 CEST"
    assert card_clock(NOW, "Europe/Paris", NOW, timezone.utc) == "05:00 CET"
    assert card_clock(NOW + 3 * 86400, "America/New_York", NOW, timezone.utc) == "Dec 08 23:00 EST"
    assert card_clock(NOW, "UTC", NOW, ZoneInfo("Europe/London")) == "04:00"  # London keeps UTC's clock in winter
    assert card_clock(summer, "UTC", summer, ZoneInfo("Europe/London")) == "04:00 UTC"


def test_the_order_of_never_queued_jobs_is_the_rankings_and_stays_put_as_time_passes(tmp_path: Path) -> None:
    """A job with no events has waited since ever, as in your order; its card must not move on every ranking."""
    the_spec = spec({"id": "a"}, {"id": "b", "priority": 2}, {"id": "c"}, {"id": "queued"})
    board = Board({"queued": ready("queued", since=NOW - 600)})
    the_advisor = advisor(tmp_path)
    first, later = (the_advisor.advise(the_spec, board, now) for now in (NOW, NOW + 60))
    ranked = [v.job for v in first.verdicts.values() if v.rank is not None]
    assert ranked == ["b", "a", "c", "queued"]
    cards = {job.id: card(job, board.state(job.id), board, NOW) for job in the_spec.jobs}
    places = {job: first.advised(c, n) for n, (job, c) in enumerate(cards.items())}
    assert sorted(places, key=lambda job: places[job].order) == ranked
    assert all(later.advised(c, n) == places[job] for n, (job, c) in enumerate(cards.items()))


def test_off_and_shadow_give_no_advice(tmp_path: Path) -> None:
    for mode in ("off", "shadow"):
        advice = advisor(tmp_path / mode).advise(spec({"id": "a", "deadline": "04:10"}, mode=mode),
                                                 Board({"a": ready("a")}), NOW)
        assert (advice.mode, dict(advice.verdicts)) == (mode, {})


def test_a_cooling_model_defers_with_the_time_it_cools_down_until(tmp_path: Path) -> None:
    the_advisor = advisor(tmp_path)
    (the_advisor.cooldowns_path).write_text(f'{{"openai/m": {{"until": {NOW + 600}, "reason": "rate_limit"}}}}')
    assert the_advisor.cooldowns_path.name == COOLDOWN_FILE
    advice = the_advisor.advise(spec({"id": "ask", "agent": "llm"}), Board({"ask": ready("ask")}), NOW)
    assert advice.lines["ask"] == ("⏱ cooldown 04:10 UTC", "cyan")  # a model has no zone of its own: named


def test_a_snapshot_does_not_change_as_the_board_is_folded_on() -> None:
    board = Board({"a": ready("a")})
    board.apply({"type": "claimed", "job": "a", "attempt": 1, "runner": "r", "workspace": "default", "seq": 1,
                 "ts": NOW - 100})
    taken = snapshot(board)
    board.apply({"type": "succeeded", "job": "a", "token": 1, "seq": 2, "ts": NOW, "cost": 0.5})
    board.apply({"type": "triggered", "job": "b", "seq": 3, "ts": NOW})
    assert taken.state("a").status == Status.RUNNING and "b" not in taken.jobs
    assert taken.rollups.cost_since(NOW - 3600) == 0.0 and board.rollups.cost_since(NOW - 3600) == 0.5


def test_why_lines_are_jobdeck_whys_text(tmp_path: Path) -> None:
    the_spec = spec({"id": "adhoc", "priority": 5}, {"id": "report", "deadline": "06:00"},
                    {"id": "after", "depends_on": ["adhoc"]})
    history = Board({"adhoc": ready("adhoc"), "report": ready("report")})
    history.rollups.add("report", Attempt(1, 1, "r", "default", NOW - 86400, NOW - 86400 + 6000, "succeeded"))
    the_advisor = advisor(tmp_path)
    lines = [line for line, _ in why_lines(the_advisor.why(the_spec, history, "report", NOW), NOW)]
    assert lines[0] == "it is ready: 2 of 2 in the order the runner starts jobs"
    assert lines[1].startswith("decision service (advise, policy ") and lines[1].endswith("rank 1 of 2 it would start")
    assert ": start, score " in lines[1]
    assert lines[2].startswith("  - deadline 06:00 UTC, p90 duration 1h") and "slack" in lines[2]
    blocked = [line for line, _ in why_lines(the_advisor.why(the_spec, history, "after", NOW), NOW)]
    assert blocked[:3] == ["it cannot start yet", "  - depends on adhoc, which is in the backlog",
                           blocked[2]]
    assert blocked[2].startswith("decision service (advise, policy ") and blocked[2].endswith(
        ", once it is ready: score 100")
    off = spec({"id": "adhoc"}, mode="off")
    assert [line for line, _ in why_lines(the_advisor.why(off, Board(), "adhoc", NOW), NOW)] == [
        "it is ready: 1 of 1 in the order the runner starts jobs",
        "decision service off (decide.mode): ready jobs start by pin, priority, waiting time, jobs.json order"]
