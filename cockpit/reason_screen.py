"""Reject a job: ask for the reason (it goes into the chain of work) and confirm."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ReasonScreen(ModalScreen[str | None]):
    """Dismiss with the reason typed, or None when the operator backs out."""

    BINDINGS = [Binding("escape", "back_out", "keep the job")]

    def __init__(self, job_id: str, *, action: str = "Reject") -> None:
        super().__init__(classes="dialog-screen")
        self.job_id, self.action = job_id, action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"{self.action} job {self.job_id}?", "bold"), classes="dialog-title")
            yield Static(Text("Why? The reason is recorded in the chain of work."), classes="dialog-detail")
            yield Input(placeholder="reason", id="reason")
            yield Static("", id="reason-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.action} (Enter)", id="confirm", variant="error")
                yield Button("Keep (Esc)", id="keep")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self._confirm()
        else:
            self.dismiss(None)

    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#reason-error", Static).update("give a reason")
            return
        self.dismiss(reason)

    def action_back_out(self) -> None:
        self.dismiss(None)
