"""Guards cockpit/textual_private.py: the private Textual members it relies on are there and behave so.

Each check names one private member or one behaviour the shortcuts there copy, so
a Textual upgrade that moves one fails here, by name, before the board misbehaves.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
from rich.style import Style
from textual._two_way_dict import TwoWayDict
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from jobdeck.cockpit.textual_private import HeaderlessTable, Look

ROWS = 12
HEIGHT = 2


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def self_attributes(function: object) -> set[str]:
    """The ``self.NAME`` attributes a function's source reads, writes or calls."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"}


# -- what exists, with which signature ---------------------------------------------


def test_the_private_methods_keep_their_signatures() -> None:
    assert parameters(DataTable._render_line) == ["self", "y", "x1", "x2", "base_style"]
    assert parameters(DataTable.render_line) == ["self", "y"]
    assert parameters(DataTable.render_lines) == ["self", "crop"]
    assert parameters(DataTable.remove_row) == ["self", "row_key"]
    assert isinstance(inspect.getattr_static(DataTable, "_y_offsets"), property)
    assert parameters(App._unnotify) == ["self", "notification", "refresh"]


def test_two_way_dict_maps_both_ways() -> None:
    rows = TwoWayDict({"a": 0, "b": 1})
    assert (rows.get("b"), rows.get_key(0), list(rows)) == (1, "a", ["a", "b"])


def test_remove_row_still_maintains_exactly_the_fields_remove_rows_does() -> None:
    """HeaderlessTable.remove_rows redoes DataTable.remove_row's bookkeeping once for many rows.

    A field that remove_row starts (or stops) maintaining must be mirrored there.
    """
    assert self_attributes(DataTable.remove_row) == {
        "_row_locations", "_require_update_dimensions", "check_idle", "_data", "_updated_cells", "rows",
        "cursor_coordinate", "hover_coordinate", "_update_count", "refresh"}
    assert self_attributes(DataTable.remove_row) <= self_attributes(HeaderlessTable.remove_rows)


def test_render_line_has_no_more_to_it_than_header_and_fixed_rows() -> None:
    """HeaderlessTable.render_line is DataTable's without a header or fixed rows."""
    assert self_attributes(DataTable.render_line) == {
        "size", "scroll_offset", "_row_locations", "fixed_rows", "get_row_height", "show_header",
        "_header_row_key", "_render_line", "rich_style"}


# -- how it behaves ------------------------------------------------------------------


class Kept:
    """A row's kept lines, counting how often one was used."""

    def __init__(self) -> None:
        self.strips: dict[Look, Strip] = {}
        self.used = 0

    def strip(self, look: Look) -> Strip | None:
        found = self.strips.get(look)
        self.used += found is not None
        return found

    def keep_strip(self, look: Look, strip: Strip) -> None:
        self.strips[look] = strip


class KeepingTable(HeaderlessTable[str]):
    def __init__(self, *, id: str) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self.kept: dict[RowKey, Kept] = {}

    def line_keeper(self, row_key: RowKey) -> Kept:
        return self.kept.setdefault(row_key, Kept())


class Tables(App[None]):
    # Focus changes only the cursor's style, not the table's: lines must follow the pseudo-class.
    CSS = "KeepingTable { height: 1fr; } KeepingTable:focus { background-tint: $foreground 0%; }"

    def compose(self) -> ComposeResult:
        yield KeepingTable(id="one-pass")
        yield KeepingTable(id="one-by-one")

    def on_mount(self) -> None:
        for table in self.query(KeepingTable):
            table.add_column("name", width=8, key="name")
            table.add_column("n", key="n")
            for n in range(ROWS):
                table.add_row(f"row {n}", str(n), key=f"r{n}", height=HEIGHT)


def layout(table: DataTable[str]) -> dict[str, object]:
    """What a reader of the table sees of its rows, cursor and size."""
    keys = [row.key for row in table.ordered_rows]
    return {"keys": [key.value for key in keys], "index": [table.get_row_index(key) for key in keys],
            "cursor": table.cursor_coordinate, "count": table.row_count,
            "lines": [(key.value, line) for key, line in table._y_offsets], "virtual": table.virtual_size,
            "data": sorted(str(key.value) for key in table._data)}


def looks(strip: Strip) -> list[tuple[str, Style | None]]:
    """A line's text and styles, without the mouse metadata (see the moved-by-two-rows test below)."""
    return [(segment.text, segment.style.clear_meta_and_links() if segment.style else None) for segment in strip]


def fresh_lines(table: DataTable[str]) -> list[list[tuple[str, Style | None]]]:
    table._clear_caches()
    scroll_x, scroll_y = table.scroll_offset
    return [looks(DataTable._render_line(table, y + scroll_y, scroll_x, scroll_x + table.size.width,
                                         table.rich_style)) for y in range(table.size.height)]


def drawn_lines(table: DataTable[str]) -> list[list[tuple[str, Style | None]]]:
    return [looks(table.render_line(y)) for y in range(table.size.height)]


@pytest.mark.anyio
async def test_the_private_fields_are_there_on_a_live_table() -> None:
    async with Tables().run_test(size=(60, 30)) as pilot:
        await pilot.pause()
        table = pilot.app.query_one("#one-pass", KeepingTable)
        assert not table.show_header and table.fixed_rows == 0
        assert isinstance(table._row_locations, TwoWayDict)
        assert isinstance(table._data, dict) and isinstance(table._updated_cells, set)
        assert isinstance(table._update_count, int) and isinstance(table._require_update_dimensions, bool)
        assert isinstance(table._show_hover_cursor, bool)
        assert table._pseudo_class_state is not None  # set by DataTable.render_lines
        assert Style.from_meta({"row": 1})._meta and not Style(bold=True)._meta  # rich: meta, serialised
        assert table._y_offsets == [(RowKey(f"r{n}"), line) for n in range(ROWS) for line in range(HEIGHT)]


