"""The model as scorer in a real runner, against the local OpenAI-compatible server on 127.0.0.1.

Each test runs `jobdeck run --once --parallel 1` as a subprocess on a live deck
whose scorer is an llm agent served by ``tests/fixtures/llm_server.py``. The
deck's first job is pinned and waits for a file: it holds the only slot while
the question is out, so the order of the other claims shows whether the answer
was followed. The test lets it end only once the runner has recorded the
scorer's ``scored`` event (or, for the hanging server, once the question has
reached the server). Claim order and decisions are read back from the chain of
work.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from conftest import RunCli, records, cli_env  # noqa: E402
from jobdeck.decide.times import day_start  # noqa: E402
from jobdeck.state.board import open_store  # noqa: E402
from jobdeck.state.deck import Deck, init_deck  # noqa: E402
from tests.fixtures.llm_server import LLMServer, Reply, unauthorized  # noqa: E402

MODEL = "openai/gpt-4o-mini"  # in litellm's local price map: the call has a cost to count
WIRE = "gpt-4o-mini"  # the name the server sees
KEY_VAR = "JOBDECK_TEST_SCORER_KEY"
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", KEY_VAR: "sk-scorer-test"}
QUEUED = ["a", "b", "c", "d"]


def scorer_deck(root: Path, server: LLMServer, *, timeout: str = "10s", jobs: list[dict[str, Any]] | None = None,
                **decide: Any) -> Deck:
    """A live deck: ``gate`` (pinned, waits for ROOT/go), then a, b, c, d (``true``), in that written order."""
    gate = {"id": "gate", "command": ["sh", "-c", f"while [ ! -e '{root / 'go'}' ]; do sleep 0.02; done"]}
    spec = {
        "agents": {"ranker": {"type": "llm", "model": MODEL, "api_base": server.base_url,
                              "api_key": {"env": KEY_VAR}}},
        "decide": {"mode": "live", "scorer": {"agent": "ranker", "timeout": timeout, "min_confidence": 0.5},
                   **decide},
        "jobs": [gate, *(jobs or [{"id": job, "command": ["true"]} for job in QUEUED])],
    }
    deck = init_deck(root / "deck", json.dumps(spec, indent=1).encode())
    with open_store(deck) as store:
        store.commit([{"type": "pinned", "job": "gate", "by": "test"}])
    return deck


def claims(deck: Deck) -> list[str]:
    return [r["job"] for r in records(deck) if r["type"] == "claimed"]


def scored(deck: Deck) -> list[dict[str, Any]]:
    return [r for r in records(deck) if r["type"] == "scored"]


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def start_runner(deck: Deck) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--once", "--parallel", "1", "--quiet"],
                            cwd=deck.root, env=cli_env(ENV), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def run_through_one_answer(deck: Deck) -> dict[str, Any]:
    """Run the deck; let the gate job end once the scorer's answer is recorded; return that ``scored`` event."""
    runner = start_runner(deck)
    try:
        [event] = wait_for(lambda: scored(deck), 90, "the scorer's answer in the log")
        (deck.root.parent / "go").touch()
        _, err = runner.communicate(timeout=90)
    finally:
        runner.kill()
    assert runner.returncode == 0, err
    return event


def answer(order: list[str], confidence: float = 0.9, **extra: Any) -> Reply:
    reasons = {job: f"{job} unblocks the most work" for job in order}
    return Reply([json.dumps({"order": order, "reasons": reasons, "confidence": confidence, **extra})])


