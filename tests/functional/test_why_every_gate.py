"""A job both a model's cooldown and the day's budget keep back: `why` names both, and the longer one leads.

It read "defer for 24s" and nothing of the budget, so the operator expected a start in 24 s; the runner's
`decided` deferral named only the cooldown, and the card promised a start when it ended. The runner itself
is right to look again when the cooldown ends: only what is said of it was short.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import RunCli
from jobdeck.state.board import open_store
from jobdeck.state.clock import clock_text
from jobdeck.state.deck import Deck, init_deck

MODEL = "openai/gpt-4o-mini"


def cooling_and_spent(root: Path) -> tuple[Deck, float]:
    """A live deck whose day's $1.00 is spent and whose one model cools down for two minutes (past what `run
    --once` waits out); and when the cooldown ends."""
    now = time.time()
    if now % 86400 > 86400 - 600:
        pytest.skip("the budget's day (UTC) turns within ten minutes: the cooldown would outlast the budget's hold")
    spec = {"decide": {"mode": "live", "budget": {"daily": 1.0}},
            "agents": {"ai": {"type": "llm", "model": MODEL}},
            "jobs": [{"id": "spent", "command": ["true"]}, {"id": "ask", "agent": "ai", "prompt": "say hi"}]}
    deck = init_deck(root, json.dumps(spec, indent=1).encode())
    with open_store(deck) as store:  # today: a run of "spent" cost the whole day's budget
        store.commit([{"type": "claimed", "job": "spent", "attempt": 1, "runner": "past"}], now=now - 65)
        store.commit([{"type": "succeeded", "job": "spent", "token": store.board.state("spent").token,
                       "cost": 1.0}], now=now - 60)
        store.commit([{"type": "retried", "job": "spent", "by": "past"}], now=now - 60)
    cool_until = now + 120.0
    (deck.state_dir / "cooldowns.json").write_text(json.dumps({MODEL: {"until": cool_until,
                                                                       "reason": "rate_limit"}}))
    return deck, cool_until


def test_why_names_the_cooldown_and_the_budget_and_leads_with_the_budget(tmp_path: Path, cli: RunCli) -> None:
    deck, cool_until = cooling_and_spent(tmp_path / "d")
    answer = json.loads(cli("why", "ask", "--json", cwd=deck.root).stdout)
    assert [(g["action"], g["needs"]) for g in answer["gates"]] == [("defer", "cooldown"), ("hold", "budget")]
    assert answer["gates"][0]["until"] == cool_until and answer["gates"][1]["until"] > cool_until
    assert answer["headline"] == "it is ready but cannot start now"
    assert len(answer["blocking"]) == 2
    assert answer["blocking"][0].startswith(f"model {MODEL} cools down until ")
    turn = time.time() - time.time() % 86400 + 86400  # named "Dec 09 00:00" when more than 20 hours away
    assert answer["blocking"][1].startswith("budget: $1.00 spent today") and \
        f" (until {clock_text(turn, 'UTC', time.time())} UTC, in " in answer["blocking"][1]
    verdict = answer["verdict"]  # the binding gate: the day's turn, not the cooldown's end
    assert (verdict["action"], verdict["needs"], verdict["until"]) == ("hold", "budget", answer["gates"][1]["until"])

    text = cli("why", "ask", cwd=deck.root).stdout.splitlines()
    assert text[0] == "ask: it is ready but cannot start now"
    assert text[1].startswith(f"  - model {MODEL} cools down until ") and text[2].startswith("  - budget: $1.00 ")
    assert text[3].startswith("decision service (live, policy ") and ": hold for " in text[3] \
        and text[3].endswith(" (needs budget), score 100")


def test_the_runners_deferral_records_every_gate_and_its_card_the_budget(tmp_path: Path, cli: RunCli) -> None:
    deck, cool_until = cooling_and_spent(tmp_path / "d")
    done = cli("run", "--once", "--quiet", cwd=deck.root)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in deck.events_path.read_text().splitlines()]
    [deferred] = [r for r in records if r["type"] == "decided" and r["job"] == "ask"]
    # what the runner does: look again when the cooldown ends
    assert (deferred["action"], deferred["needs"], deferred["until"]) == ("defer", "cooldown", cool_until)
    assert deferred["reasons"][0].startswith(f"model {MODEL} cools down until ")
    assert deferred["reasons"][1].startswith("budget: $1.00 spent today")  # ... and what it will find then
    assert [(g["action"], g["needs"]) for g in deferred["gates"]] == [("defer", "cooldown"), ("hold", "budget")]
    assert deferred["note"] == "⏸ budget"  # the card: no start to expect when the cooldown ends
    rows = {line.split()[0]: line for line in cli("ls", cwd=deck.root).stdout.splitlines()[1:]}
    assert rows["ask"].rstrip().endswith("⏸ budget")
