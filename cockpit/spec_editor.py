"""`e`: edit jobs.json in $EDITOR from the cockpit, the way `jobdeck edit` does it.

The editor runs on a private copy with the terminal handed over (cockpit/handover.py); the copy is then
validated and installed by compare-and-swap (cockpit.operations.EditSession).
An invalid copy or a concurrent change on disk is explained and offered for
another round; nothing is lost either way. Anything else that stops the edit
(the editor failed, the copy or jobs.json went wrong meanwhile) is one error
toast that says what became of the edit, as `jobdeck edit` says it.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from jobdeck.state.deck import Deck
from jobdeck.state.errors import DeckAccessError, EditConflict, JobdeckError, SpecError, deck_access_error

from jobdeck.cockpit.confirm_screen import ConfirmScreen
from jobdeck.cockpit.handover import handed_over
from jobdeck.cockpit.operations import EditSession

INSTALL_HINT = "check that jobs.json is a regular file you may read and write"
"""The hint of a refused install whose reason has none of its own (jobs.json made a directory, say)."""


def _holds_edits(session: EditSession) -> bool:
    """Whether the editor's copy is there with other bytes than the edit began from (one that cannot be read is
    kept)."""
    try:
        return session.copy.read_bytes() != session.base
    except FileNotFoundError:
        return False
    except OSError:
        return True


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
        except JobdeckError as exc:  # no editor, it failed, or its copy went: the copy kept only if it holds edits
            if _holds_edits(session):
                said = f"{exc.message}; nothing was installed, your copy is kept at {session.copy}"
            else:
                session.discard()
                said = f"{exc.message}; nothing was installed"
            self.app.notify(f"{said} (hint: {exc.hint})" if exc.hint else said, title="edit", severity="error")
            return
        try:
            installed = session.finish()
        except SpecError as exc:
            self._offer_again(session, "jobs.json would not be valid. Edit again?", str(exc))
            return
        except EditConflict as exc:
            self._offer_again(session, "jobs.json changed on disk while you edited. Edit again on top of it?",
                              f"{exc.message}. Your version is kept in the copy you will edit.", rebase=True)
            return
        except JobdeckError as exc:
            self._not_installed(session, exc)
            return
        except OSError as exc:  # jobs.json or the copy changed under the install (made a directory, removed...)
            self._not_installed(session, self._refused(exc, "install jobs.json"))
            return
        self.on_installed()
        self.app.notify("installed jobs.json" if installed else "no changes", timeout=3)

    def _refused(self, exc: OSError, doing: str) -> DeckAccessError:
        """The system's refusal to ``doing`` (completing "cannot ...") as one error, with a hint whatever it was."""
        error = deck_access_error(exc, doing, self.deck.spec_path)
        return DeckAccessError(error.message, hint=error.hint or INSTALL_HINT)

    def _not_installed(self, session: EditSession, error: JobdeckError) -> None:
        """Say why the edit in the copy was not installed, with the copy's place last, where it is read off."""
        kept = f", your copy is kept at {session.copy}" if session.copy.exists() else ""
        self.app.notify(f"{error}; nothing installed{kept}", title="edit", severity="error")

    def _offer_again(self, session: EditSession, question: str, detail: str, *, rebase: bool = False) -> None:
        # The dialog says why, whole (it scrolls): a toast beside it would cover its buttons at 80x24.
        def answered(again: bool | None) -> None:
            if again:
                if rebase:
                    try:
                        session.rebase()
                    except OSError as exc:
                        self._not_installed(session, self._refused(exc, "read jobs.json"))
                        return
                self._round(session)
            else:
                self.app.notify(f"nothing installed; your copy is kept at {session.copy}", severity="warning")

        self.app.push_screen(ConfirmScreen(question, detail=detail, yes="Edit again", no="Give up"), answered)
