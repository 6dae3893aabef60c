"""`?`: every key, on one screen that fits 80x24."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("Board", (
        ("← ↓ ↑ →  h j k l", "move between cards and columns (also Tab, Shift+Tab)"),
        ("Enter", "open: spec, attempts, output, chain of work"),
        ("v  s", "review queue: everything waiting on you / the last 24 h"),
        ("/", "filter: text  label:L  ws:W  status:S"),
        ("c", "show / hide the Cancelled column"),
    )),
    ("Act on the selected job (each is an event in its chain of work)", (
        ("a", "approve (review, or high risk before it runs)"),
        ("R", "reject with a reason (asks first)"),
        ("r  x", "retry / cancel (cancel asks first)"),
        ("p", "pause / resume"),
        ("t", "run now: a new cycle, dependents included"),
        ("P  H  u", "pin (start next, once) / hold / release either"),
        ("w", "why: what keeps it from running, its rank, reasons"),
        ("A", "accept the advice: pin the top-ranked job (advise)"),
    )),
    ("Deck", (
        ("e", "edit jobs.json in $EDITOR, validated on save"),
        ("n", "new job"),
        ("Ctrl+P", "command palette"),
        ("Esc  q", "back, close / quit"),
    )),
)


def keys_table() -> Group:
    parts: list[RenderableType] = []
    for title, rows in KEYS:
        parts.append(Text(title, "bold underline"))
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, min_width=16)
        table.add_column()
        for key, what in rows:
            table.add_row(Text(key), Text(what))
        parts.append(table)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    """The key reference; any of Esc, ? or q closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(Text("jobdeck cockpit: keys  (Esc closes)", "bold"))
            yield Static(keys_table(), id="help-keys")

    def action_close(self) -> None:
        self.dismiss()
