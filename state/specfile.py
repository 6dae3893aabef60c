"""jobdeck's own writes of jobs.json (``add``, ``edit``): validated, locked, compare-and-swap.

People save jobs.json without our lock, so every write here re-reads the file
under the lock and installs the new bytes only if the file still holds exactly
the bytes the change was based on; otherwise EditConflict, and nothing is lost.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from state.atomic import write_atomic
from state.deck import Deck
from state.errors import EditConflict, JobdeckError, SpecError
from state.lock import DeckLock
from state.loader import LoadedSpec, parse_spec
from state.strictjson import StrictJSONError, loads


def install(deck: Deck, base: bytes, new: bytes, *, lock: DeckLock | None = None) -> LoadedSpec:
    """Validate ``new`` and replace jobs.json with it if it still holds ``base``."""
    loaded = parse_spec(new, str(deck.spec_path))
    lock = lock or DeckLock(deck.lock_path)
    with lock:
        try:
            current = deck.spec_path.read_bytes()
        except FileNotFoundError:
            current = b""
        if current != base:
            raise EditConflict(
                f"{deck.spec_path} changed on disk while you were editing",
                hint="your version was not installed; re-apply your change to the new file",
            )
        write_atomic(deck.spec_path, new)
    return loaded


def add_jobs(deck: Deck, jobs: Iterable[Mapping[str, Any]], *, replace: bool = False) -> tuple[list[str], LoadedSpec]:
    """Add ``jobs`` to jobs.json in one atomic, validated change; return their ids.

    With ``replace``, a job whose id exists is replaced instead of being an error.
    """
    base = deck.spec_path.read_bytes()
    try:
        document = loads(base.decode("utf-8-sig"))
    except (StrictJSONError, UnicodeDecodeError):
        parse_spec(base, str(deck.spec_path))  # raises the located error
        raise
    new_jobs = [dict(job) for job in jobs]
    if not new_jobs:
        raise SpecError("no jobs to add", hint="give --command or --model, or a JSON/JSONL file")
    existing = document.setdefault("jobs", [])
    index = {job.get("id"): i for i, job in enumerate(existing) if isinstance(job, dict)}
    for job in new_jobs:
        position = index.get(job.get("id"))
        if position is not None and replace:
            existing[position] = job
        elif position is not None:
            raise SpecError(f"job '{job.get('id')}' already exists", job=str(job.get("id")), field="id",
                            hint="pick another id, or pass --replace")
        else:
            index[job.get("id")] = len(existing)
            existing.append(job)
    new = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    loaded = install(deck, base, new)
    return [str(job.get("id")) for job in new_jobs], loaded


def editor_argv() -> list[str]:
    """The user's editor command ($VISUAL, $EDITOR, else vi), split like a shell would."""
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def run_editor(path: Path) -> None:
    """Run the user's editor on ``path`` (a private copy of jobs.json) in this terminal."""
    argv = [*editor_argv(), str(path)]
    try:
        code = subprocess.call(argv)
    except FileNotFoundError:
        raise JobdeckError(f"editor not found: {argv[0]}", hint="set $EDITOR, e.g. EDITOR=nano") from None
    if code != 0:
        raise JobdeckError(f"the editor exited with code {code}; nothing was installed",
                           hint=f"your copy is kept at {path}")
