"""`jobdeck logs`: a job's output (or stderr), optionally followed as it grows."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from jobdeck.state.attempts import OUTPUT, RESULT, STDERR
from jobdeck.state.deck import Deck
from jobdeck.state.errors import JobdeckError

if TYPE_CHECKING:
    from jobdeck.state.board import Store
    from jobdeck.state.machine import JobState
    from jobdeck.state.spec import Job


def show_logs(deck: Deck, store: Store, job: Job, state: JobState, *, attempt: int | None,
              stderr: bool, follow: bool) -> int:
    chosen = state.attempt if attempt is None else next((a for a in state.attempts if a.n == attempt), None)
    if chosen is None:
        raise JobdeckError(f"job '{job.id}' has no attempt {attempt or ''}".rstrip(),
                           hint="it has not run yet; see `jobdeck show " + job.id + "`")
    directory = deck.attempt_dir(chosen.workspace, job.id, chosen.n)
    path = directory / (STDERR if stderr else OUTPUT)
    out = sys.stdout.buffer
    offset = 0
    if path.exists():
        with open(path, "rb") as f:
            data = f.read()
        out.write(data)
        out.flush()
        offset = len(data)
    if not follow:
        return 0
    import watchfiles

    # Follow until the attempt's result.json exists (the attempt ended).
    while not (directory / RESULT).exists():
        for _ in watchfiles.watch(directory, step=50, rust_timeout=1000, yield_on_timeout=True):
            break
        if path.exists() and os.path.getsize(path) > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            out.write(data)
            out.flush()
            offset += len(data)
    return 0
