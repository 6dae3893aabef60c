"""A yes/no question before an action that cannot be taken back (cancel, run now, a high-risk approve).

Every confirmation in the cockpit follows one convention: the action is
``y`` (its button names it, "Cancel job (y)"), and the default, focused and
named "(Enter)", is the choice that changes nothing; n and Esc choose it too.

A question keeps its height and toasts get only the rows it leaves
(``QuestionScreen``): at 80x24 a toast raised while it is open would otherwise
sit over its buttons.
"""

from __future__ import annotations

from typing import TypeVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Static

AnswerT = TypeVar("AnswerT")

ACT_KEY = "y"
"""The key that takes the action in every confirmation."""


def act_label(action: str) -> str:
    """'Cancel job (y)': the button that acts."""
    return f"{action} ({ACT_KEY})"


def keep_label(choice: str) -> str:
    """'Keep (Enter)': the default button, which changes nothing."""
    return f"{choice} (Enter)"


class QuestionScreen(ModalScreen[AnswerT]):
    """A dialog that asks (its ``.dialog`` keeps its height): toasts take only the rows below it.

    Over a dialog the toasts are docked in its own layer (cockpit.tcss), so it is laid out above
    them; their rack is held to the rows the question leaves, where it shows the newest toast
    (older ones scroll off its top), so none covers a button.
    """

    _toast_rows: int | None = None

    @on(events.Mount)
    def _follow_layout(self) -> None:
        self.screen_layout_refresh_signal.subscribe(self.query_one(".dialog"), self._leave_toast_rows)

    def _leave_toast_rows(self, _: Screen) -> None:
        racks = self.query("#textual-toastrack")  # (none when notifications are off)
        if not racks:
            return
        rack = racks.first()
        rows = max(self.size.height - self.query_one(".dialog").outer_size.height - rack.styles.margin.bottom, 0)
        if rows != self._toast_rows:
            self._toast_rows = rows
            rack.styles.max_height = rows
            rack.call_after_refresh(rack.scroll_end, animate=False, force=True)  # the newest, as the rack shows it


class ConfirmScreen(QuestionScreen[bool]):
    """Ask; dismiss with True for y (or a click on the action) and False for Enter, n or Esc."""

    BINDINGS = [
        Binding(ACT_KEY, "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str, *, detail: str = "", yes: str = "Yes", no: str = "Keep") -> None:
        super().__init__(classes="dialog-screen")
        self.question, self.detail, self.yes, self.no = question, detail, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -question"):
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
