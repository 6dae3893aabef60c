"""The deck watcher tells the runner when it is up, so a change made while it started is not left to the heartbeat."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jobdeck.runner.watcher import DeckWatcher


def test_the_watcher_wakes_the_runner_once_it_is_watching_and_for_each_change_after(tmp_path: Path) -> None:
    """The runner starts its watch lazily and reads the log before the watch is up: an operator's `cancel` appended
    in between raised no inotify event, and the runner learned of it at its next heartbeat, 5 s on (one run of
    test_runner_faults' cancel test in about thirty). The watch's first word, with no change at all, is the cue for
    the turn that reads it."""
    state = tmp_path / ".jobdeck"
    state.mkdir()

    async def watch() -> list[bool]:
        loop = asyncio.get_running_loop()
        woken: asyncio.Queue[bool] = asyncio.Queue()
        watcher = DeckWatcher(loop, tmp_path, state, [], woken.put_nowait)
        watcher.start()
        try:
            told = [await asyncio.wait_for(woken.get(), 10)]  # up: no change was made
            (state / "events.jsonl").write_text("{}\n")
            told.append(await asyncio.wait_for(woken.get(), 10))
            await asyncio.sleep(0.6)  # (two quiet READY_LOOK_MS: the watch's empty batches say nothing)
            assert woken.empty()
            return told
        finally:
            watcher.stop()

    assert asyncio.run(watch()) == [False, False]
