"""`e`: edit jobs.json in $EDITOR from the cockpit, the way `jobdeck edit` does it.

The editor runs on a private copy with the terminal handed over (cockpit/handover.py); the copy is then
validated and installed by compare-and-swap (cockpit.operations.EditSession).
An invalid copy or a concurrent change on disk is explained and offered for
another round; nothing is lost either way.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from jobdeck.state.deck import Deck
from jobdeck.state.errors import EditConflict, JobdeckError, SpecError

from jobdeck.cockpit.confirm_screen import ConfirmScreen
from jobdeck.cockpit.handover import handed_over
from jobdeck.cockpit.operations import EditSession


class SpecEditor:
    """One edit of jobs.json, possibly over several editor rounds."""

    def __init__(self, app: App[object], deck: Deck, on_installed: Callable[[], None]) -> None:
        self.app = app
        self.deck = deck
        self.on_installed = on_installed

    def start(self) -> None:
        try:
            session = EditSession.start(self.deck)
        except JobdeckError as exc:  # read-only: said before any editing
            self.app.notify(str(exc), title="edit", severity="error")
            return
        except OSError as exc:
            self.app.notify(f"cannot edit jobs.json: {exc}", severity="error")
            return
        self._round(session)

    def _round(self, session: EditSession) -> None:
        try:
            handed_over(self.app, session.run_editor)
            installed = session.finish()
        except SpecError as exc:
            self._offer_again(session, "jobs.json would not be valid. Edit again?", str(exc))
            return
        except EditConflict as exc:
            self._offer_again(session, "jobs.json changed on disk while you edited. Edit again on top of it?",
                              f"{exc.message}. Your version is kept in the copy you will edit.", rebase=True)
            return
        except JobdeckError as exc:
            self.app.notify(f"{exc}; nothing installed, your edit is kept at {session.copy}", title="edit",
                            severity="error")
            return
        self.on_installed()
        self.app.notify("installed jobs.json" if installed else "no changes", timeout=3)

    def _offer_again(self, session: EditSession, question: str, detail: str, *, rebase: bool = False) -> None:
        # The dialog says why, whole (it scrolls): a toast beside it would cover its buttons at 80x24.
        def answered(again: bool | None) -> None:
            if again:
                if rebase:
                    session.rebase()
                self._round(session)
            else:
                self.app.notify(f"nothing installed; your copy is kept at {session.copy}", severity="warning")

        self.app.push_screen(ConfirmScreen(question, detail=detail, yes="Edit again", no="Give up"), answered)
