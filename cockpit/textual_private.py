"""Every use of Textual's private API in the cockpit, kept in one place.

A board column is a DataTable of up to a thousand cards under a stream of
changes, and two of DataTable's own paths cost too much there: removing rows one
by one, and drawing every line again after any change. The shortcuts around them
read and write DataTable's private members (``_row_locations``, ``_data``,
``_updated_cells``, ``_update_count``, ``_require_update_dimensions``,
``_y_offsets``, ``_show_hover_cursor``, ``_pseudo_class_state``, ``_render_line``,
``textual._two_way_dict``, and rich's ``Style._meta``; ``App._notifications`` and ``App._unnotify`` to take a
toast back), so no other cockpit module touches them, and
tests/unit/test_textual_private.py fails when one of them is gone, changes its
signature or stops behaving as relied on here.

Checked against Textual 8.2.8 (the whole test suite) and 8.0.0 (the cockpit's
tests and the guard); pyproject.toml allows 8.x only.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol, TypeVar

from rich.segment import Segment
from rich.style import Style
from textual._two_way_dict import TwoWayDict
from textual.app import App
from textual.geometry import Region
from textual.notifications import Notification
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, CursorType, RowKey

CellType = TypeVar("CellType")

Look = tuple[object, ...]
"""Everything a drawn line of a row depends on, besides the row's own content."""


class LineKeeper(Protocol):
    """Where a row keeps its drawn lines between paints (a board card keeps them on its cell)."""

    def strip(self, look: Look) -> Strip | None:
        """The line drawn earlier for ``look``, if it was kept."""

    def keep_strip(self, look: Look, strip: Strip) -> None:
        """Keep a drawn line for the next paint with the same look."""


class HeaderlessTable(DataTable[CellType]):
    """A DataTable without header or fixed rows that removes many rows in one pass and can keep drawn lines."""

    _style_epoch = 0
    """Bumped when the table's styles change: lines kept by rows are drawn again."""
    _line_style: Style | None = None
    """The table's style while a paint is under way (None between paints)."""

    def __init__(self, *, cursor_type: CursorType = "cell", zebra_stripes: bool = False, cell_padding: int = 1,
                 id: str | None = None) -> None:
        super().__init__(show_header=False, fixed_rows=0, cursor_type=cursor_type, zebra_stripes=zebra_stripes,
                         cell_padding=cell_padding, id=id)

    # -- removing rows -----------------------------------------------------------

    def remove_rows(self, keys: Collection[RowKey]) -> None:
        """Remove these rows in one pass.

        DataTable.remove_row renumbers every row after the one it removes (linear in
        the rows), so a column that loses a hundred cards in one delta would pay a
        hundred times; this does the renumbering once, on the same fields as
        remove_row does. With the column's one-pass settle (card_table.py), 250 cards
        leaving the backlog in one delta went from ~1 s to ~16 ms.
        """
        if len(keys) <= 2:
            for key in keys:
                self.remove_row(key)
            return
        gone = set(keys)
        locations = self._row_locations
        kept = [key for key in (locations.get_key(i) for i in range(self.row_count)) if key not in gone]
        self._require_update_dimensions = True
        self.check_idle()
        self._row_locations = TwoWayDict({key: index for index, key in enumerate(kept)})
        for key in gone:
            for column_key in self._data[key]:
                self._updated_cells.discard(CellKey(key, column_key))
            del self.rows[key]
            del self._data[key]
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)

    # -- drawing -------------------------------------------------------------------

    def line_keeper(self, row_key: RowKey) -> LineKeeper | None:
        """Where the row keeps its drawn lines; None (the default): it keeps none, each is drawn."""
        return None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_epoch += 1

    def render_lines(self, crop: Region) -> list[Strip]:
        self._line_style = self.rich_style  # a walk up the DOM: once per paint, not once per line
        try:
            return super().render_lines(crop)
        finally:
            self._line_style = None

    def render_line(self, y: int) -> Strip:
        # DataTable.render_line without a header or fixed rows (this table has neither).
        scroll_x, scroll_y = self.scroll_offset
        style = self._line_style if self._line_style is not None else self.rich_style
        return self._render_line(y + scroll_y, scroll_x, scroll_x + self.size.width, style)

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """A line of a row, drawn once per look and kept by the row's ``line_keeper``.

        DataTable forgets every drawn line on any change to the table, and drawing one
        costs a dozen style lookups up the DOM; under a stream of changes the rows on
        screen are mostly the same ones, shifted. A line's look depends only on its
        row, its place in the row, stripe parity, cursor and hover, crop, width, the
        column widths and the table's styles, so that is what it is kept by. A paint
        of two columns under a stream of changes went from ~65 ms to ~27 ms.
        """
        offsets = self._y_offsets
        if not 0 <= y < len(offsets):
            return super()._render_line(y, x1, x2, base_style)
        row_key, line_no = offsets[y]
        keeper = self.line_keeper(row_key)
        if keeper is None:
            return super()._render_line(y, x1, x2, base_style)
        row = self._row_locations.get(row_key)
        look = (line_no, row % 2, self.show_cursor and self.cursor_row == row,
                self._show_hover_cursor and self.hover_row == row, x1, x2, self.size.width,
                tuple(column.width for column in self.columns.values()), base_style,
                self._pseudo_class_state, self._style_epoch)
        strip = keeper.strip(look)
        if strip is None:
            strip = super()._render_line(y, x1, x2, base_style)
            keeper.keep_strip(look, strip)
        elif _row_meta(strip) not in (row, None):
            # DataTable writes each cell's row index into its segments' meta (clicks and
            # hover read it); a line kept from before the row moved names the old index.
            strip = _with_row_meta(strip, row)
            keeper.keep_strip(look, strip)
        return strip


def _row_meta(strip: Strip) -> object:
    """The row index DataTable wrote into a drawn line's mouse metadata (None if it wrote none)."""
    for segment in strip:
        if segment.style is not None and segment.style._meta:  # rich's serialised meta: skip the decode when empty
            return segment.style.meta.get("row")
    return None


def _with_row_meta(strip: Strip, row: int | None) -> Strip:
    """``strip`` with every segment's metadata naming ``row``; text, styles and other metadata unchanged."""
    moved = Style.from_meta({"row": row})
    return Strip([Segment(segment.text, segment.style + moved, segment.control)
                  if segment.style is not None and segment.style._meta else segment for segment in strip],
                 strip.cell_length)


def withdraw(app: App[object], notification: Notification) -> None:
    """Take a toast off the screen before its timeout (the undo's "z to undo" once nothing is left to undo).

    Textual has no public way: ``App.notify`` keeps no handle, and ``App._unnotify`` takes the notification out of
    ``App._notifications`` and redraws them.
    """
    if notification in app._notifications:
        app._unnotify(notification)
