"""A provider's Retry-After longer than an attempt waits cools the model down for every job, in a real runner.

A real HTTP server on 127.0.0.1 answers 429 with a Retry-After; `jobdeck run --once` runs as a subprocess in
live mode with two jobs on that model and one slot. The first job's 429 must open the model's cooldown until
the provider said (bounded at an hour), so the decision service defers the second job instead of sending it
into the rate limit.
"""

from __future__ import annotations

import email.utils
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from conftest import RunCli, records  # noqa: E402
from jobdeck.agents.failures import MAX_RETRY_AFTER  # noqa: E402
from jobdeck.state.cooldowns import cooldown_key  # noqa: E402
from jobdeck.state.deck import Deck, init_deck  # noqa: E402
from tests.fixtures.llm_server import LLMServer, rate_limited  # noqa: E402

MODEL, WIRE = "openai/gpt-4o-mini", "gpt-4o-mini"  # WIRE: the name the server sees
KEY_VAR = "JOBDECK_TEST_RETRY_AFTER_KEY"
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", KEY_VAR: "sk-retry-after-test"}
DAY = 86400.0


def live_deck(root: Path, base_url: str) -> Deck:
    agent = {"type": "llm", "model": MODEL, "api_base": base_url, "api_key": {"env": KEY_VAR}}
    jobs = [{"id": job, "agent": "ai", "prompt": "say hi", "priority": priority, "retry": {"max_attempts": 2}}
            for job, priority in (("first", 9), ("second", 1))]
    spec = {"decide": {"mode": "live"}, "limits": {"parallel": 1}, "agents": {"ai": agent}, "jobs": jobs}
    return init_deck(root, json.dumps(spec, indent=1).encode())


@pytest.mark.parametrize(("retry_after", "wait", "words"), [
    ("900", 900.0, "Retry-After 15m00s"),
    # an HTTP date two days out: believed for an hour, and the reason says so
    (email.utils.formatdate(time.time() + 2 * DAY, usegmt=True), MAX_RETRY_AFTER,
     "Retry-After 1d23h, capped at 1h00m"),
], ids=["seconds", "http-date-days-away"])
def test_a_long_retry_after_defers_the_next_job_on_the_model_until_the_provider_said(
        tmp_path: Path, cli: RunCli, server: LLMServer, retry_after: str, wait: float, words: str) -> None:
    server.script(WIRE, rate_limited(retry_after), rate_limited(retry_after))
    deck = live_deck(tmp_path / "deck", server.base_url)

    done = cli("run", "--once", "--quiet", cwd=deck.root, env=ENV)
    assert done.returncode in (0, 1), done.stderr  # 1: a job failed
    calls = server.calls(WIRE)
    assert len(calls) == 1, "the second job was sent into the rate limit"
    asked_at = calls[0].wall

    events = records(deck)
    assert [e["job"] for e in events if e["type"] == "claimed"] == ["first"]
    [failed] = [e for e in events if e["type"] == "failed"]
    assert (failed["job"], failed["reason"]) == ("first", "rate_limit")
    assert asked_at + wait - 1 <= failed["retry_at"] <= time.time() + wait, "its next attempt waits as long"
    [opened] = [e for e in events if e["type"] == "progress" and e["what"] == "cooldown"]
    assert opened["model"] == MODEL and opened["seconds"] == pytest.approx(wait, abs=1)
    assert opened["reason"].startswith("rate_limit: HTTP 429") and opened["reason"].endswith(f"({words})")
    [deferred] = [e for e in events if e["type"] == "decided" and e["job"] == "second"]
    assert (deferred["action"], deferred["needs"]) == ("defer", "cooldown")
    assert deferred["until"] == pytest.approx(asked_at + wait, abs=2)
    assert f"rate_limit with {words}" in deferred["reasons"][0]

    cooling = json.loads((deck.state_dir / "cooldowns.json").read_text())
    key = cooldown_key(MODEL, server.base_url, KEY_VAR)  # the model where it refused, not everywhere
    assert list(cooling) == [key]
    assert asked_at + wait - 1 <= cooling[key]["until"] <= time.time() + wait
    assert cooling[key]["reason"] == f"rate_limit with {words}"

    report = cli("stats", "--json", cwd=deck.root)
    assert report.returncode == 0, report.stderr
    whole = json.loads(report.stdout)["deck"]
    assert (whole["cooldowns"], whole["rate_limits"], whole["cooldown_skips"]) == (1, 1, 0)