@pytest.mark.anyio
async def test_removing_rows_in_one_pass_leaves_the_table_as_removing_them_one_by_one() -> None:
    async with Tables().run_test(size=(60, 30)) as pilot:
        one_pass = pilot.app.query_one("#one-pass", KeepingTable)
        one_by_one = pilot.app.query_one("#one-by-one", KeepingTable)
        gone = [RowKey(f"r{n}") for n in (0, 2, 3, 7, 11)]
        pilot.app.set_focus(None)  # both cursors drawn alike
        for table in (one_pass, one_by_one):
            table.move_cursor(row=8, animate=False)
        await pilot.pause()
        one_pass.remove_rows(gone)
        for key in gone:
            one_by_one.remove_row(key)
        await pilot.pause()
        assert layout(one_pass) == layout(one_by_one)
        assert one_pass.coordinate_to_cell_key(one_pass.cursor_coordinate).row_key == RowKey("r10")
        for table in (one_pass, one_by_one):  # later changes build on a consistent table
            table.add_row("row 12", "12", key="r12", height=HEIGHT)
            table.sort("n", reverse=True)
            table.move_cursor(row=1, animate=False)
        await pilot.pause()
        assert layout(one_pass) == layout(one_by_one)
        assert drawn_lines(one_pass) == fresh_lines(one_by_one)


@pytest.mark.anyio
async def test_kept_lines_are_the_lines_the_table_would_draw_now() -> None:
    async with Tables().run_test(size=(60, 30)) as pilot:
        app = pilot.app
        table = app.query_one("#one-pass", KeepingTable)

        def agree() -> None:
            assert drawn_lines(table) == fresh_lines(table)

        await pilot.pause()
        table.focus()
        await pilot.pause()
        agree()
        agree()  # the second time from the kept lines
        assert sum(kept.used for kept in table.kept.values()) > 0
        table.move_cursor(row=3, animate=False)  # cursor
        await pilot.pause()
        agree()
        table.hover_coordinate = Coordinate(5, 0)  # hover shown only after a mouse move
        table._show_hover_cursor = True
        agree()
        table._show_hover_cursor = False
        agree()
        table.remove_rows([RowKey("r0"), RowKey("r1"), RowKey("r4")])  # the rows below change stripe
        await pilot.pause()
        agree()
        table.columns[ColumnKey("name")].width = 3  # as CardTable.fit does
        table._clear_caches()  # DataTable's own line cache is not keyed by column widths
        table.refresh()
        await pilot.pause()
        agree()
        table.add_column("wide", width=80, default="", key="wide")  # wider than the table: scrolled sideways
        await pilot.pause()
        table.scroll_to(x=6, animate=False)
        await pilot.pause()
        assert table.scroll_offset.x == 6
        agree()
        await pilot.resize_terminal(50, 30)
        await pilot.pause()
        agree()
        app.query_one("#one-by-one", KeepingTable).focus()  # the cursor is drawn unfocused
        await pilot.pause()
        agree()
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        agree()
        app.stylesheet.add_source("KeepingTable > .datatable--even-row { color: red; }")
        app.refresh_css()  # only the stripes' style changes, not the table's own
        await pilot.pause()
        agree()


@pytest.mark.anyio
async def test_render_line_draws_what_datatable_render_line_does() -> None:
    async with Tables().run_test(size=(60, 30)) as pilot:
        table = pilot.app.query_one("#one-pass", KeepingTable)
        table.scroll_to(y=5, animate=False)
        await pilot.pause()
        assert table.scroll_offset.y == 5
        for y in range(table.size.height):
            assert list(table.render_line(y)) == list(DataTable.render_line(table, y))


@pytest.mark.anyio
async def test_a_kept_line_moved_by_two_rows_still_points_the_mouse_at_its_row() -> None:
    """DataTable puts each cell's row index in its segments' meta, which clicks and hover read.

    The look keeps stripe parity, not the row index, so a row that moves up by two
    is drawn from a kept line: its metadata must name the new index.
    """
    async with Tables().run_test(size=(60, 30)) as pilot:
        table = pilot.app.query_one("#one-pass", KeepingTable)
        await pilot.pause()
        drawn_lines(table)
        table.remove_rows([RowKey("r0"), RowKey("r1"), RowKey("r4")])
        await pilot.pause()
        row = table.get_row_index("r3")  # was 3, now 1: the same stripe, not under the cursor
        rows = {segment.style.meta.get("row") for segment in table.render_line(row * HEIGHT) if segment.style}
        assert rows == {row}


@pytest.mark.anyio
async def test_a_withdrawn_toast_leaves_the_app_and_a_second_withdraw_is_nothing() -> None:
    from textual.notifications import Notification, Notify

    from jobdeck.cockpit.textual_private import withdraw

    app = App()
    async with app.run_test() as pilot:
        shown = Notification("z to undo", timeout=30)
        app.post_message(Notify(shown))
        await pilot.pause()
        assert shown in app._notifications
        withdraw(app, shown)
        assert shown not in app._notifications
        withdraw(app, shown)
