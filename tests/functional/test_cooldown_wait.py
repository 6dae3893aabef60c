"""A job whose every model cools down waits for the cooldown's end, in every mode, without spending an attempt.

A real HTTP server on 127.0.0.1 stands in for the provider: the first job's 429 with a long Retry-After opens
the model's cooldown in ``.jobdeck/cooldowns.json``; `jobdeck run --once` runs as a subprocess. The second job,
on the same model, must not be claimed (an attempt that calls nothing would count against its max_attempts):
it is deferred until the cooldown ends, told once in the chain of work, named by `jobdeck why` and by the
run's summary, and started by the runner's timer as soon as the cooldown is over.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from conftest import RunCli, records  # noqa: E402
from jobdeck.decide.times import zoned_text  # noqa: E402
from jobdeck.state.cooldowns import cooldown_key, cooldown_label  # noqa: E402
from jobdeck.state.deck import Deck, init_deck  # noqa: E402
from tests.fixtures.llm_server import LLMServer, rate_limited  # noqa: E402

MODEL, WIRE = "openai/gpt-4o-mini", "gpt-4o-mini"  # WIRE: the name the server sees
KEY_VAR = "JOBDECK_TEST_COOLDOWN_WAIT_KEY"
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", KEY_VAR: "sk-cooldown-wait-test"}


def two_jobs(root: Path, base_url: str, mode: str, *, first_attempts: int = 2,
             options: dict[str, Any] | None = None) -> Deck:
    """``first`` (priority 9) and ``second`` on one model, one slot, decide mode ``mode``."""
    agent = {"type": "llm", "model": MODEL, "api_base": base_url, "api_key": {"env": KEY_VAR},
             **({"options": options} if options else {})}
    jobs = [{"id": "first", "agent": "ai", "prompt": "say hi", "priority": 9,
             "retry": {"max_attempts": first_attempts}},
            {"id": "second", "agent": "ai", "prompt": "say hi", "priority": 1, "retry": {"max_attempts": 2}}]
    spec = {"decide": {"mode": mode}, "limits": {"parallel": 1}, "agents": {"ai": agent}, "jobs": jobs}
    return init_deck(root, json.dumps(spec, indent=1).encode())


def clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at))


@pytest.mark.parametrize("mode", ["off", "shadow", "advise", "live"])
def test_a_job_whose_model_cools_waits_for_the_cooldown_without_spending_an_attempt(
        tmp_path: Path, cli: RunCli, server: LLMServer, mode: str) -> None:
    server.script(WIRE, rate_limited("300"))
    deck = two_jobs(tmp_path / "deck", server.base_url, mode)

    done = cli("run", "--once", cwd=deck.root, env=ENV)
    assert done.returncode == 1, done.stderr  # first: not done, its retry due after the cooldown
    assert len(server.calls(WIRE)) == 1, "the second job was sent into the rate limit"
    until = json.loads((deck.state_dir / "cooldowns.json").read_text())[cooldown_key(MODEL, server.base_url,
                                                                                      KEY_VAR)]["until"]

    events = records(deck)
    assert [e["job"] for e in events if e["type"] == "claimed"] == ["first"], "an attempt that could call nothing"
    [deferred] = [e for e in events if e["type"] == "decided" and e["job"] == "second"
                  and e["action"] != "start"]  # (shadow and advise also record each claim's advice)
    assert (deferred["action"], deferred["needs"], deferred["mode"]) == ("defer", "cooldown", mode)
    assert deferred["until"] == pytest.approx(until, abs=0.01)
    cools = f"model {cooldown_label(MODEL, server.base_url, KEY_VAR)} cools down until {zoned_text(until, 'UTC', deferred['ts'], seconds=True)}"
    assert deferred["reasons"][0] == f"{cools} (rate_limit with Retry-After 5m00s)"
    assert f"waiting for a model's cooldown: second until {clock(until)} UTC" in done.stderr

    listed = cli("ls", "--json", cwd=deck.root)
    assert listed.returncode == 0, listed.stderr
    [second] = [job for job in json.loads(listed.stdout) if job["id"] == "second"]
    assert (second["column"], second["attempt"]) == ("backlog", 0)

    said = cli("why", "second", cwd=deck.root)
    assert said.returncode == 0, said.stderr
    assert cools in said.stdout

    again = cli("run", "--once", "--json", cwd=deck.root, env=ENV)  # cron's next run, the cooldown still on
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout.splitlines()[-1])
    assert summary["cooling"] == {"second": pytest.approx(until, abs=0.01)}
    assert len(server.calls(WIRE)) == 1
    assert records(deck)[len(events):] == [], "the wait was told again"


@pytest.mark.parametrize("mode", ["off", "live"])
def test_the_waiting_job_starts_as_soon_as_the_cooldown_ends(
        tmp_path: Path, cli: RunCli, server: LLMServer, mode: str) -> None:
    # a Retry-After past max_retry_wait cools the model down for 3 s; the first job has no attempt left
    server.script(WIRE, rate_limited("3"))
    deck = two_jobs(tmp_path / "deck", server.base_url, mode, first_attempts=1, options={"max_retry_wait": 0.1})

    done = cli("run", "--once", cwd=deck.root, env=ENV)
    assert done.returncode == 1, done.stderr  # first failed for good
    events = records(deck)
    [deferred] = [e for e in events if e["type"] == "decided" and e["job"] == "second" and e["action"] == "defer"]
    [claim] = [e for e in events if e["type"] == "claimed" and e["job"] == "second"]
    assert claim["attempt"] == 1
    assert deferred["until"] <= claim["ts"] < deferred["until"] + 2.0, "not started when the cooldown ended"
    [ended] = [e for e in events if e.get("job") == "second" and e["type"] in ("succeeded", "failed")]
    assert ended["type"] == "succeeded"
    assert len(server.calls(WIRE)) == 2


def test_a_dead_endpoint_cools_only_the_agents_that_call_it(tmp_path: Path, cli: RunCli, server: LLMServer) -> None:
    # Two agents, one model name: ``dead`` on a port where nothing answers (bound, never listening: refused at
    # once), ``fake`` on the healthy stand-in. Connection errors on ``dead`` open its cooldown; the job on
    # ``fake`` must run, not be deferred for the other endpoint's outage.
    import socket

    with socket.socket() as unanswered:
        unanswered.bind(("127.0.0.1", 0))
        dead_base = f"http://127.0.0.1:{unanswered.getsockname()[1]}/v1"
        agents = {"dead": {"type": "llm", "model": MODEL, "api_base": dead_base, "api_key": {"env": KEY_VAR},
                           "options": {"retry_delay": 0.01}},
                  "fake": {"type": "llm", "model": MODEL, "api_base": server.base_url, "api_key": {"env": KEY_VAR}}}
        jobs = [{"id": "doomed", "agent": "dead", "prompt": "say hi", "priority": 9, "retry": {"max_attempts": 1}},
                {"id": "healthy", "agent": "fake", "prompt": "say hi", "priority": 1, "retry": {"max_attempts": 1}}]
        spec = {"decide": {"mode": "off"}, "limits": {"parallel": 1}, "agents": agents, "jobs": jobs}
        deck = init_deck(tmp_path / "deck", json.dumps(spec, indent=1).encode())

        done = cli("run", "--once", cwd=deck.root, env=ENV)

    events = records(deck)
    deferred = [e["reasons"][0] for e in events if e["type"] == "decided" and e["job"] == "healthy"
                and e["action"] != "start"]
    assert deferred == [], "the healthy endpoint was deferred for the dead one's cooldown"
    assert [e["job"] for e in events if e["type"] == "claimed"] == ["doomed", "healthy"], done.stderr
    cooling = json.loads((deck.state_dir / "cooldowns.json").read_text())
    assert list(cooling) == [cooldown_key(MODEL, dead_base, KEY_VAR)], cooling  # the endpoint that failed
    assert cooling[next(iter(cooling))]["reason"] == "connection"
    ended = {e["job"]: e["type"] for e in events if e["type"] in ("succeeded", "failed")}
    assert ended == {"doomed": "failed", "healthy": "succeeded"}
    assert len(server.calls(WIRE)) == 1

    # the same model on the healthy endpoint, on another key variable, or on the default endpoint is not cooling
    assert cooldown_key(MODEL, server.base_url, KEY_VAR) not in cooling
    assert cooldown_key(MODEL, dead_base, "OTHER_TEAM_KEY") != cooldown_key(MODEL, dead_base, KEY_VAR)
    assert cooldown_key(MODEL) == MODEL  # an old entry (a plain model name) still means the default endpoint
    assert KEY_VAR not in cooldown_key(MODEL, dead_base, KEY_VAR)  # a tag of the variable's name, not the name
