"""`jobdeck logs`: a job's output (or stderr), optionally followed as it grows.

The output is copied in chunks, never read whole (an attempt may write
gigabytes). On a terminal it is made inert first (``state.terminal.inert``): a
job's escape sequences must not set the operator's title or clipboard. A pipe,
or ``--raw``, gets the bytes exactly as the job wrote them.
"""

from __future__ import annotations

from collections.abc import Callable
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from jobdeck.state.attempts import OUTPUT, RESULT, STDERR
from jobdeck.state.deck import Deck
from jobdeck.state.errors import JobdeckError, NoSuchAttempt
from jobdeck.state.terminal import Copier, one_line

"""On a terminal, a line is cleaned whole (a sequence may span a chunk): this much is held at most."""

if TYPE_CHECKING:
    from jobdeck.state.board import Store
    from jobdeck.state.machine import JobState
    from jobdeck.state.preview import JobPreview
    from jobdeck.state.spec import Job


def show_logs(deck: Deck, store: Store, job: Job | JobPreview, state: JobState, *, attempt: int | None,
              stderr: bool, follow: bool, raw: bool = False, retention: Callable[[], bool] = bool) -> int:
    """Print the chosen attempt's output (or stderr); ``retention()``: jobs.json states a retention policy."""
    chosen = state.attempt if attempt is None else next((a for a in state.attempts if a.n == attempt), None)
    if chosen is not None:
        directory = deck.attempt_dir(chosen.workspace, job.id, chosen.n)
        if not directory.is_dir():
            raise _gone(job.id, chosen.n, directory, retention)
    elif attempt is not None and state.attempts and attempt < state.attempts[0].n:
        directory = _older(deck, job, attempt)  # older than the board keeps: on disk still?
        if not directory.is_dir():
            raise _gone(job.id, attempt, directory, retention)
    elif not state.attempts:
        raise NoSuchAttempt(f"job '{job.id}' has no attempt yet", hint=f"it has not run; see `jobdeck show {job.id}`")
    else:
        numbers = sorted(a.n for a in state.attempts)
        raise NoSuchAttempt(f"job '{job.id}' has no attempt {attempt}",
                           hint=f"its latest attempts are {_ranges(numbers)}; see `jobdeck show {job.id}`")
    path = directory / (STDERR if stderr else OUTPUT)
    out = sys.stdout.buffer
    copy = Copier(out, clean=not raw and sys.stdout.isatty())
    offset = copy.from_file(path, 0)
    if follow:
        import watchfiles

        # Follow until the attempt's result.json exists (the attempt ended).
        while not (directory / RESULT).exists():
            for _ in watchfiles.watch(directory, step=50, rust_timeout=1000, yield_on_timeout=True):
                break
            offset = copy.from_file(path, offset)
        offset = copy.from_file(path, offset)
    copy.finish()
    if offset == 0 and chosen is not None and chosen.ended is not None and chosen.outcome != "succeeded":
        # nothing to print of an attempt that failed (an llm job's provider error is in its record, not its output)
        reason = state.reason if chosen == state.attempt and state.reason else chosen.reason  # (the latest's, in words)
        why = f" ({reason})" if reason else ""
        said = f"{job.id}: attempt {chosen.n} wrote nothing to its {'stderr' if stderr else 'output'}; " \
               f"it ended {chosen.outcome}{why}"
        print(f"jobdeck: {one_line(said)} (hint: `jobdeck show {job.id}` has the whole story)", file=sys.stderr)
    return 0


def _older(deck: Deck, job: Job | JobPreview, n: int) -> Path:
    """Where attempt ``n``, older than the board keeps, is: in the job's workspace, else in the workspace
    it ran in before jobs.json moved the job (an attempt's number is the job's own, in whichever workspace)."""
    here = deck.attempt_dir(job.workspace, job.id, n)
    if here.is_dir():
        return here
    try:
        names = sorted(entry.name for entry in os.scandir(deck.workspaces_dir) if entry.is_dir(follow_symlinks=False))
    except OSError:
        return here
    for name in names:
        try:
            there = deck.attempt_dir(name, job.id, n)
        except JobdeckError:  # a directory whose name is no workspace's
            continue
        if there.is_dir() or _tombstone(there).is_dir():
            return there
    return here


def _tombstone(directory: Path) -> Path:
    """Where `jobdeck gc` renames an attempt directory before removing it (``runs/<job>/.gc-<n>``)."""
    from jobdeck.state.gc import TOMBSTONE

    return directory.with_name(TOMBSTONE + directory.name)


def _gone(job_id: str, n: int, directory: Path, retention: Callable[[], bool]) -> JobdeckError:
    """The error for an attempt the log records whose directory is no longer there."""
    tombstone = _tombstone(directory)
    if tombstone.is_dir():  # renamed by a gc that is still removing it, or that stopped or failed halfway
        return JobdeckError(f"attempt {n} of job '{job_id}' is partly removed: a `jobdeck gc` began removing it "
                            f"and has not finished (what is left is in {tombstone})",
                            hint="run `jobdeck gc` again to finish it (it says why if it cannot); its record stays: "
                                 f"see `jobdeck show {job_id}`")
    if retention():  # removed as the operator's policy says: no output, as for an attempt that never was (exit 1)
        return NoSuchAttempt(f"attempt {n} of job '{job_id}' was removed by retention (`jobdeck gc`)",
                             hint=f"its record stays: see `jobdeck show {job_id}`")
    return JobdeckError(f"attempt {n} of job '{job_id}' is no longer on disk ({directory} is gone)",
                        hint=f"its record stays: see `jobdeck show {job_id}`")


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``1-3, 5``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
