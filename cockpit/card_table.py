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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", show_header=False, zebra_stripes=True,
                         cell_padding=1, id=id)
        self.add_column("", width=10, key=COLUMN)
        self._max_order: tuple[object, ...] | None = None
        self._needs_sort = False

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

    # -- incremental changes -----------------------------------------------------

    def put(self, cell: CardCell) -> None:
        """Add the card, or update its row if it is already here and looks different."""
        job_id = cell.card.id
        old = self.cell(job_id)
        if old is None:
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
        if job_id in self.rows:
            self.remove_row(job_id)

    def settle(self) -> None:
        """Restore the column's order after puts that landed out of place; keep the cursor's job."""
        if not self._needs_sort:
            return
        self._needs_sort = False
        selected = self.selected_id
        self.sort(COLUMN, key=lambda cell: cell.order)
        self._max_order = max((self.get_cell(key, COLUMN).order for key in self.rows), default=None)
        self._keep_cursor_on(selected)

    def replace_all(self, cells: Iterable[CardCell]) -> None:
        """Show exactly ``cells`` (a rebuild, for filters and spec reloads)."""
        selected = self.selected_id
        ordered = sorted(cells, key=lambda cell: cell.order)
        self.clear()
        for cell in ordered:
            self.add_row(cell, key=cell.card.id, height=HEIGHT)
        self._max_order = ordered[-1].order if ordered else None
        self._needs_sort = False
        self._keep_cursor_on(selected)

    def retick(self, now: float) -> None:
        """Redraw the cards whose clock-dependent text (age, retry in, fires in) changed."""
        for key in list(self.rows):
            cell: CardCell = self.get_cell(key, COLUMN)
            if clock_text(cell.card, now) != cell.clock:
                self.update_cell(key, COLUMN, CardCell(cell.card, now, cell.position))

    def cards(self) -> Iterable[Card]:
        return (self.get_cell(key, COLUMN).card for key in self.rows)

    def _keep_cursor_on(self, job_id: str | None) -> None:
        if job_id is not None and job_id in self.rows:
            self.move_cursor(row=self.get_row_index(job_id), animate=False)

    # -- layout ------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        """Cards fill the column: the one DataTable column is as wide as the widget."""
        width = max(1, self.scrollable_content_region.width - 2 * self.cell_padding)
        column = self.columns[COLUMN]  # type: ignore[index]
        if column.width != width:
            column.width = width
            self.refresh()
