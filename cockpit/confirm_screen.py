"""A yes/no question before an action that cannot be taken back (cancel, run now, a high-risk approve).

Every confirmation in the cockpit follows one convention: the action is
``y`` (its button names it, "Cancel job (y)"), and the default, focused and
named "(Enter)", is the choice that changes nothing; n and Esc choose it too.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

ACT_KEY = "y"
"""The key that takes the action in every confirmation."""


def act_label(action: str) -> str:
    """'Cancel job (y)': the button that acts."""
    return f"{action} ({ACT_KEY})"


def keep_label(choice: str) -> str:
    """'Keep (Enter)': the default button, which changes nothing."""
    return f"{choice} (Enter)"


class ConfirmScreen(ModalScreen[bool]):
    """Ask; dismiss with True for y (or a click on the action) and False for Enter, n or Esc."""

    BINDINGS = [
        Binding(ACT_KEY, "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str, *, detail: str = "", yes: str = "Yes", no: str = "Keep") -> None:
        super().__init__(classes="dialog-screen")
        self.question, self.detail, self.yes, self.no = question, detail, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question, "bold"), classes="dialog-title")
            if self.detail:  # scrolls when long (every error of an invalid jobs.json): nothing is cut off
                with VerticalScroll(classes="dialog-detail"):
                    yield Static(Text(self.detail))
            with Horizontal(classes="dialog-buttons"):
                yield Button(act_label(self.yes), id="yes", variant="error")
                yield Button(keep_label(self.no), id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
