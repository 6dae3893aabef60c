"""`?`: every key, on one screen that fits 80x24."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("Board", (
        ("←↓↑→  h j k l", "move between cards and columns"),
        ("Tab  Shift+Tab", "next / previous column"),
        ("Enter", "open the job: spec, attempts, output, chain of work"),
        ("v", "review queue: everything waiting on you"),
        ("/", "filter: text, label:NAME, ws:NAME, status:NAME"),
        ("c", "show / hide the Cancelled column"),
    )),
    ("Act on the selected job", (
        ("a", "approve (review, or a high-risk job before it runs)"),
        ("R", "reject, with a reason (asks first)"),
        ("r", "retry (failed, review, done, cancelled)"),
        ("x", "cancel (asks first)"),
        ("p", "pause / resume"),
        ("t", "run now (a new cycle of it and its dependents)"),
    )),
    ("Deck", (
        ("e", "edit jobs.json in $EDITOR (validated like `jobdeck edit`)"),
        ("n", "new job"),
        ("Ctrl+P", "command palette"),
        ("Esc", "back / close"),
        ("q", "quit"),
    )),
)


def keys_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for title, rows in KEYS:
        table.add_row(Text(title, "bold underline"), Text(""))
        for key, what in rows:
            table.add_row(Text(key), Text(what))
    return table


class HelpScreen(ModalScreen[None]):
    """The key reference; any of Esc, ? or q closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Static(Text("jobdeck cockpit — keys", "bold"), classes="dialog-title")
            yield Static(keys_table(), id="help-keys")
            yield Static(Text("Every action is an event in the chain of work, attributed to you.", "dim"))

    def action_close(self) -> None:
        self.dismiss()
