"""The header line: counts per column, running/capacity, recent failures, cost today, runners."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from jobdeck.state.machine import COLUMNS

from jobdeck.cockpit.job_column import TITLES
from jobdeck.cockpit.model import BoardStats

SHORT = {"backlog": "B", "running": "R", "review": "V", "done": "D", "failed": "F"}


class StatusBar(Widget):
    """One line summarising the deck; the short form is used below 110 columns."""

    stats: reactive[BoardStats | None] = reactive(None)
    """The numbers to show (None until the first refresh)."""

    def __init__(self, deck_name: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.deck_name = deck_name

    def render(self) -> Text:
        stats = self.stats
        text = Text()
        text.append(" jobdeck ", "bold reverse")
        text.append(f" {self.deck_name} ", "bold")
        if stats is None:
            return text
        wide = self.size.width >= 110
        for status in COLUMNS:
            count = stats.counts[status]
            label = f"{TITLES[status]} " if wide else SHORT[status.value]
            value = f"{count}/{stats.capacity}" if status.value == "running" and not stats.loading else str(count)
            style = "bold red" if status.value == "failed" and count else ""
            text.append(" ")
            text.append(f"{label}{value}", style)
        text.append("  ")
        if stats.loading:
            text.append("reading the deck…", "italic")
            return text
        fails = stats.failures_last_hour
        text.append(f"{fails} failed/1h" if wide else f"{fails}✗/1h", "red" if fails else "dim")
        text.append("  ")
        text.append(f"${stats.cost_today:.2f} today" if wide else f"${stats.cost_today:.2f}")
        text.append("  ")
        if stats.runners:
            names = "runner up" if len(stats.runners) == 1 else f"{len(stats.runners)} runners up"
            text.append(f"● {names}", "bold green")
        else:
            text.append("○ no runner", "bold yellow")
        return text
