"""File watching for the cockpit, as plain async iterators (no widgets here).

The deck is watched folder by folder, not recursively: the deck root (jobs.json
is replaced by editors, so the folder is watched, never the file), .jobdeck/
(events.jsonl) and .jobdeck/runners/ (heartbeats). workspaces/ is left out: it
holds every attempt's output and would flood the watcher; the one output being
tailed gets its own watch on its attempt directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from jobdeck.state.deck import Deck

if TYPE_CHECKING:
    from watchfiles import Change

STEP_MS = 20
"""Quiet time after a change before it is reported."""
DEBOUNCE_MS = 100
"""Longest a continuous burst is held back before it is reported anyway."""
RUST_TIMEOUT_MS = 500
"""How often the watcher thread wakes to notice that it should stop."""


def deck_targets(deck: Deck) -> tuple[list[Path], Callable[[Change, str], bool]]:
    """The folders to watch for a deck and a filter keeping only files the board reads."""
    folders = [deck.root, deck.state_dir, deck.runners_dir]
    spec, events, runners = str(deck.spec_path), str(deck.events_path), str(deck.runners_dir)

    def wanted(change: Change, path: str) -> bool:
        return path in (spec, events) or (path.startswith(runners) and path.endswith(".json"))

    return [f for f in folders if f.is_dir()], wanted


async def changes(folders: Iterable[Path], wanted: Callable[[Change, str], bool] | None,
                  stop: asyncio.Event) -> AsyncIterator[set[tuple[Change, str]]]:
    """Batches of wanted changes in ``folders`` until ``stop`` is set."""
    from watchfiles import awatch  # here, not at import: it is not needed for the first paint

    paths = [str(f) for f in folders]
    if not paths:
        return
    async for batch in awatch(*paths, watch_filter=wanted, step=STEP_MS, debounce=DEBOUNCE_MS,
                              rust_timeout=RUST_TIMEOUT_MS, recursive=False, stop_event=stop):
        yield batch
