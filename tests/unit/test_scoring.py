"""The model scorer's pure parts: the answer's shape, the guardrails, the keys, and its cost in the rollups."""

from __future__ import annotations

import asyncio
import json

import pytest

from jobdeck.agents.ranker import RankingRejected, Reply, parse, question
from jobdeck.decide.heuristic import NORMAL, OVERDUE, PIN, URGENT, Heuristic
from jobdeck.decide.policy import policy_of
from jobdeck.runner.scoring import Answer, Asked, Scoring, breaches, effective_order
from jobdeck.state.board import Board
from jobdeck.state.spec import Spec

NOW = 1_000_000.0
IDS = ("u1", "u2", "n1", "n2")
CLASSES = {"u1": URGENT, "u2": URGENT, "n1": NORMAL, "n2": NORMAL}


def asked(due: dict[str, float] | None = None, ahead: float = 0.0, parallel: int = 1) -> Asked:
    return Asked(1, IDS, CLASSES, dict.fromkeys(IDS, 600.0), due or {}, ahead, parallel)


def policy(min_confidence: float = 0.5) -> object:
    spec = Spec.model_validate({
        "agents": {"r": {"type": "llm", "model": "openai/x"}},
        "decide": {"mode": "live", "scorer": {"agent": "r", "timeout": "20s", "min_confidence": min_confidence}},
        "jobs": [{"id": job, "command": ["true"]} for job in IDS]})
    return policy_of(spec)


def reply(order: list[str], confidence: float = 0.9, seconds: float = 1.0) -> Reply:
    return Reply(json.dumps({"order": order, "reasons": {j: "because" for j in order}, "confidence": confidence}),
                 None, seconds)


@pytest.mark.parametrize(("text", "why"), [
    ("d, c, b, a", "not JSON"),
    ("[1, 2]", "not a JSON object but list"),
    ('{"order": "u1", "confidence": 1}', '"order" is not a list of job ids'),
    ('{"order": ["u1", "u2", "n1", "n2"], "confidence": "high"}', '"confidence" is not a number from 0 to 1'),
    ('{"order": ["u1", "u2", "n1", "n2"], "confidence": true}', '"confidence" is not a number from 0 to 1'),
    ('{"order": ["u1", "u2", "n1", "n2"], "confidence": 1.5}', '"confidence" is not a number from 0 to 1'),
    ('{"order": ["u1", "u2", "n1", "n2"], "reasons": ["x"], "confidence": 1}', '"reasons" is not an object'),
    ('{"order": ["u1", "u2", "n1", "n2", "x\\u001b[2J"], "confidence": 1}', "unknown job id(s) x\\x1b[2J"),
    ('{"order": ["u1", "u1", "u2", "n1", "n2"], "confidence": 1}', "job id(s) named twice: u1"),
    ('{"order": ["u1", "n2"], "confidence": 1}', "job id(s) left out: u2, n1"),
])
def test_parse_refuses_what_is_not_the_answers_shape(text: str, why: str) -> None:
    with pytest.raises(RankingRejected) as refused:
        parse(text, IDS)
    assert str(refused.value).startswith(why)


def test_parse_takes_a_fenced_answer_and_keeps_reasons_one_line_and_short() -> None:
    text = '```json\n{"order": ["n2", "n1", "u2", "u1"], "reasons": {"n2": "line\\nbreak", "u1": "' + "x" * 500 \
        + '", "zz": "ignored"}, "confidence": 0.7}\n```'
    ranking = parse(text, IDS)
    assert ranking.order == ("n2", "n1", "u2", "u1") and ranking.confidence == 0.7
    assert ranking.reasons == {"n2": "line break", "u1": "x" * 200}


