"""An attempt that could call no model, because every one cools down, costs the job none of its tries.

Two ways an llm job met its models all cooling and spent a try calling nothing: it was pinned (a pin went past
every gate, the cooldown's too), or another runner opened the cooldown between its claim and its first call.
Now a pinned job waits for the cooldown like any other (its pin kept, told once), and an attempt that still
meets every model cooling ends ``not_called``, gives its try back and is due when the soonest cooldown ends.

Real processes throughout: `jobdeck run --once` as a subprocess, a real HTTP server on 127.0.0.1 standing in for
the provider (tests/fixtures/llm_server.py), and ``.jobdeck/cooldowns.json`` written as the breaker writes it
(``state.cooldowns``), which is what another runner's breaker does when a provider refuses it.
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
from jobdeck.state.cooldowns import COOLDOWN_FILE, cooldown_key, cooldown_label, cooldowns_data  # noqa: E402
from jobdeck.state.deck import Deck, init_deck  # noqa: E402
from tests.fixtures.llm_server import LLMServer, rate_limited  # noqa: E402
from tests.functional import cooldown_race  # noqa: E402

MODEL, WIRE = "openai/gpt-4o-mini", "gpt-4o-mini"  # WIRE: the name the server sees
BACKUP, BACKUP_WIRE = "openai/gpt-4o", "gpt-4o"
KEY_VAR = "JOBDECK_TEST_COOLDOWN_NO_TRY_KEY"
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", KEY_VAR: "sk-cooldown-no-try-test"}
WHY = "rate_limit with Retry-After 5m00s"
NOT_CALLED = "not_called"
"""The reason of an attempt that called no model (every one cooling): the log's word, kept as it is on disk."""


def llm_deck(root: Path, base_url: str, mode: str, jobs: list[dict[str, Any]],
             options: dict[str, Any] | None = None) -> Deck:
    agent = {"type": "llm", "model": MODEL, "api_base": base_url, "api_key": {"env": KEY_VAR},
             **({"options": options} if options else {})}
    spec = {"decide": {"mode": mode}, "agents": {"ai": agent}, "jobs": jobs}
    return init_deck(root, json.dumps(spec, indent=1).encode())


def cool(deck: Deck, seconds: float, *models: str) -> float:
    """Open a cooldown of ``models`` at agent ai's endpoint for ``seconds``, as a runner's breaker shares it;
    returns its end."""
    until = time.time() + seconds
    base = json.loads((deck.root / "jobs.json").read_text())["agents"]["ai"]["api_base"]
    keys = [cooldown_key(model, base, KEY_VAR) for model in models]
    (deck.state_dir / COOLDOWN_FILE).write_bytes(cooldowns_data({key: (until, WHY) for key in keys}))
    return until


def cards(cli: RunCli, deck: Deck) -> dict[str, dict[str, Any]]:
    listed = cli("ls", "--json", cwd=deck.root)
    assert listed.returncode == 0, listed.stderr
    return {card["id"]: card for card in json.loads(listed.stdout)}


