"""`jobdeck cockpit`: the app shell. It wires the model, the file watcher and the screens.

``make_app`` is the one way to build the cockpit, for the CLI and the tests
alike. The watcher runs in a worker and only posts ``DeckChanged``; the handler
folds new events into the model and hands the delta to every open screen.
"""

from __future__ import annotations

import asyncio
import gc
import os
import select
import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen

from jobdeck.state.deck import Deck
from jobdeck.state.errors import JobdeckError, deck_access_error

from jobdeck.cockpit.board_screen import BoardScreen
from jobdeck.cockpit.escape_keys import split_alt
from jobdeck.cockpit.fast_start import last_cards, previewed_jobs, save_board
from jobdeck.cockpit.job_commands import JobCommands
from jobdeck.cockpit.job_screen import JobScreen
from jobdeck.cockpit.key_hints import key_shown
from jobdeck.cockpit.key_order import KeyOrder
from jobdeck.cockpit.model import DeckModel, Delta
from jobdeck.cockpit.operations import Operator
from jobdeck.cockpit.spec_editor import SpecEditor
from jobdeck.cockpit.toast_text import fit_toast, toast_text_width
from jobdeck.cockpit.tty import need_terminal
from jobdeck.cockpit.undo import UNDO_KEY, UNDO_SECONDS, Undo, undo_key
from jobdeck.cockpit.watcher import changes, deck_targets

# Screens opened later (detail, review, help, new job) are imported when first
# opened: the board is on screen sooner.

FULL_TICK = 10
"""Every this many one-second ticks, all cards' ages and clock-dependent flags are redrawn."""


HANGUP_CHECK = 2.0
"""Seconds between two looks for a terminal that hung up."""


