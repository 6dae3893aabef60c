"""One job in full: spec, attempts, reasons, usage/cost, chain of work, live output."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from jobdeck.cockpit.job_details import details, heading
from jobdeck.cockpit.job_screen import JobScreen
from jobdeck.cockpit.key_hints import KeyHints
from jobdeck.cockpit.model import DeckModel, Delta
from jobdeck.cockpit.operations import Operator
from jobdeck.cockpit.output_tail import OutputTail
from jobdeck.cockpit.spec_banner import SpecBanner


class DetailScreen(JobScreen):
    """Opened with Enter on a card; Esc goes back to where it was opened from."""

    BINDINGS = [
        Binding("escape,backspace", "back", "back"),
        # the pane's title offers it; the id of the board's E (page stderr), so that keys.toml moves both
        Binding("E", "toggle_stderr", "stderr", show=False, id="stderr_output"),
    ]

    def __init__(self, model: DeckModel, operator: Operator, job_id: str, *, live: bool = True) -> None:
        super().__init__(model, operator, classes="detail-screen")
        self.job_id = job_id
        self.tail = OutputTail(id="detail-tail", live=live)
        self.stderr = False
        """The pane shows the attempt's stderr.log (E), not its output."""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-heading", markup=False)
        yield SpecBanner(id="spec-banner", markup=False)
        with Horizontal(id="detail-body"):
            with VerticalScroll(id="detail-info"):
                yield Static(id="detail-text", markup=False)
            with Vertical(id="detail-output"):
                yield Static(id="output-title", markup=False)
                yield self.tail
        yield KeyHints()

    def on_mount(self) -> None:
        self._show()
        self.query_one("#detail-info").focus()

    def selected_job_id(self) -> str | None:
        return self.job_id

    def deck_changed(self, delta: Delta) -> None:
        if self.job_id in delta.touched or self.job_id in delta.changed or delta.spec_changed:
            self._show()
            self.refresh_bindings()

    def tick(self, full: bool) -> None:
        # A running attempt's "took" moves every second, as the tail does; the rest only on full ticks.
        attempt = self.model.state(self.job_id).attempt if self.model.job(self.job_id) is not None else None
        self._show(info=full or (attempt is not None and attempt.ended is None))

    def _show(self, info: bool = True) -> None:
        self.show_spec_banner()
        model, job_id = self.model, self.job_id
        job, card = model.job(job_id), model.cards.get(job_id)
        if job is None or card is None:
            self.query_one("#detail-heading", Static).update(
                Text(f"{job_id}: no longer in jobs.json", "bold red"))
            return
        now = model.clock()
        state = model.state(job_id)
        self.query_one("#detail-heading", Static).update(heading(job, state, card, now))
        if info:
            self.query_one("#detail-text", Static).update(
                details(job, state, card, model.chain(job_id), now, model.archived_before(job_id)))
        attempt = state.attempt
        title = Text("stderr" if self.stderr else "output", "bold")
        if attempt is not None:
            title.append(f" · attempt {attempt.n}" + (" (running)" if attempt.ended is None else f" ({attempt.outcome})"), "dim")
            if not self.stderr and _has_bytes(model.output_path(job_id, stderr=True)):
                # where a failure usually says why
                title.append(f"  {self.key_names()['stderr_output']}: its stderr", "bold yellow")
        self.query_one("#output-title", Static).update(title)
        ended = attempt is not None and attempt.ended is not None
        self.tail.placeholder = "(no output)" if ended else "(no output yet)"
        self.tail.follow(model.output_path(job_id, stderr=self.stderr))

    def action_back(self) -> None:
        self.dismiss()

    def action_toggle_stderr(self) -> None:
        self.stderr = not self.stderr
        self._show(info=False)

    def action_output(self) -> None:
        """Page what the pane shows, output or stderr, in $PAGER (as `o` does on the board)."""
        self.post_message(self.OpenOutput(self.job_id, stderr=self.stderr))


def _has_bytes(path: Path | None) -> bool:
    try:
        return path is not None and path.stat().st_size > 0
    except OSError:
        return False
