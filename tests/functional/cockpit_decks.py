"""Decks in known states for the cockpit tests, built from real events (no runner needed).

Every event is committed through ``Store.commit`` with an explicit time, so the
board a test sees is fixed; outputs are written where a runner would put them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobdeck.state.board import open_store
from jobdeck.state.deck import Deck, init_deck

NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC: a fixed "now" for every cockpit test

JOBS: list[dict[str, Any]] = [
    {"id": "fetch", "title": "Fetch today's notes", "command": ["echo", "notes"],
     "retry": {"max_attempts": 3}, "labels": ["ingest"]},
    {"id": "summarise", "title": "Summarise the notes", "command": ["cat"], "depends_on": ["fetch"],
     "labels": ["llm"]},
    {"id": "publish", "title": "Publish the summary", "command": ["true"], "risk": "high",
     "depends_on": ["fetch"]},
    {"id": "report", "title": "Weekly report", "command": ["true"], "workspace": "reports",
     "labels": ["llm", "weekly"]},
    {"id": "lint", "title": "Lint the repo", "command": ["false"]},
    {"id": "flaky", "title": "Flaky upload", "command": ["true"], "retry": {"max_attempts": 4}},
    {"id": "deploy", "title": "Deploy", "command": ["true"], "depends_on": ["lint"]},
    {"id": "nightly", "title": "Nightly check", "command": ["date"], "schedule": "0 2 * * *"},
    {"id": "crashy", "title": "Crashy migration", "command": ["true"]},
    {"id": "old", "title": "Old experiment", "command": ["true"]},
    {"id": "held", "title": "Held back", "command": ["true"], "paused": True},
]


def write_spec(deck: Deck, jobs: Sequence[Mapping[str, Any]], **extra: Any) -> None:
    deck.spec_path.write_text(json.dumps({"jobs": list(jobs), **extra}, indent=2) + "\n")


def new_deck(root: Path, jobs: Sequence[Mapping[str, Any]] = JOBS, **extra: Any) -> Deck:
    deck = init_deck(root, b'{"jobs": []}\n')
    write_spec(deck, jobs, **extra)
    return deck


def commit(deck: Deck, events: Sequence[Mapping[str, Any]], at: float) -> list[dict[str, Any]]:
    with open_store(deck) as store:
        records, _ = store.commit(events, now=at)
    return records


def claim(deck: Deck, job: str, at: float, *, workspace: str = "default", output: str | None = None) -> int:
    """Claim the job's next attempt; return the fencing token (the claim's seq)."""
    with open_store(deck) as store:
        n = store.board.state(job).next_attempt
        (record,), _ = store.commit([{"type": "claimed", "job": job, "attempt": n, "runner": "r1",
                                      "workspace": workspace}], now=at)
    directory = deck.attempt_dir(workspace, job, n)
    directory.mkdir(parents=True, exist_ok=True)
    if output is not None:
        (directory / "output").write_text(output)
    return record["seq"]


def run(deck: Deck, job: str, at: float, took: float, outcome: str = "succeeded", *,
        workspace: str = "default", output: str = "", **fields: Any) -> int:
    token = claim(deck, job, at, workspace=workspace, output=output)
    commit(deck, [{"type": outcome, "job": job, "token": token, **fields}], at + took)
    return token


def busy_deck(root: Path, now: float = NOW) -> Deck:
    """A deck with a job in every column and most derived flags."""
    deck = new_deck(root)
    h = 3600.0
    run(deck, "fetch", now - 2 * h, 4.0, output="notes for today\n", cost=0.0)
    claim(deck, "summarise", now - 95, output="Summary so far: the cockpit\n")
    run(deck, "report", now - 50 * 60, 30.0, workspace="reports",
        output='{"title": "weekly"}\n', review=True, reason="validation failed",
        reasons=["missing required field 'summary'", "output is not valid against the schema"],
        cost=0.0123, usage={"prompt_tokens": 812, "completion_tokens": 240})
    run(deck, "lint", now - 40 * 60, 12.0, "failed", output="src/app.py:3: E501 line too long\n",
        reason="exit code 1", exit_code=1, cost=0.0)
    run(deck, "flaky", now - 10 * 60, 2.0, "failed", output="upload failed: 503\n",
        reason="HTTP 503 (transient)", retry_at=now + 5 * 60)
    crash = claim(deck, "crashy", now - 30 * 60, output="migrating table 3 of 7\n")
    commit(deck, [{"type": "interrupted", "job": "crashy", "token": crash}], now - 20 * 60)
    commit(deck, [{"type": "cancelled", "job": "old", "reason": "superseded", "by": "ops@host",
                   "via": "cli"}], now - 3 * h)
    return deck


# -- driving the app ---------------------------------------------------------------


def events(deck: Deck) -> list[dict[str, Any]]:
    """Every record of the deck's events.jsonl."""
    return [json.loads(line) for line in deck.events_path.read_text().splitlines() if line.strip()]


