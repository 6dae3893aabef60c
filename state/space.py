"""Room left where the deck keeps its files: a failure on a full filesystem says so, and `status --check` warns first.

A job that fills the deck's filesystem fails with whatever its program makes of
ENOSPC (often "exited with code 1", and a stderr.log that could not be written
either). The runner looks at the filesystem when an attempt fails, and names a
full one in the failure's message; `jobdeck status --check` reports the room
left below a floor before that happens. Space is counted as ``df`` counts
"Avail": what an ordinary user may still write (root's reserve excluded).
"""

from __future__ import annotations

import os
from typing import NamedTuple

from jobdeck.state.sizes import format_size

FULL_BELOW = 1024 * 1024
"""Bytes free below which a filesystem counts as full: a failure there names it."""


class Room(NamedTuple):
    """What a filesystem still takes: bytes and inodes free to an ordinary user."""

    free: int
    inodes: int | None
    """Free inodes; None where the filesystem does not count them (btrfs, some network filesystems report 0 of 0)."""

    def short(self, floor: int = FULL_BELOW) -> str | None:
        """What runs short, in a few words, or None when there is room: ``12 KiB free``, ``no inodes left``."""
        if self.inodes == 0:
            return "no inodes left"
        if self.free < floor:
            return f"{format_size(self.free)} free"
        return None


def room(path: str | os.PathLike[str]) -> Room | None:
    """The room left on the filesystem holding ``path``; None when it cannot be asked (the path is gone)."""
    try:
        found = os.statvfs(path)
    except OSError:
        return None
    return Room(found.f_bavail * found.f_frsize, found.f_favail if found.f_files else None)


def full_note(path: str | os.PathLike[str]) -> str | None:
    """``the deck's filesystem is full (0 B free)`` when the filesystem holding ``path`` is, else None."""
    left = room(path)
    short = left.short() if left is not None else None
    return None if short is None else f"the deck's filesystem is full ({short})"
