"""The `/` filter input under the board."""

from __future__ import annotations

import asyncio

from textual import events
from textual.binding import Binding
from textual.widgets import Input


class FilterBar(Input):
    """Type to filter the board; Enter keeps the filter, Esc clears it."""

    # Priority: the App runs these as it reads the key, before it hands the next key to
    # the focused widget, so the key after Enter or Esc reaches the board, not the filter
    # (BoardScreen.action_leave_filter).
    BINDINGS = [
        Binding("enter", "screen.leave_filter", "keep filter", show=False, priority=True),
        Binding("escape", "screen.leave_filter(True)", "clear filter", show=False, priority=True),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter: text  label:NAME  ws:NAME  status:NAME", id=id)

    async def on_key(self, event: events.Key) -> None:
        # The bar's own keys (Backspace, arrows, Ctrl+W...) act here, in turn with the letters
        # around them; Textual runs them once the key has bubbled back to the App, after an
        # Enter typed next has left the filter.
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.node is not self or active.binding.priority:
            return
        event.prevent_default()  # (no Input handler after this one)
        event.stop()  # (nor the App's lookup of the binding, once the key bubbles up)
        if active.enabled:
            await self.run_action(active.binding.action)

    async def caught_up(self) -> None:
        """Return once the bar has handled every key handed to it so far.

        The App hands typed keys to the bar's own queue and reads on; a priority binding
        runs before the bar has typed the keys ahead of it unless it waits here.
        """
        handled = asyncio.Event()
        if self.call_later(handled.set):  # queued behind those keys
            await handled.wait()