async def wait_until(pilot: Any, condition: Any, timeout: float = 5.0, what: str = "condition") -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)


def column_ids(app: Any, status: str) -> list[str]:
    """Job ids shown in a board column, top to bottom."""
    from jobdeck.cockpit.board_screen import BoardScreen
    from jobdeck.state.machine import Status

    screen = next(s for s in app.screen_stack if isinstance(s, BoardScreen))
    return screen.board.columns[Status(status)].table.ids()


def shown_columns(app: Any) -> dict[str, str]:
    """job id -> the visible column it is shown in."""
    from jobdeck.cockpit.board_screen import BoardScreen

    screen = next(s for s in app.screen_stack if isinstance(s, BoardScreen))
    found = {}
    for status, column in screen.board.columns.items():
        if not column.display:
            continue
        for job_id in column_ids(app, status.value):
            found[job_id] = status.value
    return found


LONG_IDS: list[dict[str, Any]] = [
    {"id": "account-brief-for-sales", "title": "Account briefs for sales", "command": ["true"],
     "depends_on": ["news-signals"]},
    {"id": "crm-writeback", "title": "Write enrichment back to the CRM", "command": ["true"], "risk": "high"},
    {"id": "company-research", "title": "Research each account", "command": ["cat"],
     "retry": {"max_attempts": 3}},
    {"id": "news-signals", "title": "Buying signals from the news", "command": ["true"],
     "retry": {"max_attempts": 3}},
    {"id": "merge-enrichment", "title": "Merge scores into the CRM export", "command": ["true"],
     "retry": {"max_attempts": 2}},
    {"id": "firmographics", "title": "Company size and industry", "command": ["false"]},
    {"id": "stale-experiment-2024", "title": "An experiment nobody runs", "command": ["true"]},
]


def long_ids_deck(root: Path, now: float = NOW) -> Deck:
    """A card with a long id in every column, Cancelled included."""
    deck = new_deck(root, LONG_IDS)
    claim(deck, "company-research", now - 57, output="researching\n")
    run(deck, "news-signals", now - 15 * 60, 20.0, review=True, reason="validation failed",
        reasons=["'very high' is not one of ['low', 'medium', 'high']"])
    run(deck, "merge-enrichment", now - 30 * 60, 5.0)
    run(deck, "firmographics", now - 5 * 60, 3.0, "failed", reason="exit code 75", exit_code=75)
    commit(deck, [{"type": "cancelled", "job": "stale-experiment-2024", "reason": "superseded", "by": "ops@host",
                   "via": "cli"}], now - 3600)
    return deck


KEY_CHARACTERS = {"slash": "/", "enter": "\r", "escape": "\x1b", "backspace": "\x7f", "tab": "\t", "space": " ",
                  "home": None}
"""The characters of the named keys the burst tests type (a letter is its own)."""


def type_at_once(app: Any, *keys: str) -> None:
    """Queue ``keys`` to the app in one go, as the terminal driver queues the keys of one read (``Pilot.press``
    waits for the app to go idle after every key, which hides what a burst does)."""
    from textual import events as textual_events

    for key in keys:
        app.post_message(textual_events.Key(key, KEY_CHARACTERS[key] if key in KEY_CHARACTERS else key))


def error_toasts(app: Any) -> list[str]:
    """The error toasts the app has shown, each as one line."""
    return [toast_said(n.message) for n in app._notifications if n.severity == "error"]


def toast_said(message: str) -> str:
    """A toast's text as one line: the cockpit breaks a toast with a path in it at spaces and after a ``/``
    (cockpit/toast_text.py); this joins the lines back."""
    lines = message.split("\n")
    return "".join(line if n == len(lines) - 1 or line.endswith("/") else line + " " for n, line in enumerate(lines))
