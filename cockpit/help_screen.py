"""`?`: what the header's short forms say, and every key, on one screen that fits 80x24."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HEADER = (
    "The header (long labels when there is room)",
    (
        ("B4 R0/4 V2 D7 F0", "Backlog, Running/capacity, reView, Done, Failed"),
        ("1✗/1h  $0.00", "attempts failed in the last hour; cost today"),
        ("○ no runner  ⏸ HELD", "no runner's heartbeat is fresh; deck held (D)"),
        ("RF folded ←/→", "columns with no room, empty first; ←/→ reach cards"),
    ),
)

KEYS = (
    ("Board", (
        ("← ↓ ↑ →  h j k l", "cards and columns (Tab goes round); g G first, last"),
        ("Enter  o  E  y  Y", "open / page its output (E: stderr) / copy id, path"),
        ("v  s", "the review queue / the last 24 hours"),
        ("/  c", "filter (label:L ws:W status:S) / Cancelled"),
    )),
    ("Act on the selected job (each is an event in its chain of work)", (
        ("a", "approve (a high-risk job asks first)"),
        ("r  p", "retry / pause or resume"),
        ("z", "undo the last a, r or p (while its toast lasts)"),
        ("x  R  t", "cancel / reject / run now (each asks first)"),
        ("P  H  u", "pin (start next, once) / hold / release"),
        ("w  A", "why it waits / accept the advice (advise)"),
    )),
    ("Deck", (
        ("D  e  n", "hold or release the deck / edit jobs.json / new job"),
        ("Ctrl+P  Esc  q ^C", "command palette / back, close / quit"),
    )),
)

def keys_table() -> Group:
    parts: list[RenderableType] = []
    for title, rows in (HEADER, *KEYS):
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

    def __init__(self, remapped: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.remapped = dict(remapped or {})

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help", classes="dialog"):
            yield Static(Text("jobdeck cockpit: keys  (Esc closes)", "bold"))
            if self.remapped:
                yours = ", ".join(f"{action} {keys}" for action, keys in sorted(self.remapped.items()))
                yield Static(Text(f"yours (keys.toml), over the defaults below: {yours}", "bold yellow"),
                             id="help-remapped")
            yield Static(keys_table(), id="help-keys")

    def action_close(self) -> None:
        self.dismiss()
