"""The review queue's list: four columns sized to the table's width, so a long job id cannot push kind and why out.

A DataTable column left to fit its content grows to the longest id and never
shrinks; here each column's width is set from the table's width, an id or a
reason too long for it is cut with "…" (as the board's cards cut an id), and the
selected job's full id and reason are in the side pane beside it.
"""

from __future__ import annotations

from rich.text import Text
from textual.actions import SkipAction
from textual.events import Resize
from textual.widgets import DataTable

COLUMNS = (("waiting", "age"), ("job", "job"), ("kind", "kind"), ("why", "why"))
AGE_WIDTH = 7
"""'waiting', wider than any age ("59m", "3d")."""
KIND_WIDTH = len("interrupted")
"""The longest kind."""
ID_LEAST = 16
"""Cells a long id keeps however narrow the table: as many as a narrow board card gives it."""
WHY_LEAST = 8


def column_widths(width: int, longest_id: int, padding: int = 1) -> tuple[int, int, int, int]:
    """Text widths of waiting, job, kind and why in a table ``width`` cells wide: the id at most half the room
    age and kind leave (its own length when shorter), the reason the rest."""
    room = width - 2 * padding * len(COLUMNS) - AGE_WIDTH - KIND_WIDTH
    job = max(len("job"), min(longest_id, max(ID_LEAST, room // 2)))
    return AGE_WIDTH, job, KIND_WIDTH, max(WHY_LEAST, room - job)


def cut(cell: Text) -> Text:
    """``cell`` on one line, ending in "…" where its column is too narrow for it."""
    cell.no_wrap, cell.overflow = True, "ellipsis"
    return cell


class ReviewTable(DataTable[Text]):
    """The queue, one row per waiting job, keyed by job id."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._shown: dict[str, tuple[Text, ...]] = {}
        self._widths: tuple[int, ...] = ()

    def show(self, rows: dict[str, tuple[Text, ...]]) -> None:
        """Show ``rows`` (job id -> waiting, job, kind, why) in order; rows are edited in place while the order
        is unchanged."""
        shown, self._shown = self._shown, {key: tuple(map(cut, cells)) for key, cells in rows.items()}
        widths = self._fitted_widths()
        if widths == self._widths and list(rows) == list(shown):
            for key, cells in self._shown.items():
                for (_, column), was, cell in zip(COLUMNS, shown[key], cells):
                    if was != cell:
                        self.update_cell(key, column, cell)
            return
        self._rebuild(widths)

    def action_select_cursor(self) -> None:
        if not self.row_count:  # nothing to open: Enter goes on to the screen, which says so
            raise SkipAction
        super().action_select_cursor()

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def on_resize(self, event: Resize) -> None:
        widths = self._fitted_widths()
        if widths != self._widths:
            self._rebuild(widths)

    def _fitted_widths(self) -> tuple[int, ...]:
        longest = max((len(cells[1]) for cells in self._shown.values()), default=0)
        return column_widths(self.scrollable_content_region.width, longest, self.cell_padding)

    def _rebuild(self, widths: tuple[int, ...]) -> None:
        """Lay the columns out at ``widths`` and add every row again, the cursor kept on its job."""
        selected = self.selected_key()
        self._widths = widths
        self.clear(columns=True)
        for (label, key), width in zip(COLUMNS, widths):
            self.add_column(label, key=key, width=width)
        for key, cells in self._shown.items():
            self.add_row(*cells, key=key)
        if selected in self._shown:
            self.move_cursor(row=list(self._shown).index(selected), animate=False)
