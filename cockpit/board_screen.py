"""The main screen: header, spec banner, the board, the filter, the footer."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input

from jobdeck.state.machine import Status

from jobdeck.cockpit.board import Board
from jobdeck.cockpit.filter_bar import FilterBar
from jobdeck.cockpit.job_screen import JobScreen
from jobdeck.cockpit.key_hints import KeyHints
from jobdeck.cockpit.model import DeckModel, Delta
from jobdeck.cockpit.operations import Operator
from jobdeck.cockpit.spec_banner import SpecBanner
from jobdeck.cockpit.status_bar import StatusBar

FILTER_DELAY = 0.15
"""Seconds of no typing before the filter is applied (each application re-places cards)."""


class BoardScreen(JobScreen):
    """The kanban board."""

    BINDINGS = [
        Binding("enter", "open", "open", show=False),
        Binding("tab", "column(1)", "next column", show=False),
        Binding("shift+tab", "column(-1)", "previous column", show=False),
        # priority: handled as the key arrives, so "/foo" typed fast lands in the filter
        Binding("slash", "filter", "filter", priority=True),
        Binding("v", "review", "review"),
        Binding("c", "toggle_cancelled", "cancelled", show=False),
        Binding("escape", "clear_filter", "clear filter", show=False),
    ]

    def __init__(self, model: DeckModel, operator: Operator) -> None:
        super().__init__(model, operator, id="board-screen")
        self.board = Board(model, id="board")
        self._filter_timer = None

    def compose(self) -> ComposeResult:
        yield StatusBar(self.model.deck.root.name, id="status-bar")
        yield SpecBanner(id="spec-banner", markup=False)
        yield self.board
        yield FilterBar(id="filter")
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self._show_header()
        self.board.focus_first()

    def selected_job_id(self) -> str | None:
        return self.board.selected_id

    def deck_changed(self, delta: Delta) -> None:
        self.board.apply(delta)
        self._show_header()
        self.refresh_bindings()

    def tick(self, full: bool) -> None:
        """Redraw clock-dependent text: running cards every second, all cards on ``full`` ticks."""
        if full:
            self.board.retick()
        else:
            self.board.retick((Status.RUNNING,))
        self._show_header()

    def _show_header(self) -> None:
        self.query_one(StatusBar).stats = self.model.stats()
        self.query_one(SpecBanner).show_error(self.model.spec_error, self.model.spec is not None)

    # -- keys ----------------------------------------------------------------------

    def action_column(self, step: int) -> None:
        self.board.focus_column(step)
        self.refresh_bindings()

    def action_open(self) -> None:
        job_id = self.selected_job_id()
        if job_id is not None:
            self.post_message(self.OpenDetail(job_id))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.OpenDetail(event.row_key.value))

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self.refresh_bindings()

    def action_review(self) -> None:
        self.post_message(self.OpenReview())

    def action_toggle_cancelled(self) -> None:
        self.board.show_cancelled = not self.board.show_cancelled

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        if self.focused is bar:  # a "/" typed in the filter itself
            bar.insert_text_at_cursor("/")
            return
        bar.display = True
        self.set_focus(bar)

    def action_clear_filter(self) -> None:
        bar = self.query_one(FilterBar)
        if bar.value or bar.display:
            bar.value = ""
            self._apply_filter()
            bar.display = False

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)

    @on(FilterBar.Done)
    def _filter_done(self) -> None:
        bar = self.query_one(FilterBar)
        self._apply_filter()
        if not bar.value:
            bar.display = False
        table = self.board.current_table
        if table is not None and table.row_count:
            table.focus()
        else:
            self.board.focus_first()

    def _apply_filter(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        self.board.filter_text = self.query_one(FilterBar).value.strip()
        self.refresh_bindings()
