"""Every gate that holds a job, the first one the runner acts on, and the binding one a person waits for."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from jobdeck.decide.heuristic import Heuristic, gate_note
from jobdeck.decide.outlook import Outlook
from jobdeck.decide.policy import policy_of
from jobdeck.decide.times import day_start
from jobdeck.decide.why import why
from jobdeck.state.board import Board
from jobdeck.state.machine import Attempt, JobState, Status
from jobdeck.state.spec import Spec

# 2026-12-06 12:00 UTC: a window of 22:00-06:00 is closed; the budget's day turns in 12 hours.
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc).timestamp()
COOLING = {"openai/m": (NOW + 24, "rate_limit")}


def spec(*jobs: dict[str, Any], **decide: Any) -> Spec:
    return Spec.model_validate({"decide": {"mode": "live", **decide},
                                "agents": {"llm": {"type": "llm", "model": "openai/m"}},
                                "jobs": [{"agent": "llm", "prompt": "hi", **job} for job in jobs]})


def ready(job: str, **fields: Any) -> JobState:
    return JobState(job, Status.BACKLOG, since=NOW - 60, **fields)


def spent(daily: float) -> Outlook:
    """The day's budget used up: what ended today cost all of it."""
    return Outlook(NOW, spent_today=daily, cooldowns=COOLING)


def test_a_cooling_job_past_the_budget_is_held_by_both_and_deferred_by_the_first() -> None:
    the_spec = spec({"id": "ask"}, budget={"daily": 1.0})
    heuristic = Heuristic(policy_of(the_spec), Board({"ask": ready("ask")}))
    gates = heuristic.gates("ask", ready("ask"), spent(1.0))
    assert [(g.action, g.needs, g.until) for g in gates] == [("defer", "cooldown", NOW + 24),
                                                             ("hold", "budget", day_start(NOW) + 86400)]
    assert heuristic.gate("ask", ready("ask"), spent(1.0)) == gates[0]  # the runner's question: the first only

    verdict = heuristic.verdict("ask", ready("ask"), spent(1.0))
    assert (verdict.action, verdict.until, verdict.needs) == ("defer", NOW + 24, "cooldown")  # look again then
    assert verdict.reasons[:2] == (gates[0].reason, gates[1].reason) and verdict.gates == tuple(gates)
    assert verdict.to_json()["gates"] == [gate.to_json() for gate in gates]  # as the decided event records it
    binding = verdict.binding()
    assert (binding.action, binding.until, binding.needs) == ("hold", day_start(NOW) + 86400, "budget")
    assert gate_note(verdict, heuristic.policy.jobs["ask"], NOW) == "⏸ budget"  # not "⏱ cooldown 12:00:24"


def test_a_hold_with_no_end_binds_over_a_deferral_that_ends() -> None:
    the_spec = spec({"id": "night", "window": "22:00-06:00"})
    held = ready("night", override="hold", override_at=NOW - 5)
    heuristic = Heuristic(policy_of(the_spec), Board({"night": held}))
    verdict = heuristic.verdict("night", held, Outlook(NOW, cooldowns=COOLING))
    assert [(g.action, g.needs) for g in verdict.gates] == [("hold", "release"), ("defer", "window"),
                                                            ("defer", "cooldown")]
    assert (verdict.binding().action, verdict.binding().needs, verdict.binding().until) == ("hold", "release", None)


def test_a_job_that_may_start_has_no_gates_and_its_record_none() -> None:
    the_spec = spec({"id": "ask"}, budget={"daily": 1.0})
    heuristic = Heuristic(policy_of(the_spec), Board({"ask": ready("ask")}))
    verdict = heuristic.verdict("ask", ready("ask"), Outlook(NOW))
    assert verdict.action == "start" and verdict.gates == () and "gates" not in verdict.to_json()
    assert heuristic.gates("ask", ready("ask"), Outlook(NOW)) == []
    deferred = heuristic.verdict("ask", ready("ask"), Outlook(NOW, cooldowns=COOLING))
    assert len(deferred.gates) == 1 and "gates" not in deferred.to_json()  # one gate: the verdict's own fields
    assert deferred.binding() is deferred


