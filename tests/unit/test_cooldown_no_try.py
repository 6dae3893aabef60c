"""Every model cooling: an attempt that called none costs no try, and a pin waits for the cooldown.

Pure pieces, time injected: the llm agent's outcome with a breaker whose clock is fixed (no model is called,
so no server is needed), the runner's verdict on that outcome, the state machine's fold of it (old events
fold as before), and the decision service's gates for a pinned job.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jobdeck.agents.base import Failure, Outcome
from jobdeck.agents.breaker import Breaker
from jobdeck.agents.llm import LLMAgent
from jobdeck.decide.heuristic import Heuristic
from jobdeck.decide.outlook import Outlook
from jobdeck.decide.policy import policy_of
from jobdeck.decide.verdict import DEFER, START
from jobdeck.runner.attempt import Claimed
from jobdeck.runner.verdict import verdict
from jobdeck.state.board import Board, KeptBack
from jobdeck.state.machine import JobState, Status, transition
from jobdeck.state.spec import Spec
from jobdeck.state.views import kept_back_words
from tests.fixtures.attempts import make_attempt

T0 = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC: a window of 12:00-13:00 is closed
NOT_CALLED = "not_called"
"""The reason as the log keeps it: the on-disk word, not the constant, is what old and new runners share."""


def claimed(state: JobState, seq: int) -> JobState:
    return transition(state, {"type": "claimed", "job": state.job, "attempt": state.next_attempt, "seq": seq,
                              "runner": "r1"}, T0)


def failed(state: JobState, **fields: Any) -> JobState:
    return transition(state, {"type": "failed", "job": state.job, "token": state.token, **fields}, T0 + 1)


# -- the agent: which outcome says "no model called" ------------------------------------------------------


def run_chain(tmp_path: Path, breaker: Breaker, **job: Any) -> Outcome:
    record = make_attempt(tmp_path, {"id": "ask", "model": "openai/a", "fallbacks": ["openai/b"],
                                     "prompt": "say hi", **job})
    try:
        return asyncio.run(LLMAgent(breaker).run(record.ctx))
    finally:
        record.close()


def test_an_attempt_whose_every_model_cools_ends_not_called_due_at_the_soonest_end(tmp_path: Path) -> None:
    breaker = Breaker(clock=lambda: T0)
    breaker.record_retry_after("openai/a", "rate_limit with Retry-After 5m00s", 300)
    breaker.record_retry_after("openai/b", "rate_limit with Retry-After 2m00s", 120)
    outcome = run_chain(tmp_path, breaker)
    assert (outcome.ok, outcome.reason, outcome.failure) == (False, NOT_CALLED, Failure.TRANSIENT)
    assert outcome.retry_after == 120 and outcome.model == "openai/b"
    assert outcome.message == ("every model cools down, none was called: openai/b is cooling down for 120s more "
                               "after rate_limit with Retry-After 2m00s")
    assert outcome.usage == {"calls": 0}


# -- the runner's verdict and the state machine --------------------------------------------------------


def job(max_attempts: int) -> Any:
    return Spec.model_validate({"jobs": [{"id": "ask", "model": "openai/a", "prompt": "hi",
                                          "retry": {"max_attempts": max_attempts, "delay": 1}}]}).jobs[0]


def test_the_verdict_on_an_attempt_that_called_nothing_retries_it_at_the_cooldowns_end_with_no_try_left() -> None:
    claim = Claimed("ask", 1, 7, "default", 1, Path("/nonexistent"), -1, T0)  # its one try, taken
    nothing = Outcome.failed(NOT_CALLED, Failure.TRANSIENT, "every model cools down, none was called: ...",
                             retry_after=120.0, model="openai/a")
    event = verdict(job(1), claim, nothing, [], T0)
    assert (event["reason"], event["failure"], event["retry_at"]) == (NOT_CALLED, "transient", T0 + 120)

    called = Outcome.failed("cooldown", Failure.TRANSIENT, "openai/b is cooling down", retry_after=120.0)
    assert "retry_at" not in verdict(job(1), claim, called, [], T0), "a try spent calling a model is spent"


def test_an_attempt_that_called_nothing_gives_its_try_back() -> None:
    state = claimed(JobState("ask"), seq=7)
    assert state.tries == 1
    state = failed(state, reason=NOT_CALLED, failure="transient", retry_at=T0 + 120, message="every model cools")
    assert (state.status, state.tries, state.not_before) == (Status.BACKLOG, 0, T0 + 120)
    assert state.attempts[-1].reason == NOT_CALLED


def test_old_events_fold_as_before() -> None:
    """A `cooldown` failure that called nothing (a pinned job's, before) spent its try then; it still does, or
    a deck's tries would change under it on upgrade. A reason of no string type folds as any other failure."""
    old = failed(claimed(JobState("ask"), seq=7), reason="cooldown", failure="transient", retry_at=T0 + 120,
                 usage={"calls": 0})
    assert (old.status, old.tries) == (Status.BACKLOG, 1)
    final = failed(claimed(JobState("ask"), seq=7), reason="cooldown", failure="transient", usage={"calls": 0})
    assert (final.status, final.tries) == (Status.FAILED, 1)
    odd = failed(claimed(JobState("ask"), seq=7), reason=["not_called"], retry_at=T0 + 1)
    assert (odd.status, odd.tries) == (Status.BACKLOG, 1)


# -- the gates: a pin passes the service's judgement, not a provider's cooldown ------------------------


def gates_of(cooling: dict[str, tuple[float, str]], **job: Any) -> tuple[Heuristic, Outlook]:
    spec = Spec.model_validate({"decide": {"mode": "live", "budget": {"daily": 1.0}},
                                "agents": {"llm": {"type": "llm", "model": "openai/a", "fallbacks": ["openai/b"]}},
                                "jobs": [{"id": "ask", "agent": "llm", "prompt": "hi", **job}]})
    return Heuristic(policy_of(spec), Board({})), Outlook(T0, spent_today=1.0, cooldowns=cooling)


def pinned() -> JobState:
    return JobState("ask", Status.BACKLOG, since=T0 - 60, override="pin", override_at=T0 - 30)


def test_a_pinned_job_whose_every_model_cools_is_deferred_until_the_soonest_end() -> None:
    heuristic, outlook = gates_of({"openai/a": (T0 + 300, "rate_limit"), "openai/b": (T0 + 45, "server_error")},
                                  window="12:00-13:00")
    found = heuristic.verdict("ask", pinned(), outlook)
    assert (found.action, found.needs, found.until) == (DEFER, "cooldown", T0 + 45)
    assert found.reasons[0] == ("pinned, but all 2 of its models cool down until 00:54:05 UTC (server_error)")
    assert [gate.needs for gate in found.gates] == ["cooldown"], "a pin still passes the window and the budget"
    for written_only in (True, False):
        assert heuristic.gate("ask", pinned(), outlook, written_only=written_only)[0] == DEFER


def test_a_pinned_job_with_a_model_to_call_passes_every_gate() -> None:
    heuristic, outlook = gates_of({"openai/a": (T0 + 300, "rate_limit")}, window="12:00-13:00")
    assert heuristic.verdict("ask", pinned(), outlook).action == START
    unpinned = pinned()._replace(override=None, override_at=None)
    assert [gate.needs for gate in heuristic.gates("ask", unpinned, outlook)] == ["window", "budget"]


def test_a_pinned_jobs_cooldown_is_said_without_the_hint_to_pin_it() -> None:
    kept = KeptBack("defer", "cooldown", T0 + 40, "⏱ cooldown 00:54:00 UTC", "pinned, but model ... cools")
    assert kept_back_words("ask", kept.action, kept.needs, kept.reason or "") == "deferred: pinned, but model ... cools"
    assert kept_back_words("ask", "defer", "window", "window 12:00-13:00 (UTC) opens at 12:00").endswith(
        "(hint: `jobdeck pin ask` starts it now anyway)")


def test_a_pin_is_given_back_by_an_attempt_that_called_nothing_and_spent_by_one_that_called_a_model() -> None:
    running = claimed(pinned(), seq=7)
    assert running.override is None and running.attempts[-1].pin == {"at": T0 - 30}
    back = failed(running, reason=NOT_CALLED, failure="transient", retry_at=T0 + 120, message="every model cools")
    assert (back.override, back.override_at) == ("pin", T0 - 30), "the pin waits for an attempt that runs"
    assert any(reason.startswith("still pinned: attempt 1 called no model") for reason in back.reasons)
    spent = failed(running, reason="rate_limit", failure="transient", retry_at=T0 + 120, message="429")
    assert spent.override is None, "an attempt that called a model spent the pin"
    assert back.attempts[-1].pin is None and spent.attempts[-1].pin is None, "an ended attempt keeps no pin"
