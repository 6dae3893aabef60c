"""Board checkpoints: the folded board as of the end of each closed segment, kept beside board.json.

A reader without a usable board.json (deleted, corrupt, of another format, or no
longer agreeing with the log) folded the log from seq 1: 9.6 s for `ls` at a
million events, and nothing at all once the oldest segments were archived. So a
rotation (``Store.rotate``, under the lock) leaves the board as of the segment it
closes in ``.jobdeck/checkpoints/<segment name>.board.json``, and such a reader
resumes from the newest one the log agrees with (``Store``), replaying at most
about one segment. They live apart from ``.jobdeck/log/`` because that directory
is evidence, archived and verified by name, and these are caches: `audit verify`
never reads them, and a failed write never fails the rotation.
"""

from __future__ import annotations

import os
from pathlib import Path

from jobdeck.state.atomic import make_private_dir, write_atomic
from jobdeck.state.deck import Deck
from jobdeck.state.segments import named_segment, segment_name

CHECKPOINTS_KEPT = 2
"""Checkpoints kept: the newest, and one before it should the newest no longer agree with the log."""
SUFFIX = ".board.json"


def checkpoint_dir(deck: Deck) -> Path:
    return deck.state_dir / "checkpoints"


def checkpoint_path(deck: Deck, first: int) -> Path:
    """Where the checkpoint of the closed segment that begins at seq ``first`` is kept."""
    return checkpoint_dir(deck) / f"{segment_name(first)}{SUFFIX}"


def checkpoints(deck: Deck) -> list[Path]:
    """The deck's checkpoints, newest first (none if the directory is missing or cannot be listed)."""
    try:
        names = os.listdir(checkpoint_dir(deck))
    except OSError:
        return []
    found = []
    for name in names:
        named = named_segment(name.removesuffix(SUFFIX)) if name.endswith(SUFFIX) else None
        if named is not None and not named[1]:
            found.append((named[0], name))
    return [checkpoint_dir(deck) / name for _, name in sorted(found, reverse=True)]


def write_checkpoint(deck: Deck, first: int, data: bytes) -> Path:
    """Write the checkpoint of the segment that begins at seq ``first``; remove the older ones past the kept few.

    Written as board.json is (atomically, 0600, not fsynced; only in a directory this user
    owns). Checkpoints of later segments are left alone: one from a history the log no longer
    holds is refused with a warning when read, not removed behind the operator's back.
    Raises OSError.
    """
    path = checkpoint_path(deck, first)
    make_private_dir(path.parent)
    write_atomic(path, data, durable=False, cache=True)
    older = [found for found in checkpoints(deck) if found.name < path.name]
    for stale in older[CHECKPOINTS_KEPT - 1:]:
        stale.unlink(missing_ok=True)
    return path
