"""Records another process appends while the runner commits are seen as the runner's own turn's are.

A commit catches up with the log under the lock before it appends: what it folds
there (an operator's retry landing between the turn's read of the log and a
schedule's fire, say) must reach the runner's ready index, or the job it made
ready is never started by this runner.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

from jobdeck.runner.loop import Runner
from jobdeck.state.board import open_store
from jobdeck.state.deck import Deck
from tests.functional.runner_kit import make_deck
from tests.functional.test_runner_cron import Clock, settle


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_a_retry_folded_inside_a_fires_commit_starts_the_job(tmp_path: Path) -> None:
    deck_path = make_deck(tmp_path, [
        {"id": "again", "command": ["true"]},
        {"id": "nightly", "schedule": "0 2 * * *", "command": ["true"]},
    ])
    deck = Deck(deck_path)
    with open_store(deck) as store:  # "again" failed before this runner started
        store.commit([{"type": "claimed", "job": "again", "attempt": 1, "runner": "past"}])
        store.commit([{"type": "failed", "job": "again", "token": store.board.state("again").token,
                       "reason": "exit_code", "exit_code": 1}])
    clock = Clock(utc(2026, 1, 10, 0, 0))

    async def scenario() -> None:
        runner = Runner(deck, clock=clock, watch=False)
        runner.start()
        try:
            await settle(runner)  # the schedule armed; "again" failed: nothing runs
            fire = runner._fire_schedules

            def operator_retries_then_fire(spec: object, now: float) -> None:
                # After this turn read the log, before the fire's commit takes the lock: the operator's retry.
                with open_store(deck) as other:
                    other.commit([{"type": "retried", "job": "again", "by": "op@host", "via": "cli"}])
                runner._fire_schedules = fire  # once
                fire(spec, now)  # type: ignore[arg-type]

            runner._fire_schedules = operator_retries_then_fire  # type: ignore[method-assign]
            clock.now = utc(2026, 1, 10, 2, 0, 30)
            await settle(runner)
            board = runner.store.board
            assert board.state("nightly").status.value == "done"  # the fire's commit folded the retry
            assert board.state("again").status.value == "done", board.state("again")
        finally:
            await runner.shutdown(grace=5)

    asyncio.run(scenario())
