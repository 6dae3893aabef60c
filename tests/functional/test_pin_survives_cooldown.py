"""A pinned job whose attempt ran nothing keeps its pin: the pin is spent by an attempt that runs, not by a claim.

The cooldown race: a pinned llm job is claimed (no model cools), then another runner opens a cooldown of its
model before the attempt's first call, so the attempt calls nothing and ends ``not_called``, its try given back.
Its pin used to go with the claim, so the operator's "run this next" was dropped without a word. Now the fold
gives the pin back (when it was made, by whom, why: its place among the pins), and the job's state says so.

Real processes throughout: `jobdeck run --once` as a subprocess, a real HTTP server on 127.0.0.1 standing in for
the provider (tests/fixtures/llm_server.py), and ``.jobdeck/cooldowns.json`` written as another runner's breaker
writes it (``state.cooldowns``). The race is made deterministic as in test_cooldown_costs_no_try.py: the attempt
reads its prompt from its dependency's output, a FIFO, so it waits there after its claim passed the gates.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from conftest import RunCli, records  # noqa: E402
from jobdeck.state.board import Board  # noqa: E402
from jobdeck.state.cooldowns import COOLDOWN_FILE, cooldown_key, cooldowns_data  # noqa: E402
from jobdeck.state.deck import Deck, init_deck  # noqa: E402
from jobdeck.state.machine import JobState  # noqa: E402
from tests.fixtures.llm_server import LLMServer  # noqa: E402
from tests.functional import cooldown_race  # noqa: E402

MODEL, WIRE = "openai/gpt-4o-mini", "gpt-4o-mini"  # WIRE: the name the server sees
KEY_VAR = "JOBDECK_TEST_PIN_SURVIVES_KEY"
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", KEY_VAR: "sk-pin-survives-test"}
WHY = "rate_limit with Retry-After 5m00s"
NOT_CALLED = "not_called"
"""The reason of an attempt that called no model (every one cooling): the log's word, kept as it is on disk."""
PIN_REASON = "the release waits on it"


def race_deck(root: Path, base_url: str) -> Deck:
    """``ask`` (llm, pinned by the operator) reads its prompt from ``source``'s output, a FIFO no one writes yet."""
    agent = {"type": "llm", "model": MODEL, "api_base": base_url, "api_key": {"env": KEY_VAR}}
    spec = {"decide": {"mode": "off"}, "agents": {"ai": agent}, "jobs": cooldown_race.JOBS}
    return cooldown_race.held_source(init_deck(root, json.dumps(spec, indent=1).encode()))


def lose_the_race(deck: Deck, cooldown: float) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `jobdeck run --once`; once ask's attempt is past its claim, open a cooldown of its model for
    ``cooldown`` seconds (another runner's 429), then let the attempt go on. Returns the run and the end."""
    def open_cooldown() -> float:
        until = time.time() + cooldown
        base = json.loads((deck.root / "jobs.json").read_text())["agents"]["ai"]["api_base"]
        (deck.state_dir / COOLDOWN_FILE).write_bytes(
            cooldowns_data({cooldown_key(MODEL, base, KEY_VAR): (until, WHY)}))
        return until

    return cooldown_race.lose_the_race(deck, ENV, open_cooldown)


def folded(events: list[dict[str, Any]], job: str) -> JobState:
    """``job``'s state after ``events``, folded as every reader folds the log."""
    board = Board()
    for event in events:
        board.apply(event)
    assert board.rejected == []
    return board.state(job)


def test_a_pinned_attempt_that_called_no_model_keeps_the_pin(tmp_path: Path, cli: RunCli,
                                                             server: LLMServer) -> None:
    deck = race_deck(tmp_path / "deck", server.base_url)
    assert cli("pin", "ask", "--reason", PIN_REASON, cwd=deck.root).returncode == 0
    [pin] = [e for e in records(deck) if e["type"] == "pinned"]

    # A cooldown longer than `run --once` waits: the run ends with the job waiting for it.
    done, until = lose_the_race(deck, 300)
    assert done.returncode == 1 and "retrying after this run: ask at " in done.stderr, done.stderr
    events = [e for e in records(deck) if e.get("job") == "ask"]
    [claim] = [e for e in events if e["type"] == "claimed"]
    [ended] = [e for e in events if e["type"] in ("succeeded", "failed")]
    assert (ended["type"], ended["reason"]) == ("failed", NOT_CALLED)
    assert ended["retry_at"] == pytest.approx(until, abs=0.5)
    assert server.calls() == []

    state = folded(records(deck), "ask")
    assert (state.status.value, state.tries, state.attempt.n) == ("backlog", 0, 1), "the try was not given back"
    assert state.override == "pin", "the pin went with an attempt that called no model"
    # The same pin, not a new one: its place among the pins (when it was made), whose it is and why.
    assert (state.override_at, state.override_by, state.override_reason) == (pin["ts"], pin["by"], PIN_REASON)
    assert claim["seq"] == state.attempt.token and state.attempt.pin is None  # (the job holds it again)

    # The operator sees it: on the card, and `show` says why the pin is still there.
    listed = cli("ls", "--json", cwd=deck.root)
    assert listed.returncode == 0, listed.stderr
    card = {c["id"]: c for c in json.loads(listed.stdout)}["ask"]
    assert (card["column"], card["attempt"]) == ("backlog", 0)
    assert f"pinned to start next: {PIN_REASON}" in card["flags"], card["flags"]
    shown = cli("show", "ask", cwd=deck.root)
    assert shown.returncode == 0, shown.stderr
    assert "still pinned: attempt 1 called no model (every one cools down), so the pin waits for an attempt " \
           "that runs" in shown.stdout, shown.stdout


def test_the_kept_pin_is_spent_by_the_attempt_that_runs(tmp_path: Path, cli: RunCli, server: LLMServer) -> None:
    deck = race_deck(tmp_path / "deck", server.base_url)
    assert cli("pin", "ask", cwd=deck.root).returncode == 0

    # A cooldown `run --once` waits for: the job's next attempt runs in the same run, once it ends.
    done, until = lose_the_race(deck, 4)
    assert done.returncode == 0, done.stderr
    stored = records(deck)
    first, second = [e for e in stored if e.get("job") == "ask" and e["type"] in ("succeeded", "failed")]
    assert (first["type"], first["reason"], second["type"]) == ("failed", NOT_CALLED, "succeeded")

    between = folded(stored[:stored.index(first) + 1], "ask")
    assert (between.override, between.tries) == ("pin", 0), "the pin did not wait for the attempt that runs"
    [_, claim] = [e for e in stored if e.get("job") == "ask" and e["type"] == "claimed"]
    assert claim["attempt"] == 2 and until <= claim["ts"]
    after = folded(stored, "ask")
    assert (after.status.value, after.override, after.tries) == ("done", None, 1), "the pin outlived its run"
    assert len(server.calls(WIRE)) == 1
