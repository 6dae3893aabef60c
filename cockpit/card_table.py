"""One board column's list of cards: a DataTable keyed by job id, changed row by row.

Rows are added, updated in place and removed as jobs move; the table is only
rebuilt wholesale when a filter or a spec reload changes most of it (DataTable's
``remove_row`` is linear in the row count, so thousands of single removals cost
more than one rebuild).
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.events import Resize
from textual.widgets import DataTable

from state.views import Card

from cockpit.card_cell import HEIGHT, CardCell, clock_text

COLUMN = "card"
FIRST_ROWS = 40
"""Rows a rebuild adds at once (more than a tall terminal shows); the rest follow in chunks."""
CHUNK_ROWS = 400
"""Rows added per event-loop turn while a big column fills in, so keys and changes stay responsive."""
LIMIT = 1000
"""Rows a column shows at most; the filter reaches the rest. DataTable's bookkeeping
per change is linear in its rows, which at 7,000+ rows cost more than the update."""


class CardTable(DataTable[CardCell]):
    """The cards of one column, in the column's order, with a row cursor."""

    BINDINGS = [
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("g", "scroll_top", "top", show=False),
        Binding("G", "scroll_bottom", "bottom", show=False),
        Binding("left,h", "screen.column(-1)", "column left", show=False),
        Binding("right,l", "screen.column(1)", "column right", show=False),
    ]

    def __init__(self, *, id: str | None = None, keep_newest: bool = False) -> None:
        super().__init__(cursor_type="row", show_header=False, zebra_stripes=True,
                         cell_padding=1, id=id)
        self.add_column("", width=10, key=COLUMN)
        self.keep_newest = keep_newest
        """Past LIMIT, show the last cards in order (history columns) rather than the first."""
        self._max_order: tuple[object, ...] | None = None
        self._needs_sort = False
        self._pending: dict[str, CardCell] = {}
        self._all: dict[str, CardCell] = {}

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

    @property
    def card_count(self) -> int:
        """Cards shown in this column, including those still being added after a rebuild."""
        return self.row_count + len(self._pending)

    @property
    def total_count(self) -> int:
        """Cards that belong in this column, shown or past LIMIT."""
        return len(self._all)

    # -- incremental changes -----------------------------------------------------

    def put(self, cell: CardCell) -> None:
        """Add the card, or update its row if it is already here and looks different."""
        job_id = cell.card.id
        self._all[job_id] = cell
        self._pending.pop(job_id, None)
        old = self.cell(job_id)
        if old is None:
            if self.card_count >= LIMIT and not self._belongs_in_window(cell):
                return
            self.add_row(cell, key=job_id, height=HEIGHT)
            if self._max_order is not None and cell.order < self._max_order:
                self._needs_sort = True
            else:
                self._max_order = cell.order
        elif old != cell:
            self.update_cell(job_id, COLUMN, cell)
            if old.order != cell.order:
                self._needs_sort = True

    def drop(self, job_id: str) -> None:
        if self._all.pop(job_id, None) is None:
            return
        shown = self._pending.pop(job_id, None) is not None
        if job_id in self.rows:
            self.remove_row(job_id)
            shown = True
        if shown and len(self._all) > self.card_count:
            self._promote()

    def _belongs_in_window(self, cell: CardCell) -> bool:
        """Whether a card arriving in a full column displaces a shown one."""
        edge = self._edge_order()
        if edge is None:
            return True
        return cell.order > edge if self.keep_newest else cell.order < edge

    def _edge_order(self) -> tuple[object, ...] | None:
        """The order of the shown card that would give way to a better one."""
        if not self.row_count:
            return None
        if self.keep_newest:
            first = self.coordinate_to_cell_key(Coordinate(0, 0)).row_key
            return self.get_cell(first, COLUMN).order
        return self._max_order

    def _promote(self) -> None:
        """Show the best card past LIMIT in place of one that left."""
        shown = set(self._pending)
        hidden = [cell for job_id, cell in self._all.items() if job_id not in shown and job_id not in self.rows]
        if hidden:
            best = (max if self.keep_newest else min)(hidden, key=lambda cell: cell.order)
            self.add_row(best, key=best.card.id, height=HEIGHT)
            self._needs_sort = True

    def _trim(self) -> None:
        """Give way at the far end until the column is within LIMIT (after a sort)."""
        while self.card_count > LIMIT and self.row_count:
            edge = 0 if self.keep_newest else self.row_count - 1
            self.remove_row(self.coordinate_to_cell_key(Coordinate(edge, 0)).row_key)

    def settle(self) -> None:
        """Restore the column's order after puts that landed out of place; keep the cursor's job."""
        if not self._needs_sort and self.card_count <= LIMIT:
            return
        selected = self.selected_id
        if self._needs_sort:
            self._needs_sort = False
            self.sort(COLUMN, key=lambda cell: cell.order)
        self._trim()
        if self.row_count:
            last = self.coordinate_to_cell_key(Coordinate(self.row_count - 1, 0)).row_key
            self._max_order = self.get_cell(last, COLUMN).order
        self._keep_cursor_on(selected)

    def replace_all(self, cells: Iterable[CardCell]) -> None:
        """Show exactly ``cells`` (a rebuild: first paint, filters, spec reloads).

        The first screenful is added now; the rest wait for ``fill_chunk`` (the
        board calls it on later event-loop turns: DataTable's per-row cost makes
        10,000 rows take over a second).
        """
        selected = self.selected_id
        ordered = sorted(cells, key=lambda cell: cell.order)
        self._all = {cell.card.id: cell for cell in ordered}
        ordered = ordered[-LIMIT:] if self.keep_newest else ordered[:LIMIT]
        self.clear()
        for cell in ordered[:FIRST_ROWS]:
            self.add_row(cell, key=cell.card.id, height=HEIGHT)
        self._pending = {cell.card.id: cell for cell in ordered[FIRST_ROWS:]}
        self._max_order = ordered[min(len(ordered), FIRST_ROWS) - 1].order if ordered else None
        self._needs_sort = False
        self._keep_cursor_on(selected)

    @property
    def filling(self) -> bool:
        """Whether rows of the last rebuild are still waiting to be added."""
        return bool(self._pending)

    def fill_chunk(self) -> None:
        """Add the next CHUNK_ROWS rows waiting since the last rebuild (in order)."""
        for _ in range(min(CHUNK_ROWS, len(self._pending))):
            job_id = next(iter(self._pending))
            self.put(self._pending[job_id])
        self.settle()

    def retick(self, now: float) -> None:
        """Redraw the cards whose clock-dependent text (age, retry in, fires in) changed."""
        for key in list(self.rows):
            cell: CardCell = self.get_cell(key, COLUMN)
            if clock_text(cell.card, now) != cell.clock:
                self.update_cell(key, COLUMN, CardCell(cell.card, now, cell.position))

    def cards(self) -> Iterable[Card]:
        return (self.get_cell(key, COLUMN).card for key in self.rows)

    def reveal(self, job_id: str) -> bool:
        """Make sure a card still waiting to be added is a row now; False if it is not shown."""
        cell = self._pending.get(job_id)
        if cell is not None:
            self.put(cell)
            self.settle()
        return job_id in self.rows

    def _keep_cursor_on(self, job_id: str | None) -> None:
        if job_id is not None and job_id in self.rows:
            row = self.get_row_index(job_id)
            if row != self.cursor_row:
                self.move_cursor(row=row, animate=False)

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