@pytest.mark.parametrize("mode", ["off", "live"])
def test_a_pinned_job_whose_every_model_cools_keeps_its_pin_and_its_try(
        tmp_path: Path, cli: RunCli, server: LLMServer, mode: str) -> None:
    deck = llm_deck(tmp_path / "deck", server.base_url, mode,
                    [{"id": "urgent", "agent": "ai", "prompt": "say hi", "retry": {"max_attempts": 1}}])
    until = cool(deck, 300, MODEL)
    waited = cli("run", "--once", cwd=deck.root, env=ENV)  # the operator sees it wait, and pins it
    assert waited.returncode == 0, waited.stderr
    assert cli("pin", "urgent", cwd=deck.root).returncode == 0

    done = cli("run", "--once", cwd=deck.root, env=ENV)
    events = records(deck)
    assert [e for e in events if e["type"] == "claimed"] == [], "a pin claimed an attempt that could call nothing"
    assert server.calls() == []
    [before, deferred] = [e for e in events if e["type"] == "decided"]  # told again: the pin is news
    for told in (before, deferred):
        assert (told["job"], told["action"], told["needs"]) == ("urgent", "defer", "cooldown")
        assert told["until"] == pytest.approx(until, abs=0.01)
    cools = f"model {cooldown_label(MODEL, server.base_url, KEY_VAR)} cools down until {zoned_text(until, 'UTC', deferred['ts'], seconds=True)} ({WHY})"
    said = f"pinned, but {cools}"  # the cooldown's own words, told of a pinned job
    assert (before["reasons"][0], deferred["reasons"][0]) == (cools, said)
    assert f" urgent deferred: {said}\n" in done.stdout  # the runner's line: no hint to pin what is pinned
    assert done.returncode == 0, done.stderr  # nothing failed: the job waits, and the summary says for what
    assert f"waiting for a model's cooldown: urgent until {time.strftime('%H:%M:%S', time.gmtime(until))} UTC" \
        in done.stderr

    card = cards(cli, deck)["urgent"]
    assert (card["column"], card["attempt"]) == ("backlog", 0)
    assert "pinned to start next" in card["flags"], "the pin was lost"
    why = cli("why", "urgent", cwd=deck.root)
    assert why.returncode == 0, why.stderr
    assert said in why.stdout

    again = cli("run", "--once", cwd=deck.root, env=ENV)  # cron's next run, the cooldown still on
    assert again.returncode == 0, again.stderr
    assert records(deck)[len(events):] == [], "the wait was told again"
    assert server.calls() == []


def test_a_pinned_job_starts_first_once_the_cooldown_ends(tmp_path: Path, cli: RunCli, server: LLMServer) -> None:
    deck = llm_deck(tmp_path / "deck", server.base_url, "off",
                    [{"id": "other", "command": ["true"], "priority": 9},
                     {"id": "urgent", "agent": "ai", "prompt": "say hi", "retry": {"max_attempts": 1}}])
    until = cool(deck, 6, MODEL)
    assert cli("pin", "urgent", cwd=deck.root).returncode == 0

    done = cli("run", "--once", cwd=deck.root, env=ENV)  # it waits for a cooldown that ends within a minute
    assert done.returncode == 0, done.stderr
    events = records(deck)
    [deferred] = [e for e in events if e["type"] == "decided" and e["job"] == "urgent"]
    [claim] = [e for e in events if e["type"] == "claimed" and e["job"] == "urgent"]
    assert claim["attempt"] == 1
    assert deferred["until"] <= claim["ts"] < deferred["until"] + 2.0, "not started when the cooldown ended"
    [ended] = [e for e in events if e.get("job") == "urgent" and e["type"] in ("succeeded", "failed")]
    assert ended["type"] == "succeeded"
    assert len(server.calls(WIRE)) == 1 and until <= server.calls(WIRE)[0].wall
    assert "pinned to start next" not in cards(cli, deck)["urgent"]["flags"], "the claim spends the pin"


def test_an_attempt_claimed_as_another_runner_opens_a_cooldown_gives_its_try_back(
        tmp_path: Path, cli: RunCli, server: LLMServer) -> None:
    """The race, made deterministic: the attempt reads its prompt from its dependency's output, a FIFO, so it
    waits there after its claim passed the gates; the test opens the cooldown, then lets the attempt go on."""
    deck = cooldown_race.held_source(llm_deck(tmp_path / "deck", server.base_url, "off", cooldown_race.JOBS))

    # another runner's provider answered 429 just now
    run, until = cooldown_race.lose_the_race(deck, ENV, lambda: cool(deck, 5, MODEL))
    runner, err = run, run.stderr
    assert runner.returncode == 0, err

    events = [e for e in records(deck) if e.get("job") == "ask"]
    first, second = [e for e in events if e["type"] in ("succeeded", "failed")]
    assert (first["type"], first["reason"], first["failure"]) == ("failed", NOT_CALLED, "transient")
    assert first["retry_at"] == pytest.approx(until, abs=0.5), "not due when the cooldown ends"
    assert first["message"].startswith("every model cools down, none was called: ")
    assert second["type"] == "succeeded", "the try the first attempt could not use was spent"
    [_, claim] = [e for e in events if e["type"] == "claimed"]
    assert claim["attempt"] == 2 and until <= claim["ts"]
    assert len(server.calls(WIRE)) == 1 and until <= server.calls(WIRE)[0].wall


