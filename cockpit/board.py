"""The kanban board: one JobColumn per status, updated from the model's deltas.

The board remembers which column each shown job sits in, so a delta moves a
job with one remove and one add, and updates a card that stayed in place with
one cell update. Filters and spec reloads that touch most cards rebuild the
affected columns instead. In advise and live modes the backlog follows the
decision service's ranking (``advise``), computed off the UI thread. When the
terminal is too narrow for every shown column to be COLUMN_WIDTH wide, the board
folds some away, empty ones first, keeps the focused one in view and says which
it folded (``folded``); a focused column that loses its last card hands the focus
on to where that card went.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive

from jobdeck.state.card import Card
from jobdeck.state.machine import COLUMNS, Status

from jobdeck.cockpit.advice import Advice
from jobdeck.cockpit.card_cell import CardCell
from jobdeck.cockpit.card_table import CardTable
from jobdeck.cockpit.filtering import matches
from jobdeck.cockpit.job_column import JobColumn
from jobdeck.cockpit.model import DeckModel, Delta

ALL_COLUMNS = (*COLUMNS, Status.CANCELLED)
REBUILD_AT = 300
"""A delta touching more cards than this rebuilds the columns instead of editing rows."""
COLUMN_WIDTH = 20
"""The narrowest column (cockpit.tcss's min-width): 17 cells of text, room for a card's id and the first
words of its note ("awaiting approval", "blocked by news-…"); narrower, "blocked by …" says nothing.
Three fit in 80 cells, five in 104, six in 125."""


def columns_that_fit(width: int) -> int:
    """How many columns of at least COLUMN_WIDTH, one cell apart, fit in ``width`` cells."""
    return max(1, (width + 1) // (COLUMN_WIDTH + 1))


def fold_start(shown: int, room: int, focused: int, start: int) -> int:
    """The first of ``room`` adjacent columns (out of ``shown``) in view: ``start`` moved as
    little as needed to keep the ``focused`` one in view."""
    if shown <= room:
        return 0
    start = min(start, focused, shown - room)
    return max(start, focused - room + 1, 0)


def columns_in_view(shown: Sequence[Status], room: int, focused: Status | None, filled: Collection[Status],
                    first: Status | None = None) -> list[Status]:
    """Which of the ``shown`` columns to keep in view when ``room`` of them fit, left to right.

    All of them if they fit. Else the ``focused`` one and those with cards (``filled``): all of
    them, the room left going to empty ones in board order; or, if they are more than fit, as many
    adjacent ones of them as fit around the focused one, moved as little as needed from the
    ``first`` column in view so far (so ←/→ slide the view rather than jump it).
    """
    if len(shown) <= room:
        return list(shown)
    wanted = [status for status in shown if status in filled or status == focused]
    if len(wanted) <= room:
        spare = [status for status in shown if status not in wanted][:room - len(wanted)]
        return [status for status in shown if status in wanted or status in spare]
    order = ALL_COLUMNS.index
    start = sum(1 for status in wanted if first is not None and order(status) < order(first))
    at = wanted.index(focused) if focused in wanted else start
    start = fold_start(len(wanted), room, at, start)
    return wanted[start:start + room]


class Board(Horizontal):
    """Backlog / Running / Review / Done / Failed (and Cancelled behind a toggle)."""

    show_cancelled: reactive[bool] = reactive(False)
    """Whether the Cancelled column is shown."""
    filter_text: reactive[str] = reactive("")
    """The filter applied to every column (see cockpit.filtering)."""
    folded: reactive[tuple[Status, ...]] = reactive(())
    """The shown columns folded out of view because the terminal is too narrow for them all."""

    def __init__(self, model: DeckModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.columns = {status: JobColumn(status) for status in ALL_COLUMNS}
        self._placed: dict[str, Status] = {}
        self.advice: Advice | None = None
        """The ranking the backlog is shown in (None: the operator's order, as in off and shadow)."""
        self._last_table: CardTable | None = None
        self._rows_held = False
        self._filling = False
        self._before_cancelled: str | None = None
        """The job selected when the Cancelled column was shown, selected again when it is hidden."""

    def compose(self) -> ComposeResult:
        yield from self.columns.values()

    def on_mount(self) -> None:
        self.rebuild()  # (and folds the columns, knowing which have cards)
        # The first frame is drawn before the tables hear of their size: start from
        # an estimate (terminal width shared by the columns, less gaps and scrollbar).
        tables = self.tables_in_view()
        estimate = (self.app.size.width - (len(tables) - 1)) // max(1, len(tables)) - 1
        for table in tables:
            table.fit(estimate)

    # -- folding columns a narrow terminal has no room for ------------------------

    def shown_statuses(self) -> list[Status]:
        """The columns the operator asked to see (Cancelled behind its toggle), left to right."""
        return [status for status in ALL_COLUMNS if status != Status.CANCELLED or self.show_cancelled]

    def _fold(self, focused: Status | None = None) -> None:
        """Show the columns that fit (see ``columns_in_view``), with the ``focused`` one (or the last
        focused) among them; run again whenever the width, the focus or a column's cards change."""
        shown = self.shown_statuses()
        if focused is None and self._last_table is not None:
            focused = next((s for s in shown if self.columns[s].table is self._last_table), None)
        filled = [status for status in shown if self.columns[status].table.card_count]
        first = next((status for status in shown if self.columns[status].display), None)
        room = columns_that_fit(self.size.width or self.app.size.width)
        in_view = columns_in_view(shown, room, focused, filled, first)
        for status, column in self.columns.items():
            if column.display != (status in in_view):
                column.display = status in in_view
        self.folded = tuple(status for status in shown if status not in in_view)

    def on_resize(self) -> None:
        self._fold()

    def _bring_into_view(self, table: CardTable) -> None:
        self._fold(next(s for s, column in self.columns.items() if column.table is table))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, CardTable):  # a click, or the focus chain: keep its column in view
            self._bring_into_view(event.widget)

    # -- keeping up with the model -------------------------------------------------

    def rebuild(self) -> None:
        """Place every card again (first paint, filter change)."""
        now = self.model.clock()
        per_column: dict[Status, list[CardCell]] = {status: [] for status in ALL_COLUMNS}
        self._placed = {}
        query = self.filter_text  # read once: a reactive's getter costs more than a card's placing
        for job_id, card in self.model.cards.items():
            if not query or matches(card, query):
                per_column[card.column].append(self._cell(card, now))
                self._placed[job_id] = card.column
        for status, cells in per_column.items():
            self.columns[status].table.replace_all(cells)
        self._update_counts()
        # While the deck is read behind a provisional board, the rows past the first
        # screenful wait: adding them would slow that read (one interpreter) for rows
        # nobody has scrolled to yet.
        self._rows_held = not self.model.ready
        self._fill_later()

    def release_rows(self) -> None:
        """Go on adding the rows a provisional rebuild held back (the deck is read, or cannot be)."""
        self._rows_held = False
        self._fill_later()

    def _fill_later(self) -> None:
        if not self._filling and not self._rows_held:
            self._filling = True
            self.call_after_refresh(self._fill_next)

    def _fill_next(self) -> None:
        """Add one chunk of waiting rows to one column, then yield: a change on disk waits
        for one chunk at most, not one per column."""
        self._filling = False
        waiting = [column.table for column in self.columns.values() if column.table.filling]
        if waiting and not self._rows_held:
            waiting[0].fill_chunk()
            self._filling = True
            self.set_timer(0.001, self._fill_next)

    def apply(self, delta: Delta) -> None:
        """Show a delta: move, update or remove only the rows it names.

        When the selected card leaves the focused column (an action's or the runner's move), the
        selection goes with it, so the next key acts on the job it acted on, not on the card that
        slid into its row; if it is no longer shown and the column is left empty, the focus goes to
        the next column with cards (an empty column would keep its place in a folded view, with the
        cursor on nothing).
        """
        if self._rows_held and self.model.ready:
            self.release_rows()
        on_screen = self.screen.focused  # (a screen over the board keeps it; the filter bar typed in is no table)
        focused = on_screen if isinstance(on_screen, CardTable) else None
        leaving = focused.selected_id if focused is not None else None
        if len(delta.changed) + len(delta.removed) > REBUILD_AT:
            self.rebuild()
        else:
            self._apply(delta)
        if focused is not None and leaving is not None:
            where = self._placed.get(leaving)
            if (where is None or self.columns[where].table is not focused) and not self.select(leaving) \
                    and not focused.card_count:
                self.focus_column(1)

    def _apply(self, delta: Delta) -> None:
        now = self.model.clock()
        touched: set[Status] = set()
        for job_id in delta.removed:
            where = self._placed.pop(job_id, None)
            if where is not None:
                self.columns[where].table.drop(job_id)
                touched.add(where)
        for job_id, card in delta.changed.items():
            target = card.column if self._wanted(card) else None
            where = self._placed.get(job_id)
            if where is not None and where != target:
                self.columns[where].table.drop(job_id)
                del self._placed[job_id]
                touched.add(where)
            if target is not None:
                self.columns[target].table.put(self._cell(card, now))
                self._placed[job_id] = target
                touched.add(target)
        for status in touched:
            self.columns[status].table.settle()
        self._update_counts()

    def advise(self, advice: Advice | None) -> None:
        """Show the backlog in ``advice``'s order with its reason lines (None: in the operator's order)."""
        if advice == self.advice:
            return
        # Advised and unadvised sort keys do not compare: a change of mode re-places the whole column.
        new_order = (advice is None) != (self.advice is None)
        self.advice = advice
        now, table = self.model.clock(), self.columns[Status.BACKLOG].table
        cards = [self.model.cards[job_id] for job_id, where in self._placed.items()
                 if where == Status.BACKLOG and job_id in self.model.cards]
        changed = []
        for card in cards:  # a new ranking moves few cards: compare places and lines, build only those cells
            kept = table.kept(card.id)
            position = self.model.order.get(card.id, 0)
            advised = advice.advised(card, position) if advice is not None else None
            if kept is None or kept.card != card or kept.advised != advised:
                changed.append(CardCell(card, now, position, advised))
        if new_order or len(changed) > REBUILD_AT:
            at_top = table.row_count > 0 and table.cursor_row == 0
            table.replace_all(self._cell(card, now) for card in cards)
            if new_order and at_top:  # the board opened (or the mode changed) on the first card: stay on the first
                table.move_cursor(row=0, animate=False)
            self._fill_later()
        else:
            for cell in changed:
                table.put(cell)
            table.settle()

    def _cell(self, card: Card, now: float) -> CardCell:
        position = self.model.order.get(card.id, 0)
        advice = self.advice
        if advice is None or card.column != Status.BACKLOG:
            return CardCell(card, now, position)
        return CardCell(card, now, position, advice.advised(card, position))

    def retick(self, statuses: tuple[Status, ...] = ALL_COLUMNS) -> None:
        """Redraw clock-dependent texts (ages, retry in, fires in) in these columns."""
        now = self.model.clock()
        for status in statuses:
            self.columns[status].table.retick(now)

    def _wanted(self, card: Card) -> bool:
        return not self.filter_text or matches(card, self.filter_text)

    def _update_counts(self) -> None:
        totals = dict.fromkeys(ALL_COLUMNS, 0)
        for card in self.model.cards.values():
            totals[card.column] += 1
        for status, column in self.columns.items():
            column.set_count(column.table.card_count, totals[status])
        self._fold()  # a column that gained its first card or lost its last one

    def watch_filter_text(self) -> None:
        if self.is_mounted:
            self.rebuild()

    def watch_show_cancelled(self, show: bool) -> None:
        if not self.is_mounted:
            return
        column = self.columns[Status.CANCELLED]
        back = None
        if show:
            self._before_cancelled = self.selected_id  # to come back to when the column goes again
        elif self.screen.focused is column.table:
            back, self._before_cancelled = self._before_cancelled, None
            self.focus_column(-1)
        self._fold()
        if back is not None:
            self.select(back)  # (False if it is no longer shown: the focus stays where it went)
        if show and not column.display:  # folded away: go and show it, even empty
            self._focus(column.table)

    # -- the cursor ----------------------------------------------------------------

    def tables(self) -> list[CardTable]:
        """The shown columns' tables, left to right, folded ones included."""
        return [self.columns[status].table for status in self.shown_statuses()]

    def tables_in_view(self) -> list[CardTable]:
        """The tables of the columns on screen, left to right."""
        return [column.table for column in self.columns.values() if column.display]

    def _focus(self, table: CardTable) -> None:
        self._bring_into_view(table)
        # At once: Widget.focus waits its turn in the App's queue, behind keys already typed.
        self.screen.set_focus(table)
        self._last_table = table

    @property
    def current_table(self) -> CardTable | None:
        """The focused column's table, or the one focused last."""
        focused = self.screen.focused
        if isinstance(focused, CardTable):
            self._last_table = focused
        return self._last_table

    @property
    def selected_id(self) -> str | None:
        table = self.current_table
        return table.selected_id if table is not None else None

    def focus_column(self, step: int, *, wrap: bool = True) -> None:
        """Focus the next column with cards in the direction of ``step`` (past the last, the first if ``wrap``,
        else none), bringing it into view if it was folded away."""
        tables = self.tables()
        current = self.current_table
        start = tables.index(current) if current in tables else -step
        for offset in range(1, len(tables) + 1):
            at = start + step * offset
            if not wrap and not 0 <= at < len(tables):
                return
            candidate = tables[at % len(tables)]
            if candidate.row_count:
                self._focus(candidate)
                return

    def focus_first(self) -> None:
        """Focus the first column that has cards (on start)."""
        for table in self.tables():
            if table.row_count:
                self._focus(table)
                return
        tables = self.tables()
        if tables:
            self._focus(tables[0])

    def select(self, job_id: str) -> bool:
        """Put the cursor on a job's card; False if it is not shown."""
        where = self._placed.get(job_id)
        if where is None:
            return False
        table = self.columns[where].table
        if not table.reveal(job_id):
            return False
        self._focus(table)
        table.move_cursor(row=table.get_row_index(job_id), animate=False)
        return True
