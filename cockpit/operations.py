"""What the operator's keys do to the deck, without any UI: events through state.actions,
jobs.json only through state.specfile (the `jobdeck edit` / `jobdeck add` path).

Actions use their own Store: ``act`` catches up with the log under the lock and
folds what it reads into the Store it is given, so the cockpit's reading Store
would never hear of those records. With a separate acting Store, every event,
including the ones just appended, reaches the board through the normal refresh.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobdeck.state.actions import STOPS_WORK, Outcome, hold_deck, perform, waits_for_valid_spec
from jobdeck.state.board import Store, open_store
from jobdeck.state.deck import Deck
from jobdeck.state.errors import JobdeckError
from jobdeck.state.loader import parse_spec
from jobdeck.state.specfile import add_jobs, install, run_editor, writable_spec_file
from jobdeck.state.views import is_paused
from jobdeck.state.lock import check_owner

from jobdeck.cockpit.model import DeckModel

VIA = "cockpit"
FORM = "the new-job form"
"""Where an error in a job added from the cockpit is said to be (the CLI's own says "the command line")."""


class Operator:
    """Appends operator events for the cockpit, attributed ``via="cockpit"``."""

    def __init__(self, model: DeckModel, *, by: str | None = None) -> None:
        self.model = model
        self.by = by
        self._store: Store | None = None
        self.taking_back = False
        """Set while an undo writes the inverse of the operator's last action: that is allowed whatever the file."""
        self.making_way: Callable[[str | None, str], AbstractContextManager[object]] = _nothing_waits
        """Around every event written, given the job (None: the deck) and the action: the cockpit's undo writes
        or drops there the action that waits out its undo (cockpit/undo.py), so none is written after a later one."""

    def act(self, job_id: str, action: str, *, reason: str | None = None) -> list[dict[str, Any]]:
        """Apply ``action`` to a job; JobdeckError (e.g. IllegalTransition) when it does not apply."""
        return self.perform(job_id, action, reason=reason).records

    def perform(self, job_id: str, action: str, *, reason: str | None = None) -> Outcome:
        """Apply ``action`` to a job and say what the operator should be told of it (``state.actions.perform``)."""
        if not self.model.ready:
            raise JobdeckError("still reading the deck", hint="try again in a moment")
        spec = self.model.spec
        if spec is None:
            raise JobdeckError("jobs.json has not been valid since the cockpit started",
                               hint="fix it (e to edit) before acting on jobs")
        if not self.taking_back:
            self.check_allowed(action)
        if self._store is None:
            self._store = open_store(self.model.deck)
        with self.making_way(job_id, action):
            return perform(self._store, spec, job_id, action, reason=reason, via=VIA, by=self.by)

    def check_allowed(self, action: str) -> None:
        """JobdeckError if ``action`` lets work start while jobs.json is invalid (as the CLI: ``STOPS_WORK``);
        asked before a countdown or a question, so that a refusal comes at once."""
        error = self.model.spec_error
        if error is not None and action not in STOPS_WORK:
            raise waits_for_valid_spec(action, error)

    def hold_deck(self, hold: bool) -> dict[str, Any]:
        """Hold the whole deck (nothing new starts; running attempts finish) or release it (``state.actions``)."""
        if not hold:
            self.check_allowed("release")
        if self._store is None:
            self._store = open_store(self.model.deck)
        with self.making_way(None, "hold" if hold else "release"):
            return hold_deck(self._store, hold, via=VIA, by=self.by)

    def check_writable(self) -> None:
        """DeckAccessError now if no action could be written (another user's deck): an action that waits out
        its undo must not look accepted and fail later, or be lost with the cockpit's exit."""
        check_owner(self.model.deck.state_dir)

    def pause_action(self, job_id: str) -> str:
        """'resume' for a paused job, 'pause' otherwise."""
        job = self.model.job(job_id)
        if job is not None and is_paused(job, self.model.state(job_id)):
            return "resume"
        return "pause"

    def add_job(self, fields: dict[str, Any]) -> str:
        """Add one job to jobs.json (validated, compare-and-swap); return its id."""
        ids = add_jobs(self.model.deck, [fields], source=FORM)
        return ids[0]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _nothing_waits(job_id: str | None, action: str) -> AbstractContextManager[object]:
    """``Operator.making_way`` with no undo to make way for."""
    return nullcontext()


def job_from_form(values: dict[str, str]) -> dict[str, Any]:
    """A job dict from the new-job form's text fields (empty fields are left out)."""
    job: dict[str, Any] = {"id": values.get("id", "").strip()}
    command = values.get("command", "").strip()
    if command:
        try:
            job["command"] = shlex.split(command)
        except ValueError as exc:
            raise JobdeckError(f"command: {exc}", hint="quote arguments as in a shell") from None
    for key in ("title", "model", "prompt", "workspace", "schedule"):
        value = values.get(key, "").strip()
        if value:
            job[key] = value
    for key, field in (("labels", "labels"), ("depends_on", "depends_on")):
        items = [item.strip() for item in values.get(key, "").split(",") if item.strip()]
        if items:
            job[field] = items
    risk = values.get("risk", "").strip()
    if risk and risk != "low":
        job["risk"] = risk
    return job


@dataclass
class EditSession:
    """One `jobdeck edit`-style edit: a private copy, validated, installed by compare-and-swap."""

    deck: Deck
    base: bytes
    copy: Path

    @classmethod
    def start(cls, deck: Deck) -> EditSession:
        base = deck.spec_path.read_bytes()
        writable_spec_file(deck)  # a read-only jobs.json is said before any editing
        fd, name = tempfile.mkstemp(prefix="jobs.", suffix=".json", dir=deck.state_dir)
        with os.fdopen(fd, "wb") as f:
            f.write(base)
        return cls(deck, base, Path(name))

    def run_editor(self) -> None:
        """Run the editor on the copy (the caller has handed it the terminal)."""
        run_editor(self.copy)

    def finish(self) -> bool:
        """Validate and install the copy; False when nothing changed.

        Raises SpecError for an invalid copy and EditConflict when jobs.json changed
        meanwhile; the copy is kept in both cases.
        """
        edited = self.copy.read_bytes()
        if edited == self.base:
            self.discard()
            return False
        parse_spec(edited, "jobs.json")
        install(self.deck, self.base, edited)
        self.discard()
        return True

    def rebase(self) -> None:
        """Continue on top of the jobs.json now on disk (after a conflict); the copy keeps the edit."""
        self.base = self.deck.spec_path.read_bytes()

    def discard(self) -> None:
        try:
            self.copy.unlink()
        except FileNotFoundError:
            pass
