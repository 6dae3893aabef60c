"""A yes/no question before an action that cannot be taken back (cancel, run now, a high-risk approve).

Every confirmation in the cockpit follows one convention: the action is
``y`` (its button names it, "Cancel job (y)"), and the default, focused and
named "(Enter)", is the choice that changes nothing; n and Esc choose it too.

A question keeps its height and toasts get only the rows it leaves, whole ones,
the newest in view (``QuestionScreen``): at 80x24 a toast raised while it is
open would otherwise sit over its buttons.
"""

from __future__ import annotations

from typing import TypeVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.scalar import Scalar
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, Static

from jobdeck.cockpit.toast_text import toast_text_width

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
    them. The rack shows the newest toasts that fit whole in the rows the question leaves and hides
    the older ones (a rack in that layer cannot be scrolled to its end: Textual lays out no size for
    it). When the newest does not fit, the question drops its blank rows (``-tight``) to make room.
    """

    @on(events.Mount)
    def _follow_layout(self) -> None:
        self.screen_layout_refresh_signal.subscribe(self.query_one(".dialog"), self._leave_toast_rows)

    def _leave_toast_rows(self, _: Screen) -> None:
        racks = self.query("#textual-toastrack")  # (none when notifications are off)
        if not racks:
            return
        rack = racks.first()
        holders = [holder for holder in rack.query_children("ToastHolder") if holder.query_children("Toast")]
        rows = max(self.size.height - self.query_one(".dialog").outer_size.height - rack.styles.margin.bottom, 0)
        heights = [self._toast_height(holder) for holder in holders]
        if heights and heights[-1] > rows and not self.has_class("-tight"):
            self.add_class("-tight")  # laid out again, and back here with the rows that frees
            return
        shown = whole_toasts(heights, rows)
        for n, holder in enumerate(holders):
            holder.display = n >= len(holders) - shown
        if rack.styles.max_height != Scalar.from_number(rows):
            rack.styles.max_height = rows  # (a newest toast taller than every row left is cut, not the buttons)

    def _toast_height(self, holder: Widget) -> int:
        """Rows a toast takes in the rack: its lines at the width the cockpit fits toast text to, its padding
        and the margin above it."""
        toast = holder.query_children("Toast").first()
        lines = toast.get_content_height(self.size, self.size, toast_text_width(self.app.size.width))
        return lines + toast.styles.gutter.height + toast.styles.margin.top


def whole_toasts(heights: list[int], rows: int) -> int:
    """How many of the newest toasts (``heights`` oldest first) fit whole in ``rows``: at least the newest."""
    used = shown = 0
    for height in reversed(heights):
        if shown and used + height > rows:
            break
        used, shown = used + height, shown + 1
    return shown


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