def test_the_question_is_json_with_every_feature() -> None:
    messages = question([{"id": "a", "class": "normal"}], now="2026-01-01T00:00:00+00:00", parallel=2)
    assert messages[0]["role"] == "system" and '"confidence"' in messages[0]["content"]
    assert json.loads(messages[1]["content"]) == {"now": "2026-01-01T00:00:00+00:00", "parallel": 2,
                                                  "jobs": [{"id": "a", "class": "normal"}]}


def test_an_answer_reorders_only_within_each_class() -> None:
    assert effective_order(["n2", "u2", "n1", "u1"], CLASSES) == ["u2", "u1", "n2", "n1"]


def test_breaches_count_p90_ahead_over_the_parallel_slots() -> None:
    due = {"n1": NOW + 1500.0}
    assert breaches(["u1", "u2", "n1", "n2"], asked(due), NOW) == {}  # starts at +1200
    assert breaches(["u1", "u2", "n2", "n1"], asked(due), NOW) == {"n1": (NOW + 1800.0, NOW + 1500.0)}
    assert breaches(["u1", "u2", "n2", "n1"], asked(due, parallel=2), NOW) == {}  # +900
    assert breaches(["u1", "u2", "n1", "n2"], asked(due, ahead=600.0), NOW) == {"n1": (NOW + 1800.0, NOW + 1500.0)}


def test_judge_accepts_a_confident_in_time_answer() -> None:
    found, why = Scoring.judge(asked(), reply(["u2", "u1", "n2", "n1"]), policy(), NOW)
    assert why == "accepted" and found is not None
    assert found.places == {"u2": 0, "u1": 1, "n2": 2, "n1": 3} and found.reasons["u1"] == "because"


def test_judge_refuses_late_errors_and_low_confidence() -> None:
    assert Scoring.judge(asked(), reply(list(IDS), seconds=20.5), policy(), NOW) == \
        (None, "timeout after 20s (answered after 20.5s)")
    assert Scoring.judge(asked(), Reply(None, "connection: refused", 0.1), policy(), NOW) == \
        (None, "connection: refused")
    assert Scoring.judge(asked(), reply(list(IDS), confidence=0.49), policy(0.5), NOW) == \
        (None, "confidence 0.49 is below min_confidence 0.50")
    assert Scoring.judge(asked(), reply(list(IDS)[:3]), policy(), NOW)[1] == "invalid answer: job id(s) left out: n2"


def test_judge_refuses_a_new_max_wait_breach_but_not_one_the_heuristic_makes_too() -> None:
    due = {"n1": NOW + 1500.0}
    found, why = Scoring.judge(asked(due), reply(["u1", "u2", "n2", "n1"]), policy(), NOW)
    assert found is None and why == "the order would start n1 in 30m00s, past its max_wait (due in 25m00s)"
    late = {"n2": NOW + 100.0}  # last in either order: the heuristic's order is no better
    found, why = Scoring.judge(asked(late), reply(["u2", "u1", "n1", "n2"]), policy(), NOW)
    assert found is not None and why == "accepted"


def test_keys_move_only_within_urgent_and_normal() -> None:
    scoring = Scoring({}, lambda event: None)
    plain = (NORMAL, -5, NOW, 3)
    assert scoring.key("n1", plain) == plain  # no answer: the heuristic's key
    scoring.answer = Answer({"n1": 1, "u1": 0}, {}, 0.9)
    assert scoring.key("n1", plain) == (NORMAL, 0, 1)
    assert scoring.key("n2", plain) == (NORMAL, 1, -5, NOW, 3)  # not in the answer: after the ranked ones
    assert scoring.key("u1", (URGENT, NOW)) == (URGENT, 0, 0)
    for fixed in ((PIN, 1.0), (OVERDUE, NOW)):  # pins and overdue jobs stay ahead, in the heuristic's order
        assert scoring.key("n1", fixed) == fixed
    keys = sorted([scoring.key("n1", plain), scoring.key("n2", plain), scoring.key("u1", (URGENT, NOW)),
                   (PIN, 1.0), (OVERDUE, NOW)])
    assert keys == [(PIN, 1.0), (OVERDUE, NOW), (URGENT, 0, 0), (NORMAL, 0, 1), (NORMAL, 1, -5, NOW, 3)]