def test_why_lists_every_gate_with_its_end_and_leads_with_the_binding_one() -> None:
    the_spec = spec({"id": "spent"}, {"id": "ask"}, budget={"daily": 1.0})
    board = Board({"ask": ready("ask")})
    board.rollups.add("spent", Attempt(1, 1, "r", "default", NOW - 120, NOW - 60, "succeeded", cost=1.0))
    answer = why(the_spec, board, "ask", NOW, COOLING)
    assert answer.blocking == [
        "model openai/m cools down until 12:00:24 UTC (rate_limit)",
        "budget: $1.00 spent today + $0.00 running or starting first >= $1.00 a day, and it calls openai/m "
        "(until 00:00 UTC, in 12h00m)"]
    assert [(g["action"], g["needs"]) for g in answer.to_json()["gates"]] == [("defer", "cooldown"),
                                                                             ("hold", "budget")]
    lines = [text for text, _ in answer.lines(NOW)]
    assert lines[3].startswith("decision service (live, policy ")
    assert lines[3].endswith(": hold for 12h00m (needs budget), score 100")


def test_why_of_a_blocked_job_out_of_live_names_only_the_gates_of_every_mode() -> None:
    """A paused job in shadow mode, its budget spent: `why` gave "hold for 12h00m (needs budget)", a gate shadow
    only advises, where the runner would start it once resumed."""
    the_spec = spec({"id": "spent"}, {"id": "ask", "paused": True}, mode="shadow", budget={"daily": 1.0})
    board = Board({"ask": ready("ask")})
    board.rollups.add("spent", Attempt(1, 1, "r", "default", NOW - 120, NOW - 60, "succeeded", cost=1.0))
    answer = why(the_spec, board, "ask", NOW, {})
    assert answer.blocking and answer.blocking[0].startswith("is paused")
    assert answer.gates == [] and answer.verdict is not None and answer.verdict.action == "start"


def test_a_longer_gate_that_joins_the_first_is_told_again(tmp_path: Any) -> None:
    """Held for the budget (until the day turns), then the review queue filled: the reviews hold, with no end, keeps
    it back longer, but the runner compared only the first gate and said nothing, so the card and `run --job` kept
    saying "budget" while `why` said reviews."""
    from jobdeck.runner.deciding import Deciding
    from jobdeck.runner.selection import ReadyIndex

    the_spec = spec({"id": "spent"}, {"id": "ask", "review": "always"}, {"id": "other", "review": "always"},
                    budget={"daily": 1.0}, review_capacity=1)
    board = Board({"ask": ready("ask")})
    board.rollups.add("spent", Attempt(1, 1, "r", "default", NOW - 120, NOW - 60, "succeeded", cost=1.0))
    deciding, index = Deciding(tmp_path / "cooldowns.json"), ReadyIndex()
    deciding.reset(the_spec, board, index)
    notes: list[dict[str, Any]] = []
    deciding.begin_turn(board, NOW, [])
    assert not deciding.admits(the_spec.by_id["ask"], board.state("ask"), notes)
    assert [(n["action"], n["needs"]) for n in notes] == [("hold", "budget")]
    board.apply({**notes[0], "seq": 1, "ts": NOW})

    board.jobs["other"] = JobState("other", Status.REVIEW, since=NOW)  # the review queue is full now
    board._review_load = None
    notes.clear()
    deciding.begin_turn(board, NOW + 1, [])
    assert not deciding.admits(the_spec.by_id["ask"], board.state("ask"), notes)
    assert [(n["action"], n["needs"], n["note"]) for n in notes] == [("hold", "budget", "⏸ reviews")]
    board.apply({**notes[0], "seq": 2, "ts": NOW + 1})
    assert board.kept_back["ask"].said() == ("hold", "reviews")
