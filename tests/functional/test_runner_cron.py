"""Schedules, driven turn by turn with an injected clock: timezone, coalescing, no overlap."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

from jobdeck.runner.loop import Runner
from jobdeck.state.deck import Deck
from tests.functional.runner_kit import events, make_deck


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def settle(runner: Runner) -> None:
    """Turn until no attempt is running and nothing more is ready."""
    await runner.turn()
    while runner.tasks or runner.finished:
        await asyncio.wait(list(runner.tasks.values()) or [asyncio.sleep(0)])
        await runner.turn()


def test_schedule_fires_in_its_timezone_coalesces_missed_fires_and_never_overlaps(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    deck_path = make_deck(tmp_path, [
        {"id": "nightly", "schedule": "0 2 * * *", "timezone": "Europe/Paris",
         "command": ["sh", "-c", f"echo run; [ \"$JOBDECK_ATTEMPT\" != 3 ] || while [ ! -e {gate} ]; do sleep 0.02; done"]},
        {"id": "report", "command": ["echo", "report"], "depends_on": ["nightly"]},
    ])
    clock = Clock(utc(2026, 1, 10, 0, 0))

    async def scenario() -> None:
        runner = Runner(Deck(deck_path), clock=clock, watch=False)
        runner.start()
        try:
            await settle(runner)  # first sight: armed, nothing runs
            assert [e["what"] for e in events(deck_path) if e["type"] == "progress"] == ["schedule_armed"]
            assert not [e for e in events(deck_path) if e["type"] == "claimed"]

            clock.now = utc(2026, 1, 10, 0, 59)  # 01:59 in Paris (UTC+1 in winter)
            await settle(runner)
            assert not [e for e in events(deck_path) if e["type"] == "triggered"]

            clock.now = utc(2026, 1, 10, 1, 0, 30)  # 02:00:30 in Paris
            await settle(runner)
            fired = [e for e in events(deck_path) if e["type"] == "triggered"]
            assert [e["job"] for e in fired] == ["nightly", "report"]
            assert fired[0]["fire"] == utc(2026, 1, 10, 1, 0) and fired[0]["missed"] == 0
            assert runner.store.board.state("report").status.value == "done"

            clock.now = utc(2026, 1, 13, 12, 0)  # three nights later: fires of 11th, 12th, 13th
            await settle(runner)
            fired = [e for e in events(deck_path) if e["type"] == "triggered" and e["job"] == "nightly"]
            assert len(fired) == 2, "missed fires coalesce into one run"
            assert fired[1]["fire"] == utc(2026, 1, 13, 1, 0) and fired[1]["missed"] == 2

            clock.now = utc(2026, 1, 14, 1, 0, 10)  # attempt 3 blocks on the gate
            await runner.turn()
            assert runner.store.board.state("nightly").status.value == "running"
            clock.now = utc(2026, 1, 15, 1, 0, 10)  # next fire while still running
            await runner.turn()
            skipped = [e for e in events(deck_path) if e.get("what") == "fire_skipped"]
            assert len(skipped) == 1 and skipped[0]["fire"] == utc(2026, 1, 15, 1, 0)
            gate.touch()
            await settle(runner)
            await settle(runner)
            fired = [e for e in events(deck_path) if e["type"] == "triggered" and e["job"] == "nightly"]
            assert len(fired) == 3, "the skipped fire is not run later"
        finally:
            await runner.shutdown(grace=5)

    asyncio.run(scenario())


def test_summer_time_moves_the_utc_fire(tmp_path: Path) -> None:
    deck_path = make_deck(tmp_path, [{"id": "n", "schedule": "0 2 * * *", "timezone": "Europe/Paris", "command": ["true"]}])
    clock = Clock(utc(2026, 7, 1, 0, 0) - 3600)

    async def scenario() -> None:
        runner = Runner(Deck(deck_path), clock=clock, watch=False)
        runner.start()
        try:
            await settle(runner)
            clock.now = utc(2026, 7, 1, 0, 0, 5)  # 02:00:05 in Paris (UTC+2 in summer)
            await settle(runner)
            fired = [e for e in events(deck_path) if e["type"] == "triggered"]
            assert len(fired) == 1 and fired[0]["fire"] == utc(2026, 7, 1, 0, 0)
        finally:
            await runner.shutdown(grace=5)

    asyncio.run(scenario())
