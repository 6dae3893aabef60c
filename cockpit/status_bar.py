"""The header line: counts per column, running/capacity, recent failures, cost today, runners.

Each field has a long form ("Backlog 4", "1 failed/1h", "$0.00 today") and a
short one ("B4", "1✗/1h", "$0.00"); the long forms are used when the whole line
fits, and `?` explains the short ones. Fields are divided by a visible mark, so
no renderer (a screenshot viewer collapses spaces) can run two of them together.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from jobdeck.state.machine import COLUMNS, Status
from jobdeck.state.money import format_cost as money

from jobdeck.cockpit.job_column import TITLES
from jobdeck.cockpit.model import BoardStats

SHORT = {"backlog": "B", "running": "R", "review": "V", "done": "D", "failed": "F"}
FOLDED_SHORT = {**SHORT, "cancelled": "C"}
DIVIDER = " │ "


class StatusBar(Widget):
    """One line summarising the deck, in long labels when they fit and short ones otherwise."""

    stats: reactive[BoardStats | None] = reactive(None)
    """The numbers to show (None until the first refresh)."""
    folded: reactive[tuple[Status, ...]] = reactive(())
    """Board columns folded out of view (said at the end of the line, with the keys that reach them)."""

    def __init__(self, deck_name: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.deck_name = deck_name

    def on_click(self) -> None:
        """The header's counters lead to the last 24 hours (the stats screen, `s`)."""
        from jobdeck.cockpit.job_screen import JobScreen

        self.post_message(JobScreen.OpenStats())

    def render(self) -> Text:
        width = self.size.width
        for wide, compact, spare in ((True, False, False), (False, False, False), (False, True, False),
                                     (False, True, True)):
            text = self.line(wide=wide, compact=compact, spare=spare)
            if not width or text.cell_len <= width:
                return text
        return self.line(wide=False, compact=True, spare=True,
                         deck_room=max(0, len(self.deck_name) - (text.cell_len - width)))

    def line(self, *, wide: bool, compact: bool = False, spare: bool = False, deck_room: int | None = None) -> Text:
        """The header with long (``wide``) or short labels; the deck name cut to ``deck_room`` cells.

        ``compact``: the runners and the folded columns in their fewest words ("● up", "DF ←/→"), so that a
        busy board keeps the hour's failures and the day's cost, which matter most then.

        ``spare``: without the hour's failures, the day's cost and the running capacity, so that what
        the operator must know (the deck held, no runner, folded columns) still fits; a held deck is
        said first then.
        """
        stats = self.stats
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" jobdeck ", "bold reverse")
        if spare and stats is not None and stats.held_by is not None:
            text.append(" ⏸ HELD", "bold reverse yellow")
        name = self.deck_name if deck_room is None else self.deck_name[:deck_room]
        if name:
            text.append(f" {name}", "bold")
        if stats is None:
            return text
        for status in COLUMNS:
            count = stats.counts[status]
            label = f"{TITLES[status]} " if wide else SHORT[status.value]
            with_capacity = status.value == "running" and not stats.loading and not spare
            value = f"{count}/{stats.capacity}" if with_capacity else str(count)
            style = "bold red" if status.value == "failed" and count else ""
            text.append(" ")
            text.append(f"{label}{value}", style)
        if stats.loading:
            text.append(DIVIDER, "dim")
            text.append("reading the deck…", "italic")
        else:
            if not spare:
                fails = stats.failures_last_hour
                text.append(DIVIDER, "dim")
                text.append(f"{fails} failed/1h" if wide else f"{fails}✗/1h", "red" if fails else "dim")
                text.append(DIVIDER, "dim")
                text.append(f"{money(stats.cost_today)} today" if wide else money(stats.cost_today))
            text.append(DIVIDER, "dim")
            if stats.runners:
                names = "runner up" if len(stats.runners) == 1 else f"{len(stats.runners)} runners up"
                if compact:
                    names = "up" if len(stats.runners) == 1 else f"{len(stats.runners)} up"
                text.append(f"● {names}", "bold green")
            else:
                text.append("○ no runner", "bold yellow")
            if stats.held_by is not None and not spare:
                text.append(DIVIDER, "dim")
                text.append(f"⏸ deck held by {stats.held_by}" if wide else "⏸ HELD", "bold reverse yellow")
        if self.folded:  # named, in the header's own letters when short: "B folded ←/→"
            note = (", ".join(TITLES[status] for status in self.folded) + " folded: ←/→" if wide
                    else "".join(FOLDED_SHORT[status.value] for status in self.folded)
                    + (" folded" if spare else " ←/→" if compact else " folded ←/→"))
            text.append(DIVIDER, "dim")
            text.append(note, "bold")
        return text
