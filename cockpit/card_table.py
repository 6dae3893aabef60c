"""One board column's list of cards: a DataTable keyed by job id, changed row by row.

The column knows every card that belongs in it (kept sorted) and shows a window
of at most LIMIT of them. ``put`` and ``drop`` only note a change (a shown card
that changed in place is redrawn at once); ``settle`` then brings the rows in line
with the window in one pass per delta: the rows that left go in one removal
(DataTable's ``remove_row`` renumbers every row, so a hundred single removals
cost a hundred times that), the newcomers are added in order. The table is only
rebuilt wholesale when a filter or a spec reload changes most of it. The
shortcuts through DataTable's private members (removing many rows at once,
keeping drawn lines on the cards) live in cockpit/textual_private.py.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable

from textual.actions import SkipAction
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.widgets.data_table import RowKey

from jobdeck.state.card import Card

from jobdeck.cockpit.card_cell import HEIGHT, CardCell, clock_text
from jobdeck.cockpit.textual_private import HeaderlessTable

COLUMN = "card"
FIRST_ROWS = 40
"""Rows a rebuild adds at once (more than a tall terminal shows); the rest follow in chunks."""
CHUNK_ROWS = 400
"""Rows added per event-loop turn while a big column fills in, so keys and changes stay responsive."""
LIMIT = 1000
"""Rows a column shows at most; the filter reaches the rest. DataTable's bookkeeping
per change is linear in its rows, which at 7,000+ rows cost more than the update."""


class CardTable(HeaderlessTable[CardCell]):
    """The cards of one column, in the column's order, with a row cursor."""

    BINDINGS = [
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("g,home", "scroll_top", "top", show=False),
        Binding("G,end", "scroll_bottom", "bottom", show=False),
        # (they stop at the board's edge, as arrows do; Tab goes round)
        Binding("left,h", "screen.column(-1, False)", "column left", show=False),
        Binding("right,l", "screen.column(1, False)", "column right", show=False),
    ]

    def __init__(self, *, id: str | None = None, keep_newest: bool = False) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=1, id=id)
        self.add_column("", width=10, key=COLUMN)
        self.keep_newest = keep_newest
        """Past LIMIT, show the last cards in order (history columns) rather than the first."""
        self._all: dict[str, CardCell] = {}
        """Every card that belongs in this column, shown or past LIMIT."""
        self._sorted: list[tuple[tuple[object, ...], str]] = []
        """(order, id) of every card in ``_all``, ascending."""
        self._dirty = False
        self._needs_sort = False
        self._filling = False

    def action_select_cursor(self) -> None:
        if not self.row_count:  # nothing to open: Enter goes on to the screen, which says so
            raise SkipAction
        super().action_select_cursor()

    # -- what is shown -----------------------------------------------------------

    @property
    def selected_id(self) -> str | None:
        """The job under the cursor, if the column has any."""
        if not self.row_count:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        return self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value

    def ids(self) -> list[str]:
        """Job ids in display order."""
        return [self.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value or ""
                for i in range(self.row_count)]

    def cell(self, job_id: str) -> CardCell | None:
        return self.get_cell(job_id, COLUMN) if job_id in self.rows else None

    def kept(self, job_id: str) -> CardCell | None:
        """The cell the column keeps for a job, whether shown, waiting to be added or past LIMIT."""
        return self._all.get(job_id)

    @property
    def card_count(self) -> int:
        """Cards shown in this column, including those still being added after a rebuild."""
        return min(LIMIT, len(self._all))

    # -- incremental changes -----------------------------------------------------

    def put(self, cell: CardCell) -> None:
        """Note the card (new, or changed); a row already shown is updated now, the rest at ``settle``."""
        job_id = cell.card.id
        old = self._all.get(job_id)
        if old is None or old.order != cell.order:
            if old is not None:
                self._unsort(old)
            insort(self._sorted, (cell.order, job_id))
            self._dirty = True
        self._all[job_id] = cell
        if job_id in self.rows:
            shown: CardCell = self.get_cell(job_id, COLUMN)
            if shown != cell:
                self.update_cell(job_id, COLUMN, cell)
                if shown.order != cell.order:
                    self._needs_sort = True

    def drop(self, job_id: str) -> None:
        """Note that the card left this column (its row goes at ``settle``)."""
        old = self._all.pop(job_id, None)
        if old is not None:
            self._unsort(old)
            self._dirty = True

    def _unsort(self, cell: CardCell) -> None:
        entry = (cell.order, cell.card.id)
        at = bisect_left(self._sorted, entry)
        if at < len(self._sorted) and self._sorted[at] == entry:
            del self._sorted[at]

    def _window(self) -> list[tuple[tuple[object, ...], str]]:
        """(order, id) of the cards this column shows, in order: the first LIMIT, or the last."""
        return self._sorted[-LIMIT:] if self.keep_newest else self._sorted[:LIMIT]

    def settle(self) -> None:
        """Make the rows the column's window again after puts and drops: one removal of every row
        that left it, then the newcomers, in order; the cursor stays on its job."""
        if not self._dirty and not self._needs_sort:
            return
        self._dirty = False
        selected = self.selected_id
        window = self._window()
        wanted = {job_id for _, job_id in window}
        self.remove_rows([key for key in self.rows if key.value not in wanted])
        covered = len(window)
        if self._filling and self.row_count:  # rows past the last one shown wait for fill_chunk
            covered = bisect_right(window, self._last_row())
        rows = self.rows
        last = self._last_row() if self.row_count else None
        for entry in window[:covered]:
            if entry[1] not in rows:
                self.add_row(self._all[entry[1]], key=entry[1], height=HEIGHT)
                if last is not None and entry < last:
                    self._needs_sort = True
        if self._needs_sort:
            self._needs_sort = False
            self.sort(COLUMN, key=lambda cell: cell.order)
        self._keep_cursor_on(selected)

    def _last_row(self) -> tuple[tuple[object, ...], str]:
        key = self.coordinate_to_cell_key(Coordinate(self.row_count - 1, 0)).row_key
        return self.get_cell(key, COLUMN).order, key.value or ""

    def replace_all(self, cells: Iterable[CardCell]) -> None:
        """Show exactly ``cells`` (a rebuild: first paint, filters, spec reloads).

        The first screenful is added now; the rest wait for ``fill_chunk`` (the
        board calls it on later event-loop turns: DataTable's per-row cost makes
        10,000 rows take over a second).
        """
        selected = self.selected_id
        self._all = {cell.card.id: cell for cell in cells}
        self._sorted = sorted((cell.order, job_id) for job_id, cell in self._all.items())
        window = self._window()
        self.clear()
        for _, job_id in window[:FIRST_ROWS]:
            self.add_row(self._all[job_id], key=job_id, height=HEIGHT)
        self._filling = len(window) > FIRST_ROWS
        self._dirty = self._needs_sort = False
        self._keep_cursor_on(selected)

    @property
    def filling(self) -> bool:
        """Whether rows of the last rebuild are still waiting to be added."""
        return self._filling

    def fill_chunk(self) -> None:
        """Add the next CHUNK_ROWS rows waiting since the last rebuild (in order)."""
        self.settle()
        window = self._window()
        start = bisect_right(window, self._last_row()) if self.row_count else 0
        for _, job_id in window[start:start + CHUNK_ROWS]:
            if job_id not in self.rows:
                self.add_row(self._all[job_id], key=job_id, height=HEIGHT)
        self._filling = start + CHUNK_ROWS < len(window)

    def retick(self, now: float) -> None:
        """Redraw the cards whose clock-dependent text (age, retry in, fires in) changed."""
        for key in list(self.rows):
            cell: CardCell = self.get_cell(key, COLUMN)
            if clock_text(cell.card, now) != cell.clock:
                self.update_cell(key, COLUMN, CardCell(cell.card, now, cell.position, cell.advised))

    def cards(self) -> Iterable[Card]:
        return (self.get_cell(key, COLUMN).card for key in self.rows)

    def reveal(self, job_id: str) -> bool:
        """Make sure a card still waiting to be added is a row now; False if it is not shown."""
        self.settle()
        while self._filling and job_id in self._all and job_id not in self.rows:
            self.fill_chunk()
        return job_id in self.rows

    def _keep_cursor_on(self, job_id: str | None) -> None:
        if job_id is not None and job_id in self.rows:
            row = self.get_row_index(job_id)
            if row != self.cursor_row:
                self.move_cursor(row=row, animate=False)

    # -- drawing -------------------------------------------------------------------

    def line_keeper(self, row_key: RowKey) -> CardCell:
        """A card keeps its drawn lines on its cell, so they go when the card changes."""
        return self.get_cell(row_key, COLUMN)

    # -- layout ------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        """Cards fill the column: the one DataTable column is as wide as the widget."""
        self.fit(self.scrollable_content_region.width)

    def fit(self, width: int) -> None:
        """Make the card column ``width`` cells wide, padding included."""
        width = max(1, width - 2 * self.cell_padding)
        column = self.columns[COLUMN]  # type: ignore[index]
        if column.width != width:
            column.width = width
            self.refresh()