def test_a_good_answer_reorders_live_claims_and_its_reasons_and_cost_are_recorded(tmp_path: Path,
                                                                                    server: LLMServer,
                                                                                    cli: RunCli) -> None:
    deck = scorer_deck(tmp_path, server)
    server.script(WIRE, answer(["d", "c", "b", "a"]))
    event = run_through_one_answer(deck)
    assert event["outcome"] == "accepted" and event["order"] == ["d", "c", "b", "a"] and event["jobs"] == 4
    assert claims(deck) == ["gate", "d", "c", "b", "a"]  # written order would be gate, a, b, c, d
    [asked] = server.calls(WIRE)
    question = json.loads(asked.messages[-1]["content"])
    assert [job["id"] for job in question["jobs"]] == QUEUED  # the pinned job is not the model's to place
    assert {"class", "score", "reasons", "deadline", "slack_s", "p90_s", "failure_rate", "cost_usd", "priority",
            "waiting_s", "max_wait_s"} <= set(question["jobs"][0])
    decided = {r["job"]: r for r in records(deck) if r["type"] == "decided"}
    assert decided["d"]["reasons"][0] == "ranker: d unblocks the most work"
    assert decided["d"]["scorer"] == "ranked by ranker (confidence 0.90)" and decided["d"]["scorer_place"] == 1
    assert event["cost"] > 0  # priced from litellm's local map
    with open_store(deck) as store:  # the budget gate's "spent today" includes the ranking
        assert store.board.rollups.cost_since(day_start(time.time())) == pytest.approx(event["cost"])
    assert cli("audit", "verify", cwd=deck.root).returncode == 0
    [today] = json.loads(cli("stats", "--json", cwd=deck.root).stdout)["days"]
    assert today["by_model"] == {MODEL: pytest.approx(event["cost"], abs=1e-6)}  # (stats rounds to 6 places)
    shown = cli("events", cwd=deck.root)
    assert shown.returncode == 0 and "scored" in shown.stdout, shown.stderr


@pytest.mark.parametrize(("reply", "why"), [
    (Reply(["The best order is d, c, b, a."]), "fallback: invalid answer: not JSON"),
    (answer(["d", "c", "b", "zz"]), "fallback: invalid answer: unknown job id(s) zz"),
    (answer(["d", "c", "b"]), "fallback: invalid answer: job id(s) left out: a"),
    (answer(["d", "c", "b", "a"], confidence=0.2), "fallback: confidence 0.20 is below min_confidence 0.50"),
    (unauthorized(f"Incorrect API key provided: {ENV[KEY_VAR]}."), "fallback: auth: HTTP 401: Incorrect API key "
     f"provided: [REDACTED:{KEY_VAR}]."),
], ids=["garbage", "unknown-id", "missing-id", "low-confidence", "provider-error"])
def test_an_unusable_answer_falls_back_to_the_heuristic_and_says_why(tmp_path: Path, server: LLMServer,
                                                                    reply: Reply, why: str) -> None:
    deck = scorer_deck(tmp_path, server)
    server.script(WIRE, reply)
    event = run_through_one_answer(deck)
    assert event["outcome"] == "fallback" and ("fallback: " + event["why"]).startswith(why)
    assert claims(deck) == ["gate", *QUEUED]
    decided = [r for r in records(deck) if r["type"] == "decided" and r["job"] in QUEUED]
    assert [r["job"] for r in decided] == QUEUED and all(r["scorer"].startswith(why) for r in decided)
    assert ENV[KEY_VAR] not in deck.events_path.read_text()


def test_a_ranking_that_would_breach_max_wait_falls_back(tmp_path: Path, server: LLMServer) -> None:
    # Each job is assumed to take 5m (no history); `a` may wait 8m. Last of four behind the gate it would
    # start in ~20m; where the heuristic puts it (first), in ~5m. (A 1m horizon keeps `a` in the normal
    # class, where the scorer may place it: with the default hour, its max_wait alone would put it ahead.)
    jobs = [{"id": "a", "command": ["true"], "max_wait": "8m"}, *({"id": j, "command": ["true"]} for j in "bcd")]
    deck = scorer_deck(tmp_path, server, jobs=jobs, horizon="1m")
    server.script(WIRE, answer(["d", "c", "b", "a"]))
    event = run_through_one_answer(deck)
    assert event["outcome"] == "fallback"
    assert re.fullmatch(r"the order would start a in 20m00s, past its max_wait \(due in 7m[0-5]\ds\)", event["why"])
    assert claims(deck) == ["gate", *QUEUED]


