"""The `/` filter input under the board."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """Type to filter the board; Enter keeps the filter, Esc clears it."""

    BINDINGS = [Binding("escape", "clear_filter", "clear filter")]

    class Done(Message):
        """The operator left the filter (Enter or Esc)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter: text  label:NAME  ws:NAME  status:NAME", id=id)

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Done())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Done())