def test_a_scored_record_counts_its_cost_in_the_days_spend() -> None:
    board = Board()
    assert board.apply({"seq": 1, "ts": NOW, "type": "scored", "agent": "r", "model": "m", "cost": 0.25}) is None
    board.apply({"seq": 2, "ts": NOW + 1, "type": "scored", "agent": "r", "model": "m"})  # no cost: nothing
    board.apply({"seq": 3, "ts": NOW + 2, "type": "scored", "agent": "r", "model": "m", "cost": float("nan")})
    assert board.rollups.cost_since(NOW - NOW % 86400) == 0.25
    assert board.rollups.hours[int(NOW // 3600)].by_model == {"m": 0.25}


def live_spec(daily: float | None = None) -> Spec:
    return Spec.model_validate({
        "agents": {"r": {"type": "llm", "model": "openai/x", "api_base": "http://127.0.0.1:9/v1"}},
        "decide": {"mode": "live", "scorer": {"agent": "r"}, "budget": {"daily": daily}},
        "jobs": [{"id": job, "command": ["true"]} for job in ("a", "b", "c")]})


def test_a_question_is_put_only_when_a_job_is_ready_the_last_one_did_not_see(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The call is replaced (no litellm here); the thread, the hand-back to the loop and the judging are real."""
    asked: list[list[str]] = []

    def fake_ask(settings: object, messages: list[dict[str, str]], timeout: float) -> Reply:
        ids = [job["id"] for job in json.loads(messages[1]["content"])["jobs"]]
        asked.append(ids)
        return reply(list(reversed(ids)))

    monkeypatch.setattr("jobdeck.runner.scoring.ask", fake_ask)

    async def scenario() -> list[dict[str, object]]:
        events: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        scoring = Scoring({}, events.put_nowait, clock=lambda: NOW)
        spec, board = live_spec(), Board()
        policy = policy_of(spec)
        scoring.reset(spec, policy, Heuristic(policy, board))
        assert scoring.status == "waiting for r: heuristic order"
        seen = []
        assert scoring.look({"a", "b"}, board, NOW, 1)
        assert not scoring.look({"a", "b", "c"}, board, NOW, 1)  # one question at a time
        seen.append(await asyncio.wait_for(events.get(), 10))
        assert scoring.status == "ranked by r (confidence 0.90)"
        assert not scoring.look({"a", "b"}, board, NOW, 1) and not scoring.look({"a"}, board, NOW, 1)
        assert scoring.look({"a", "c"}, board, NOW, 1)  # c is new
        scoring.reset(spec, policy, Heuristic(policy, board))  # a new spec while the question is out
        seen.append(await asyncio.wait_for(events.get(), 10))
        assert scoring.answer is None
        return seen

    accepted, dropped = asyncio.run(scenario())
    assert asked == [["a", "b"], ["a", "c"]]
    assert accepted["outcome"] == "accepted" and accepted["order"] == ["b", "a"]
    assert dropped["outcome"] == "dropped" and "policy" not in dropped


def test_no_question_while_today_s_spend_and_the_last_call_would_pass_the_budget() -> None:
    async def scenario() -> tuple[bool, str]:
        scoring = Scoring({}, lambda event: None, clock=lambda: NOW)
        spec, board = live_spec(daily=1.0), Board()
        board.rollups.add_spend(NOW, 0.99, "m")
        policy = policy_of(spec)
        scoring.reset(spec, policy, Heuristic(policy, board))
        scoring.last_cost = 0.02
        return scoring.look({"a"}, board, NOW, 1), scoring.status

    assert asyncio.run(scenario()) == (False, "fallback: budget: $0.99 spent today + $0.02 for a ranking > $1.00 a day")
