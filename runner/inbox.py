"""Event triggers: files dropped in workspaces/<ws>/inbox/ start runs of matching jobs.

Each file fires once, even across restarts: the trigger event records the
file's key (workspace, name, inode, mtime), and the board remembers every key
it has seen. A file still being written is left until its size stops changing
between two scans.
"""

from __future__ import annotations

import fnmatch
import os
from typing import TYPE_CHECKING

from jobdeck.state.deck import Deck
from jobdeck.state.errors import AttemptRefused

if TYPE_CHECKING:
    from jobdeck.state.spec import Job, Spec


def file_key(workspace: str, entry: os.DirEntry[str]) -> str:
    st = entry.stat()
    return f"{workspace}/{entry.name}:{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


class InboxScanner:
    """Finds new inbox files for jobs with a ``trigger`` pattern."""

    def __init__(self, deck: Deck) -> None:
        self.deck = deck
        self._sizes: dict[str, int] = {}

    def scan(self, spec: Spec, seen: set[str]) -> list[tuple[Job, str, str]]:
        """(job, file key, file path) for each new, settled file matching a job's trigger."""
        found: list[tuple[Job, str, str]] = []
        by_workspace: dict[str, list[tuple[Job, str]]] = {}  # (job, its trigger pattern)
        for job in spec.jobs:
            if job.trigger is not None:
                by_workspace.setdefault(job.workspace, []).append((job, job.trigger))
        for workspace, jobs in by_workspace.items():
            try:
                inbox = self.deck.inbox_dir(workspace)
            except AttemptRefused:  # its workspace leads out of the deck: its jobs' claims say so
                continue
            try:
                entries = sorted(os.scandir(inbox), key=lambda e: e.name)
            except FileNotFoundError:
                inbox.mkdir(mode=0o700, parents=True, exist_ok=True)
                continue
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                matching = [job for job, pattern in jobs if fnmatch.fnmatch(entry.name, pattern)]
                if not matching:
                    continue  # not for us: never tracked, never a reason to wake up again
                key = file_key(workspace, entry)
                if key in seen:
                    continue
                path = f"{workspace}/{entry.name}"
                size = entry.stat().st_size
                if self._sizes.get(path) != size:
                    self._sizes[path] = size  # settle: fire on the next scan if unchanged
                    continue
                found.extend((job, key, entry.path) for job in matching)
        return found

    def unsettled(self) -> bool:
        """Whether a file was seen growing and needs another scan."""
        return bool(self._sizes)

    def forget(self, keys: set[str]) -> None:
        self._sizes = {p: s for p, s in self._sizes.items() if not any(k.startswith(p + ":") for k in keys)}