class CockpitApp(App[None]):
    """The kanban cockpit of one deck."""

    CSS_PATH = "cockpit.tcss"
    TITLE = "jobdeck"
    COMMANDS = App.COMMANDS | {JobCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    SUSPENDED_SCREEN_CLASS = "-suspended"  # (hides its toasts under a dialog: cockpit.tcss)
    BINDINGS = [
        Binding("q", "quit", "quit", id="quit"),
        Binding("ctrl+c", "quit", "quit", show=False, id="quit_ctrl_c"),  # (Textual's default only says "ctrl+q")
        Binding("question_mark", "help", "help", id="help"),
        Binding(UNDO_KEY, "undo", "undo", id="undo"),  # offered only while an undo lasts
    ]

    class DeckChanged(Message):
        """Something the board reads changed on disk (bursts coalesce into one refresh)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, CockpitApp.DeckChanged)

    class Loaded(Message):
        """The full model was read in a worker (the board showed cached cards meanwhile)."""

        def __init__(self, model: DeckModel | None, error: JobdeckError | OSError | None = None) -> None:
            super().__init__()
            self.model = model
            self.error = error

    class WatchFailed(Message):
        """The file watcher stopped; the cockpit falls back to polling."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self, model: DeckModel, *, watch: bool = True, poll: float | None = 5.0,
                 ticking: bool = True, save_on_start: bool = False, undo_seconds: float = UNDO_SECONDS) -> None:
        # NO_COLOR: Textual's default turns colours into greys, which leaves red and
        # magenta text dark on a dark background; with ANSI colours the NoColor filter
        # drops colour entirely and the terminal's own foreground is used.
        no_color = "NO_COLOR" in os.environ
        super().__init__(ansi_color=True if no_color else None)
        self.keymap_in_use: dict[str, str] = {}
        """The operator's own keys (cockpit/keys_config.py), by action."""
        if no_color:
            self.add_class("-no-color")
        self.model = model
        self.failure: JobdeckError | OSError | None = None
        """Why the deck could not be read behind a board painted first (the cockpit then quits)."""
        self.operator = Operator(model)
        self.undo = Undo(self, self.operator, self.sync, seconds=undo_seconds)
        self.watching = watch
        self.poll = poll
        self.ticking = ticking
        self.save_on_start = save_on_start
        self._ticks = 0
        self._stop_watch: asyncio.Event | None = None
        self._log_error: str | None = None  # the log problem last notified, so it is said once
        self.terminated = False
        """SIGTERM ended it (exit code 143)."""
        self.key_order = KeyOrder(self)

    def get_default_screen(self) -> Screen:
        return BoardScreen(self.model, self.operator)

    def on_mount(self) -> None:
        from jobdeck.cockpit.keys_config import clashes, key_chains, load_keymap

        self.keymap_in_use, problems = load_keymap()
        if self.keymap_in_use:
            self.set_keymap(self.keymap_in_use)
            problems += clashes(self.keymap_in_use, key_chains(type(self)))
        for problem in problems:
            self.notify(problem, title="keys.toml", severity="error", timeout=15)
        if self.model.ready:
            self._start_watching()
            self._save_first_cards()
        else:
            self.call_after_refresh(self.load_deck)  # after the first paint, not competing with it
        if self.poll:
            self.set_interval(self.poll, self.sync)
        if self.ticking:
            self.set_interval(1.0, self._tick)
        if not self.is_headless and os.isatty(0):
            self.set_interval(HANGUP_CHECK, self._check_terminal)
        if not self.is_headless:  # (`kill`, `timeout`, a service stop): quit as `q` does, the terminal restored
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._terminated)

    def _terminated(self) -> None:
        self.terminated = True
        self.call_later(self.action_quit)

    async def _check_terminal(self) -> None:
        """Quit, as `q` does, once the terminal has hung up.

        A closed terminal whose hang-up signal does not reach this process (it was
        started in a session of its own) leaves the input thread reading nothing in a
        loop, a core busy for ever.
        """
        poller = select.poll()
        poller.register(0, select.POLLIN)
        if any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0)):
            await self.action_quit()

    async def on_event(self, event: events.Event) -> None:
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)
            return
        keys = split_alt(event)
        if keys is not None:  # as if typed apart: the key comes in its turn, once what the Escape did (a dialog
            event, key = keys  # closed, the focus moved) is done, as it would be for slower hands
            admitted = self.key_order.admit(event)
            self.key_order.waiting.append(key)  # (next: whatever was typed after it waits behind)
            if not admitted:
                return
        elif not self.key_order.admit(event):  # the key before it is still on its way: this one waits its turn
            return
        target = self.focused or self.screen  # where the App hands it, unless a priority binding takes it
        try:
            await super().on_event(event)
        finally:
            self.key_order.handed(target)

    # -- keeping up with the disk ----------------------------------------------------

    def _start_watching(self) -> None:
        if self.watching:
            self._stop_watch = asyncio.Event()
            self.watch_deck(self._stop_watch)

    def _save_first_cards(self) -> None:
        if self.save_on_start:  # so the next start can paint first, even after a kill
            self.call_after_refresh(self.save_card_cache, in_worker=True)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_deck(self) -> None:
        """Read the deck behind a board painted from saved cards or a preview (posts Loaded)."""
        try:
            self.post_message(self.Loaded(_in_full(self.model)))
        except (JobdeckError, OSError) as exc:
            self.post_message(self.Loaded(None, exc))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.model is None:  # the board shows saved cards of a deck that cannot be read: it must not stay
            self.failure = message.error
            self.exit(return_code=2)  # run_cockpit says why, in one line, as a start that reads the deck first does
            return
        delta = self.model.adopt(message.model)
        self.model.read_heartbeats(delta)
        self._broadcast(delta)
        self._start_watching()
        self.sync()
        self._save_first_cards()

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def watch_deck(self, stop: asyncio.Event) -> None:
        folders, wanted = deck_targets(self.model.deck)
        try:
            async for _ in changes(folders, wanted, stop):
                self.post_message(self.DeckChanged())
        except (OSError, RuntimeError) as exc:
            self.post_message(self.WatchFailed(str(exc)))

    @on(DeckChanged)
    def _deck_changed(self) -> None:
        self.sync()

    @on(JobScreen.Acted)
    def _acted(self) -> None:
        self.sync()

    @on(JobScreen.OfferUndo)
    def _offer_undo(self, message: JobScreen.OfferUndo) -> None:
        self.undo.offer(message.job_id, message.action)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Textual's toast, as plain text broken into lines at spaces and at a path's separators
        (cockpit/toast_text.py). Toasts carry ids, paths and errors, never markup: a ``[`` in a path would be
        read as a tag, so ``markup`` is not used."""
        super().notify(fit_toast(message, toast_text_width(self.size.width)), title=title, severity=severity,
                       timeout=timeout, markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            return self.undo.pending is not None
        return True

    def action_undo(self) -> None:
        self.undo.undo()

    @on(WatchFailed)
    def _watch_failed(self, message: WatchFailed) -> None:
        self.notify(f"file watching stopped ({message.error}); checking every second instead",
                    severity="warning")
        self.set_interval(1.0, self.sync)

    def sync(self) -> None:
        """Fold what changed on disk into the model and show it on every open screen."""
        if not self.model.ready:
            return
        delta = self.model.refresh()
        if self.model.log_error != self._log_error:
            self._log_error = self.model.log_error
            if self._log_error is not None:
                self.notify(f"the board shows the state before this: {self._log_error}", severity="error",
                            timeout=60)
        self.model.read_heartbeats(delta)
        self._broadcast(delta)

    def _tick(self) -> None:
        self._ticks += 1
        full = self._ticks % FULL_TICK == 0
        if full:
            delta = self.model.retime()
            if delta:
                self._broadcast(delta)
        for screen in self._job_screens():
            screen.tick(full)

    def _broadcast(self, delta: Delta) -> None:
        """Hand a change of the model to every open job screen, so the ones under the top one keep up too."""
        for screen in self._job_screens():
            screen.deck_changed(delta)

    def _job_screens(self) -> list[JobScreen]:
        """The open screens that show jobs, bottom to top; a screen still being put up is left out (it is on the
        stack before it has its widgets, and shows the model as it is once it has them)."""
        return [screen for screen in self.screen_stack if isinstance(screen, JobScreen) and screen.is_mounted]

    # -- screens -------------------------------------------------------------------

    def _still_loading(self) -> bool:
        if not self.model.ready:
            self.notify("still reading the deck; a moment", severity="warning", timeout=2)
        return not self.model.ready

    @on(JobScreen.OpenDetail)
    def open_detail(self, message: JobScreen.OpenDetail) -> None:
        from jobdeck.cockpit.detail_screen import DetailScreen

        if self._still_loading():
            return
        if self.model.job(message.job_id) is None:  # (a card of a job taken out of jobs.json mid-attempt)
            self.notify(f"{message.job_id} is no longer in jobs.json, its attempt still runs: `jobdeck logs "
                        f"{message.job_id}` shows its output; cancel stops it", severity="warning", timeout=5,
                        markup=False)
            return
        self.push_screen(DetailScreen(self.model, self.operator, message.job_id, live=self.watching))

    @on(JobScreen.OpenReview)
    def open_review(self) -> None:
        from jobdeck.cockpit.review_screen import ReviewScreen

        if not self._still_loading() and not isinstance(self.screen, ReviewScreen):
            self.push_screen(ReviewScreen(self.model, self.operator, live=self.watching))

    @on(JobScreen.OpenOutput)
    def open_output(self, message: JobScreen.OpenOutput) -> None:
        from jobdeck.cockpit.pager import show_in_pager

        path = self.model.output_path(message.job_id, stderr=message.stderr)
        if path is None:
            self.notify(f"{message.job_id}: no attempt yet", severity="warning", timeout=3)
            return
        show_in_pager(self, path, message.job_id)

    @on(JobScreen.OpenStats)
    def open_stats(self) -> None:
        from jobdeck.cockpit.stats_screen import StatsScreen

        if not self._still_loading() and not isinstance(self.screen, StatsScreen):
            self.push_screen(StatsScreen(self.model.store.board.rollups, self.model.clock()))

    def action_help(self) -> None:
        from jobdeck.cockpit.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap_in_use))

    @on(JobScreen.NewJob)
    def new_job(self) -> None:
        from jobdeck.cockpit.new_job_screen import NewJobScreen

        def added(job_id: str | None) -> None:
            if job_id:
                self.sync()
                self.notify(f"added job {job_id} to jobs.json", timeout=3)

        keys = self.screen.key_names() if isinstance(self.screen, JobScreen) else {}
        self.push_screen(NewJobScreen(self.operator, keys=keys), added)

    async def action_quit(self) -> None:
        if self._stop_watch is not None:
            self._stop_watch.set()
        self.undo.settle()  # an approve or retry waiting out its undo: the operator asked for it
        self.save_card_cache()
        self.exit()

    def save_card_cache(self, *, in_worker: bool = False) -> None:
        """Leave the cards for the next start (and `jobdeck ls --json`), exact as of now."""
        model = self.model
        if not model.ready or model.source.current is None or model.spec_error is not None:
            return
        model.retime()  # clock-dependent flags as of now, like a fresh computation
        log = model.store.log
        save = partial(save_board, model.deck, model.cards_in_order(), spec=model.source.current.digest,
                       offset=log.offset, last_hash=log.last_hash, now=model.clock())
        if in_worker:
            self.run_worker(save, thread=True, group="save", exit_on_error=False)
        else:
            save()

    @on(JobScreen.EditSpec)
    def edit_spec(self) -> None:
        """Edit jobs.json in $EDITOR (suspended), validated and installed like `jobdeck edit`."""
        SpecEditor(self, self.model.deck, on_installed=self.sync).start()

    # -- command palette -------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, JobScreen):
            for title, help_text, action in screen.palette():
                yield SystemCommand(title, help_text, partial(screen.run_key, action))
        if self.undo.pending is not None:
            pending = self.undo.pending
            yield SystemCommand("Undo", f"take back {pending.action} {pending.job_id} ({undo_key(self)})",
                                self.action_undo)
        yield SystemCommand("Help", f"every key ({key_shown(self, 'help', '?')})", self.action_help)


def make_app(deck_path: str | os.PathLike[str], *, watch: bool = True, now: float | None = None,
             poll: float | None = 5.0, fast_start: bool = True, undo_seconds: float = UNDO_SECONDS) -> CockpitApp:
    """Build the cockpit for the deck at ``deck_path``.

    ``now`` freezes the clock (tests, screenshots); ``watch=False`` turns the file
    watcher off; ``poll`` is the safety-net re-check interval in seconds (None: never);
    ``fast_start`` paints the last saved cards, or a preview of jobs.json
    (cockpit/fast_start.py), and validates the deck behind them; ``undo_seconds`` is how long
    an approve or retry waits for an undo (cockpit/undo.py).
    """
    deck = Deck(Path(deck_path))
    clock = (lambda: now) if now is not None else time.time
    with _collector_paused():
        cached = last_cards(deck) if fast_start else None
        jobs = previewed_jobs(deck) if fast_start and cached is None else None
        if cached is not None:
            model = DeckModel.provisional(deck, clock, cached)
        elif jobs is not None:
            model = DeckModel.previewed(deck, clock, jobs)
        else:
            model = DeckModel(deck, clock)
            model.load()
            model.read_heartbeats()
    # A frozen clock (tests, screenshots) must not stamp the shared card cache with its fake time.
    return CockpitApp(model, watch=watch, poll=poll, ticking=now is None,
                      save_on_start=now is None and cached is None, undo_seconds=undo_seconds)


def _in_full(model: DeckModel) -> DeckModel:
    """The full model behind a provisional one (in a worker)."""
    with _collector_paused():
        return model.read_in_full()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Read a deck with the garbage collector paused, then freeze what was read out of later collections.

    Reading a big deck makes many long-lived objects: collecting meanwhile frees
    nothing, and later full collections need not walk them again.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


def run_cockpit(deck: Deck) -> int:
    """Run the cockpit in this terminal until the operator quits.

    Raises what stopped it from reading the deck behind a board painted from saved cards or a preview, and
    JobdeckError where there is no terminal.
    """
    need_terminal("in a script, `jobdeck ls --json` or `jobdeck status --json` tell the same")
    app = make_app(deck.root)
    try:
        app.run()
    finally:
        app.operator.close()
        app.model.close()
    if isinstance(app.failure, OSError):
        raise deck_access_error(app.failure, "read the deck", deck.state_dir)
    if app.failure is not None:
        raise app.failure
    return 143 if app.terminated else app.return_code or 0
