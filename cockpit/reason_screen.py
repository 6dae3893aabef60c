"""Reject a job: ask for the reason (it goes into the chain of work) and confirm.

It keeps the convention of cockpit.confirm_screen: Enter never rejects. Enter
in the reason field moves to the buttons, where y rejects and Enter keeps.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from jobdeck.cockpit.confirm_screen import ACT_KEY, QuestionScreen, act_label, keep_label


class ReasonScreen(QuestionScreen[str | None]):
    """Dismiss with the reason typed, or None when the operator backs out."""

    BINDINGS = [
        Binding("escape", "back_out", "keep the job"),
        Binding(ACT_KEY, "confirm", "reject"),  # an Input takes the letter while it has focus
        Binding("n", "back_out", "keep the job"),
    ]

    def __init__(self, job_id: str, *, action: str = "Reject") -> None:
        super().__init__(classes="dialog-screen")
        self.job_id, self.action = job_id, action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -question"):
            yield Static(Text(f"{self.action} job {self.job_id}?", "bold"), classes="dialog-title")
            yield Static(Text(f"Why? The reason is recorded in the chain of work. Type it, Enter, "
                              f"then {ACT_KEY} to {self.action.lower()}."), classes="dialog-detail")
            yield Input(placeholder="reason", id="reason")
            yield Static("", id="reason-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(act_label(self.action), id="confirm", variant="error")
                yield Button(keep_label("Keep"), id="keep")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._reason() is not None:
            self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_confirm()
        else:
            self.dismiss(None)

    def _reason(self) -> str | None:
        reason = self.query_one("#reason", Input).value.strip()
        if len(reason) < 2:  # one character is a key pressed while the field had the focus ("y"), not a reason
            self.query_one("#reason-error", Static).update(
                "give a reason: type it here, then Enter" if not reason else
                f"{reason!r} reads as a key pressed here by mistake: type the reason, then Enter")
            self.query_one("#reason", Input).focus()
            return None
        self.query_one("#reason-error", Static).update("")
        return reason

    def action_confirm(self) -> None:
        reason = self._reason()
        if reason is not None:
            self.dismiss(reason)

    def action_back_out(self) -> None:
        self.dismiss(None)
