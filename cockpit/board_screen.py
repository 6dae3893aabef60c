"""The main screen: header, spec banner, the board, the filter, the footer.

In advise and live modes it asks for the decision service's ranking of the
backlog whenever the board changes (and on the ten-second tick, as slack runs
down): one thread worker at a time, over a snapshot of the board; a change
while it works asks for one more pass after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input

from jobdeck.state.actions import deck_hold_text
from jobdeck.state.board import Board as BoardState
from jobdeck.state.errors import JobdeckError
from jobdeck.state.machine import Status
from jobdeck.state.terminal import inert_line

from jobdeck.cockpit.advice import ADVISING_MODES, Advice, snapshot
from jobdeck.cockpit.board import Board
from jobdeck.cockpit.confirm_screen import ConfirmScreen
from jobdeck.cockpit.filter_bar import FilterBar
from jobdeck.cockpit.filtering import asks_cancelled, problems
from jobdeck.cockpit.job_screen import JobScreen
from jobdeck.cockpit.key_hints import KeyHints
from jobdeck.cockpit.model import DeckModel, Delta
from jobdeck.cockpit.operations import Operator
from jobdeck.cockpit.spec_banner import SpecBanner
from jobdeck.cockpit.status_bar import StatusBar

if TYPE_CHECKING:
    from jobdeck.state.spec import Spec

BOARD_COMMANDS = (
    ("Review queue", "everything waiting on you ({key})", "review", "review"),
    ("Stats", "runs, failures and cost per hour over the last 24 hours ({key})", "stats", "stats"),
    ("Filter", "filter the board by text, label:, ws:, status: ({key})", "filter", "filter"),
    ("Toggle cancelled", "show or hide the Cancelled column ({key})", "toggle_cancelled", "cancelled"),
    ("Accept advice", "pin the job the decision service ranks first ({key}, advise mode)", "accept", "accept"),
    ("Hold / release the deck", "nothing new starts on the whole deck until released, or release it ({key})",
     "hold_deck", "hold_deck"),
)
"""The command palette's entries for the board's own keys: title, help, action, binding id (as JOB_COMMANDS)."""

FILTER_DELAY = 0.15
"""Seconds of no typing before the filter is applied (each application re-places cards)."""


class BoardScreen(JobScreen):
    """The kanban board."""

    BINDINGS = [
        Binding("enter", "open", "open", show=False),
        Binding("tab", "column(1)", "next column", show=False),
        Binding("shift+tab", "column(-1)", "previous column", show=False),
        # priority: handled as the key arrives, so "/foo" typed fast lands in the filter
        Binding("slash", "filter", "filter", priority=True, id="filter"),
        Binding("v", "review", "review", id="review"),
        Binding("s", "stats", "stats", show=False, id="stats"),
        Binding("c", "toggle_cancelled", "cancelled", show=False, id="cancelled"),
        Binding("escape", "clear_filter", "clear filter", show=False),
        Binding("D", "hold_deck", "hold/release the deck", show=False, id="hold_deck"),
        Binding("A", "accept", "accept", id="accept"),
        # where accept does not apply: say why, not nothing (its id: a keys.toml remap of accept moves it too)
        Binding("A", "no_advice", show=False, id="accept"),
    ]

    class Ranked(Message):
        """The worker ranked the backlog (``advice``), or could not (``error``)."""

        def __init__(self, advice: Advice | None, error: str | None = None) -> None:
            super().__init__()
            self.advice = advice
            self.error = error

    def __init__(self, model: DeckModel, operator: Operator) -> None:
        super().__init__(model, operator, id="board-screen")
        self.board = Board(model, id="board")
        self._filter_timer = None
        self._filter_problems: list[str] = []
        self._ranking = False
        self._rank_again = False
        self._rank_error: str | None = None  # the last failure notified, so it is said once

    def compose(self) -> ComposeResult:
        yield StatusBar(self.model.deck.root.name, id="status-bar")
        yield SpecBanner(id="spec-banner", markup=False)
        yield self.board
        yield FilterBar(id="filter")
        yield KeyHints(selected=self.selected_job_id)

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self.watch(self.board, "folded", self._show_folded)
        self._show_header()
        self.board.focus_first()
        self.ask_ranking()

    def selected_job_id(self) -> str | None:
        return self.board.selected_id

    def palette(self) -> tuple[tuple[str, str, str], ...]:
        return super().palette() + self.palette_entries(BOARD_COMMANDS)

    def deck_changed(self, delta: Delta) -> None:
        self.board.apply(delta)
        self._show_header()
        self.refresh_bindings()
        if delta:
            self.ask_ranking()

    def tick(self, full: bool) -> None:
        """Redraw clock-dependent text: running cards every second, all cards on ``full`` ticks."""
        if full:
            self.board.retick()
            self.ask_ranking()
        else:
            self.board.retick((Status.RUNNING,))
        self._show_header()

    def _show_folded(self, folded: tuple[Status, ...]) -> None:
        self.query_one(StatusBar).folded = folded

    def _show_header(self) -> None:
        self.query_one(StatusBar).stats = self.model.stats()
        self.query_one(SpecBanner).show_error(self.model.spec_error, self.model.spec is not None)

    # -- the decision service's ranking ---------------------------------------------

    def ask_ranking(self) -> None:
        """Rank the backlog again in advise and live modes; show the operator's order otherwise."""
        model = self.model
        spec = model.spec if model.ready else None
        if spec is None or spec.decide.mode not in ADVISING_MODES:
            self._rank_again = False
            if self.board.advice is not None:
                self.board.advise(None)
                self.refresh_bindings()
            return
        if self._ranking:
            self._rank_again = True
            return
        self._ranking = True
        self._rank(spec, snapshot(model.store.board), model.clock())

    @work(thread=True, group="ranking", exit_on_error=False)
    def _rank(self, spec: Spec, board: BoardState, now: float) -> None:
        try:
            advice = self.advisor.advise(spec, board, now)
        except Exception as exc:  # a fault of the service: the board stays as it was, and says so once
            self.post_message(self.Ranked(None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Ranked(advice))

    @on(Ranked)
    def _ranked(self, message: Ranked) -> None:
        self._ranking = False
        if message.advice is not None:
            spec = self.model.spec
            if spec is not None and spec.decide.mode == message.advice.mode:  # else the spec changed meanwhile
                self.board.advise(message.advice)
                self.refresh_bindings()
        elif message.error != self._rank_error:
            self.notify(f"the decision service failed: {message.error}", severity="error", timeout=10)
        self._rank_error = message.error
        if self._rank_again:
            self._rank_again = False
            self.ask_ranking()

    # -- keys ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "accept":
            return self._advised_first() is not None
        return super().check_action(action, parameters)

    def _advised_first(self) -> str | None:
        """In advise mode, the job the service would start first, unless it is pinned already."""
        advice = self.board.advice
        top = advice.top if advice is not None and advice.mode == "advise" else None
        if top is None or self.model.state(top.job).override == "pin":
            return None
        return top.job

    async def run_key(self, action: str) -> None:
        if action == "accept" and not self.check_action(action, ()):
            self.action_no_advice()
        else:
            await super().run_key(action)

    def action_no_advice(self) -> None:
        advice = self.board.advice
        mode = advice.mode if advice is not None else (self.model.spec.decide.mode if self.model.spec else "off")
        if mode != "advise":
            said = (f"decide.mode is {mode}: {self.key_names()['accept']} accepts the decision service's advice "
                    "in advise mode")
        elif advice is None or advice.top is None:
            said = "the decision service would start no job now"
        else:
            said = f"{advice.top.job}, the job the decision service would start first, is pinned already"
        self.notify(said, title="nothing to accept", severity="warning", timeout=4)

    def action_accept(self) -> None:
        """Accept the advice: pin the top-ranked job, so the runner (which keeps its own order in advise) starts it next."""
        job_id = self._advised_first()
        if job_id is not None:
            self.run_job_action(job_id, "pin")

    def action_hold_deck(self) -> None:
        """Hold the whole deck, or release it: asked first, as `jobdeck hold` and `release` with no id do it."""
        held = self.model.store.board.held if self.model.ready else None
        if held is None:
            question, detail, yes = ("Hold the whole deck?", f"Nothing new starts until it is released "
                                     f"({self.key_names()['hold_deck']} again); running attempts finish, fires and "
                                     "inbox files are kept.", "Hold")
        else:
            try:  # (refused at once, not after the question)
                self.operator.check_allowed("release")
            except JobdeckError as exc:
                self.notify(inert_line(str(exc)), title="cannot release the deck", severity="error", markup=False)
                return
            question, detail, yes = (f"Release the deck, {deck_hold_text(held)}?", "Jobs start again.", "Release")

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.operator.hold_deck(held is None)
            except JobdeckError as exc:
                self.notify(inert_line(str(exc)), title="cannot hold the deck" if held is None else
                            "cannot release the deck", severity="error", markup=False)
                return
            self.notify("deck held: nothing new starts" if held is None else "deck released: jobs start again",
                        severity="warning" if held is None else "information", timeout=5.0)
            self.post_message(self.Acted())

        self.app.push_screen(ConfirmScreen(inert_line(question), detail=detail, yes=yes, no="Keep"), answered)

    def action_column(self, step: int, wrap: bool = True) -> None:
        self.board.focus_column(step, wrap=wrap)
        self.refresh_bindings()

    def action_open(self) -> None:
        self._on_selected(lambda job_id: self.post_message(self.OpenDetail(job_id)))

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

    def action_stats(self) -> None:
        self.post_message(self.OpenStats())

    def action_toggle_cancelled(self) -> None:
        self.board.show_cancelled = not self.board.show_cancelled

    def action_filter(self) -> None:
        bar = self.query_one(FilterBar)
        if self.focused is bar:  # a "/" typed in the filter itself: handed to it, behind the keys before it
            raise SkipAction
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

    async def action_leave_filter(self, clear: bool = False) -> None:
        """Enter (keep the filter) or Esc (``clear`` it) in the filter: apply it and focus the board.

        The filter's priority bindings run this as the App reads the key, so the focus
        has moved before the App hands on the key after it.
        """
        bar = self.query_one(FilterBar)
        await bar.caught_up()
        if clear:
            bar.value = ""
        self._apply_filter()
        if not bar.value:
            bar.display = False
        table = self.board.current_table
        if table is not None and table.row_count:
            self.set_focus(table)  # at once (table.focus() would wait behind the keys already typed)
        else:
            self.board.focus_first()

    def _apply_filter(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        text = self.query_one(FilterBar).value.strip()
        self.board.filter_text = text
        if asks_cancelled(text):
            self.board.show_cancelled = True
        said = problems(text)
        if said and said != self._filter_problems:  # a typo silently emptied the board
            self.notify("; ".join(said), title="filter", severity="warning", timeout=6)
        self._filter_problems = said
        self.refresh_bindings()