def test_a_job_near_its_max_wait_stays_ahead_whatever_the_answer(tmp_path: Path, server: LLMServer) -> None:
    # `a`'s max_wait (4m) is shorter than a busy slot may take to come free (5m, assumed): urgent from the start,
    # the answer orders only the rest.
    jobs = [{"id": "a", "command": ["true"], "max_wait": "4m"}, *({"id": j, "command": ["true"]} for j in "bcd")]
    deck = scorer_deck(tmp_path, server, jobs=jobs)
    server.script(WIRE, answer(["d", "c", "b", "a"]))
    event = run_through_one_answer(deck)
    assert event["outcome"] == "accepted"
    assert claims(deck) == ["gate", "a", "d", "c", "b"]


def test_an_answer_cannot_start_what_a_gate_holds(tmp_path: Path, server: LLMServer) -> None:
    # d's output goes to review and the one place in the review queue is taken (by r): held, whatever place the
    # model gives it.
    jobs = [*({"id": j, "command": ["true"]} for j in "abc"), {"id": "d", "command": ["true"], "risk": "medium"},
            {"id": "r", "command": ["true"], "risk": "medium"}]
    deck = scorer_deck(tmp_path, server, jobs=jobs, review_capacity=1)
    with open_store(deck) as store:  # r ran before: its output waits for review
        store.commit([{"type": "claimed", "job": "r", "attempt": 1, "runner": "past"}])
        store.commit([{"type": "succeeded", "job": "r", "token": store.board.state("r").token,
                       "review": True}])
        assert store.board.state("r").status == "review"
    server.script(WIRE, answer(["d", "c", "b", "a"]))
    event = run_through_one_answer(deck)
    assert event["outcome"] == "accepted"
    assert claims(deck) == ["r", "gate", "c", "b", "a"]  # (r's: the one seeded above)
    [hold] = [r for r in records(deck) if r["type"] == "decided" and r["action"] == "hold"]
    assert (hold["job"], hold["needs"]) == ("d", "reviews")


def test_a_late_answer_falls_back(tmp_path: Path, server: LLMServer) -> None:
    deck = scorer_deck(tmp_path, server, timeout="2s")
    server.script(WIRE, Reply([json.dumps({"order": ["d", "c", "b", "a"], "confidence": 1.0})], latency=30))
    event = run_through_one_answer(deck)
    assert (event["outcome"], event["why"]) == ("fallback", "timeout after 2s")
    assert 2.0 <= event["seconds"] < 10.0
    assert claims(deck) == ["gate", *QUEUED]
    assert all(r["scorer"] == "fallback: timeout after 2s" for r in records(deck)
               if r["type"] == "decided" and r["job"] in QUEUED)


def test_the_runner_never_waits_on_a_hanging_scorer(tmp_path: Path, server: LLMServer) -> None:
    """Claims go on while the question hangs, and `run --once` ends without waiting for the answer."""
    timeout = 30.0
    deck = scorer_deck(tmp_path, server, timeout=f"{timeout:g}s")
    server.script(WIRE, Reply(["{}"], latency=120))  # answers only when the server stops
    started = time.time()
    runner = start_runner(deck)
    try:
        [asked] = server.wait_for_requests(1, timeout=90)
        (deck.root.parent / "go").touch()
        _, err = runner.communicate(timeout=timeout)
    finally:
        runner.kill()
    ended = time.time()
    assert runner.returncode == 0, err
    claimed = [r for r in records(deck) if r["type"] == "claimed"]
    assert [r["job"] for r in claimed] == ["gate", *QUEUED]
    assert claimed[0]["ts"] < asked.wall + 1.0  # the first claim did not wait for the question to be answered
    assert all(asked.wall <= r["ts"] < asked.wall + timeout for r in claimed[1:])  # claimed while it hung
    assert ended - asked.wall < timeout and scored(deck) == []  # ended with the question still out
    print(f"first claim {claimed[0]['ts'] - started:.2f}s after the runner was started; question reached the "
          f"server {asked.wall - started:.2f}s after; the run ended {ended - asked.wall:.2f}s after that")