def test_an_attempt_that_called_a_model_spends_its_try_though_the_rest_cool(
        tmp_path: Path, cli: RunCli, server: LLMServer) -> None:
    """The first model answered 429 (a wait the attempt leaves to the runner); the fallback cools down for less,
    so the attempt ends `cooldown`, after a real call: that try was spent, as any provider refusal's is."""
    server.script(WIRE, rate_limited("300"))
    deck = llm_deck(tmp_path / "deck", server.base_url, "off",
                    [{"id": "ask", "agent": "ai", "prompt": "say hi", "fallbacks": [BACKUP],
                      "retry": {"max_attempts": 1}}], options={"retries": 0, "max_retry_wait": 600})
    cool(deck, 120, BACKUP)

    done = cli("run", "--once", cwd=deck.root, env=ENV)
    assert done.returncode == 1, done.stderr
    [ended] = [e for e in records(deck) if e.get("job") == "ask" and e["type"] in ("succeeded", "failed")]
    assert (ended["type"], ended["reason"], ended.get("retry_at")) == ("failed", "cooldown", None)
    assert ended["usage"]["calls"] == 1
    assert cards(cli, deck)["ask"]["column"] == "failed"
    assert len(server.calls(WIRE)) == 1 and server.calls(BACKUP_WIRE) == []


def deferred_for_a_cooldown(tmp_path: Path, cli: RunCli, server: LLMServer) -> Deck:
    """A deck whose one llm job, urgent, a runner deferred for its model's cooldown (5 minutes more)."""
    deck = llm_deck(tmp_path / "deck", server.base_url, "off", [{"id": "urgent", "agent": "ai", "prompt": "say hi"}])
    cool(deck, 300, MODEL)
    assert cli("run", "--once", cwd=deck.root, env=ENV).returncode == 0
    return deck


def test_release_of_a_job_a_cooldown_defers_says_nothing_starts_it_sooner(
        tmp_path: Path, cli: RunCli, server: LLMServer) -> None:
    """Its refusal pointed at `jobdeck pin`, which a cooldown does not pass."""
    deck = deferred_for_a_cooldown(tmp_path, cli, server)
    refused = cli("release", "urgent", cwd=deck.root)
    assert refused.returncode == 1
    assert refused.stderr.startswith("jobdeck: cannot release job 'urgent': the operator did not pin or hold it; "
                                     f"it waits for its models' cooldown: model {cooldown_label(MODEL, server.base_url, KEY_VAR)} "
                                     "cools down until "), \
        refused.stderr
    assert refused.stderr.endswith("(hint: it starts when the cooldown ends; nothing starts it sooner)\n")
    assert "pin" not in refused.stderr.split("(hint:")[1]


def test_a_pin_of_a_job_a_cooldown_defers_says_it_waits_for_the_cooldown(
        tmp_path: Path, cli: RunCli, server: LLMServer) -> None:
    deck = deferred_for_a_cooldown(tmp_path, cli, server)
    pinned = cli("pin", "urgent", cwd=deck.root)
    assert pinned.returncode == 0 and pinned.stdout.startswith("pinned urgent (event ")
    assert pinned.stderr.startswith(f"jobdeck: urgent: it waits for its models' cooldown: model "
                                    f"{cooldown_label(MODEL, server.base_url, KEY_VAR)} cools down until "), pinned.stderr
    assert pinned.stderr.endswith("; it starts when that ends, pinned first\n"), pinned.stderr
