"""A board column: its title (name and count) over its CardTable."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from jobdeck.state.machine import Status

from jobdeck.cockpit.card_table import CardTable

TITLES = {
    Status.BACKLOG: "Backlog",
    Status.RUNNING: "Running",
    Status.REVIEW: "Review",
    Status.DONE: "Done",
    Status.FAILED: "Failed",
    Status.CANCELLED: "Cancelled",
}


class JobColumn(Vertical):
    """One status column of the board."""

    def __init__(self, status: Status) -> None:
        super().__init__(id=f"column-{status.value}", classes=f"job-column -{status.value}")
        self.status = status
        history = status in (Status.DONE, Status.FAILED, Status.CANCELLED)
        self.table = CardTable(id=f"table-{status.value}", keep_newest=history)
        self._title = ""

    def compose(self) -> ComposeResult:
        yield Static(TITLES[self.status], classes="column-title", markup=False)
        yield self.table

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # A class, not :focus-within, so the title is restyled when focus moves.
        self.add_class("-focused")

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self.remove_class("-focused")

    def set_count(self, shown: int, total: int) -> None:
        """Show 'Review 3', or 'Review 1/3' while a filter (or the row limit) hides some."""
        count = str(total) if shown == total else f"{shown}/{total}"
        title = f"{TITLES[self.status]} {count}"
        if title != self._title:
            self._title = title
            self.query_one(".column-title", Static).update(title, layout=False)
