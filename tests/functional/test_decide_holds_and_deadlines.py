"""A live hold's end in a deadline's path, the budget's exact money, and a daily deadline in off mode, end to end.

Decks are real directories; today's spend is seeded through ``Store.commit``;
`jobdeck run --once`, `why` and `status --check` run as subprocesses, on the
wall clock (each test keeps its times away from a day's turn).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import RunCli
from jobdeck.state.board import open_store
from jobdeck.state.clock import clock_text
from jobdeck.state.deck import Deck, init_deck

MODEL = "openai/gpt-4o-mini"
PRICED = 0.020999999999999998
"""$0.021 as a model's per-token price gives it: a float just under it."""


def llm_job(job_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": job_id, "model": MODEL, "prompt": "hi", "mock_response": "ok", **fields}


def deck_of(root: Path, jobs: list[dict[str, Any]], **decide: Any) -> Deck:
    return init_deck(root, json.dumps({"decide": decide, "jobs": jobs} if decide else {"jobs": jobs}).encode())


def spent_today(deck: Deck, job: str, cost: float, model: str | None = None) -> None:
    """One attempt of ``job`` that ended a minute ago and cost ``cost``, on ``model`` if given."""
    with open_store(deck) as store:
        start = time.time() - 60
        store.commit([{"type": "claimed", "job": job, "attempt": 1, "runner": "past"}], now=start)
        ended = {"type": "succeeded", "job": job, "token": store.board.state(job).token, "cost": cost,
                 **({"model": model} if model else {})}
        store.commit([ended], now=start + 5)


def decided(deck: Deck) -> list[dict[str, Any]]:
    return [r for r in map(json.loads, deck.events_path.read_text().splitlines()) if r["type"] == "decided"]


def test_a_budget_hold_upstream_of_a_deadline_is_told_at_risk_with_when_the_hold_ends(tmp_path: Path,
                                                                                      cli: RunCli) -> None:
    now = time.time()
    if now % 86400 > 86400 - 30 * 60:
        pytest.skip("the budget's day turns (00:00 UTC) within the test's deadline")
    deadline = time.strftime("%H:%M", time.gmtime(now + 12 * 60))  # 11-12 minutes out: the path needs 10
    deck = deck_of(tmp_path / "d", [{"id": "spent", "command": ["true"]}, llm_job("enrich"),
                                    {"id": "report", "command": ["true"], "depends_on": ["enrich"],
                                     "deadline": deadline}],
                   mode="live", budget={"daily": 0.03}, default_cost=0.021)
    spent_today(deck, "spent", 0.021)
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    [hold] = [n for n in decided(deck) if n["action"] == "hold"]
    midnight = now - now % 86400 + 86400
    assert (hold["job"], hold["needs"], hold["until"]) == ("enrich", "budget", midnight)
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0  # (cron's next run: a runner's next look)
    [risk] = [n for n in decided(deck) if n["action"] == "at_risk"]
    assert risk["job"] == "report"
    # (the day's turn as reasons name a time: "Dec 09 00:00" when it is more than 20 hours away, in the small hours)
    turn, after = clock_text(midnight, "UTC", time.time()), clock_text(midnight + 600, "UTC", time.time())
    assert risk["reasons"][0].startswith(f"deadline {deadline} UTC cannot be met: enrich is held for the budget "
                                         f"until {turn} UTC, so at p90 it ends about {after}, "), risk["reasons"]
    why = cli("why", "report", cwd=deck.root).stdout
    assert f"  - deadline {deadline} UTC cannot be met: enrich is held for the budget until {turn} UTC, " in why, why
    assert "slack" not in why


def test_the_budget_holds_a_new_model_job_once_the_day_is_spent_to_the_picodollar(tmp_path: Path,
                                                                                  cli: RunCli) -> None:
    # two llm jobs ran today at $0.021 each on the model a third, new one calls: it is estimated at their mean
    deck = deck_of(tmp_path / "d", [llm_job("c1"), llm_job("c2"), llm_job("c4")], mode="live",
                   budget={"daily": 0.042})
    for job in ("c1", "c2"):
        spent_today(deck, job, PRICED, MODEL)
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    [hold] = [n for n in decided(deck) if n["job"] == "c4"]
    assert (hold["action"], hold["needs"]) == ("hold", "budget")
    assert hold["reasons"][0] == ("budget: $0.042 spent today + $0.00 running or starting first + up to $0.021 for "
                                  "this job > $0.042 a day")
    answer = json.loads(cli("why", "c4", "--json", cwd=deck.root).stdout)
    assert answer["verdict"]["action"] == "hold"
    assert f"no history: assumed 5m00s, $0.021, {MODEL}'s mean" in answer["verdict"]["reasons"]
    # with no history on its model to go by (default_cost 0), the day's budget spent to the picodollar holds it
    other = deck_of(tmp_path / "e", [{"id": "s1", "command": ["true"]}, {"id": "s2", "command": ["true"]},
                                     llm_job("c4")], mode="live", budget={"daily": 0.042})
    for job in ("s1", "s2"):
        spent_today(other, job, PRICED)
    assert cli("run", "--once", "--quiet", cwd=other.root).returncode == 0
    [hold] = [n for n in decided(other) if n["job"] == "c4"]
    assert hold["reasons"][0] == ("budget: $0.042 spent today + $0.00 running or starting first >= $0.042 a day, "
                                  f"and it calls {MODEL}")
    assert [r for r in map(json.loads, other.events_path.read_text().splitlines())
            if r["type"] == "claimed" and r["job"] == "c4"] == []


def test_in_off_mode_a_daily_deadline_passed_today_is_missed_in_why_and_status_check(tmp_path: Path,
                                                                                     cli: RunCli) -> None:
    # a zone where it is about noon now, so "two minutes ago" is today's, whatever the hour in UTC
    offset = 12 - time.gmtime().tm_hour
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # (Etc's signs are POSIX's: Etc/GMT-3 is UTC+3)
    deadline = time.strftime("%H:%M", time.gmtime(time.time() + offset * 3600 - 120))
    deck = deck_of(tmp_path / "d", [{"id": "offdl2", "command": ["echo", "x"], "deadline": deadline,
                                     "timezone": zone, "paused": True}])
    check = cli("status", "--check", "--json", cwd=deck.root)
    assert check.returncode == 1, check.stdout
    [problem] = [p for p in json.loads(check.stdout)["problems"] if p["kind"] == "deadline_missed"]
    assert problem["job"] == "offdl2" and 60 <= problem["age"] < 180
    assert problem["message"].startswith(f"offdl2 missed its deadline {deadline} {zone} ")
    why = cli("why", "offdl2", cwd=deck.root).stdout
    assert f"  - deadline {deadline} {zone} missed " in why, why
    assert "slack" not in why
