"""`w`: what `jobdeck why` says of one job, over the screen it was asked from.

The answer ranks every ready job (tens of milliseconds on a 1,000-job deck), so it
is worked out in a thread worker from a snapshot of the board taken when `w` was
pressed; the dialog says "asking" until then. The commands `jobdeck why` advises
are said as the keys of the screen it was asked from (cockpit/key_advice.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from jobdeck.decide.why import Why
from jobdeck.state.board import Board
from jobdeck.state.terminal import inert

from jobdeck.cockpit.advice import Advisor, why_lines
from jobdeck.cockpit.key_advice import in_keys
from jobdeck.cockpit.timefmt import stamp

if TYPE_CHECKING:
    from jobdeck.state.spec import Spec


class WhyScreen(ModalScreen[None]):
    """Why a job is or is not running, and its rank with the reasons; Esc, w or q closes it."""

    BINDINGS = [Binding("escape,w,q", "close", "close")]

    class Answered(Message):
        """The worker's answer (or why there is none)."""

        def __init__(self, answer: Why | None, error: str | None = None) -> None:
            super().__init__()
            self.answer = answer
            self.error = error

    def __init__(self, advisor: Advisor, spec: Spec, board: Board, job_id: str, now: float, *,
                 keys: Mapping[str, str] | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.advisor, self.spec, self.board, self.job_id, self.now = advisor, spec, board, job_id, now
        self.keys = dict(keys or {})
        """The keys of the screen it was asked from (binding id -> key): `why`'s CLI advice is said as them."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="why", classes="dialog"):
            yield Static(Text(f"why {self.job_id}  as of {stamp(self.now)}  (Esc closes)", "bold"),
                         classes="dialog-title")
            yield Static(Text("asking the decision service…", "dim"), id="why-text")

    def on_mount(self) -> None:
        self.ask()

    @work(thread=True, exclusive=True, group="why", exit_on_error=False)
    def ask(self) -> None:
        try:
            answer = self.advisor.why(self.spec, self.board, self.job_id, self.now)
        except Exception as exc:  # a fault of the service is shown, not raised at the operator
            self.post_message(self.Answered(None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Answered(answer))

    @on(Answered)
    def _answered(self, message: Answered) -> None:
        text = Text()
        if message.answer is None:
            text.append(f"the decision service failed: {inert(message.error or '')}", "bold red")
        else:
            for line, style in why_lines(message.answer, self.now):
                if text:
                    text.append("\n")
                text.append(inert(in_keys(line, self.keys, self.job_id)), style)
        self.query_one("#why-text", Static).update(text)

    def action_close(self) -> None:
        self.dismiss()
