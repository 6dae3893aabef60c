"""Everything waiting on the operator, oldest first, with the reason and the output beside it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from jobdeck.state.card import Card
from jobdeck.state.machine import Status

from jobdeck.cockpit.job_details import t
from jobdeck.cockpit.job_screen import JobScreen
from jobdeck.cockpit.key_hints import KeyHints
from jobdeck.cockpit.model import DeckModel, Delta
from jobdeck.cockpit.operations import Operator
from jobdeck.cockpit.output_place import failed_line
from jobdeck.cockpit.output_tail import OutputTail
from jobdeck.cockpit.review_table import ReviewTable
from jobdeck.cockpit.spec_banner import SpecBanner
from jobdeck.state.terminal import inert, inert_line
from jobdeck.cockpit.timefmt import age

if TYPE_CHECKING:
    from jobdeck.state.spec import Job

KIND_STYLES = {"review": "magenta", "approval": "bold magenta", "interrupted": "bold yellow", "failed": "red"}


@dataclass(frozen=True, slots=True)
class Waiting:
    """One item of the queue."""

    card: Card
    kind: str

    @property
    def why(self) -> str:
        if self.kind == "approval":
            return "high risk: approve before it runs"
        if self.kind == "interrupted":
            return "the runner stopped mid-attempt; check the output"
        reason = self.card.reason or ""
        return "output waits for review" if reason == "review" else reason


PROMPT_SHOWN = 400
"""Characters of a prompt an approval shows (the job's detail has the rest)."""


def what_runs(job: Job) -> str:
    """The command a job runs (argv as a shell would quote it), or its model or agent and prompt."""
    if isinstance(job.command, list):
        return shlex.join(job.command)
    if isinstance(job.command, str):
        return job.command
    who = job.model or (f"agent {job.agent}" if job.agent else "its agent")
    prompt = job.prompt or ""
    return f"{who}: {prompt[:PROMPT_SHOWN]}" + ("..." if len(prompt) > PROMPT_SHOWN else "")


def waiting(cards: dict[str, Card]) -> list[Waiting]:
    """Review, approval, interrupted and failed jobs, oldest first; last, those with no known start (a job
    awaiting approval that no runner has listed yet)."""
    found = []
    for card in cards.values():
        if card.column == Status.REVIEW:
            found.append(Waiting(card, "interrupted" if card.reason == "interrupted" else "review"))
        elif card.column == Status.FAILED:
            found.append(Waiting(card, "failed"))
        elif card.column == Status.BACKLOG and "awaiting approval" in card.flags:
            found.append(Waiting(card, "approval"))
    found.sort(key=lambda item: (item.card.since is None, item.card.since or 0.0, item.card.id))
    return found


class ReviewScreen(JobScreen):
    """The review queue (v)."""

    BINDINGS = [
        Binding("escape,v", "back", "back"),
        Binding("enter", "open", "open", show=False),
        Binding("j", "cursor(1)", show=False),
        Binding("k", "cursor(-1)", show=False),
    ]

    def __init__(self, model: DeckModel, operator: Operator, *, live: bool = True) -> None:
        super().__init__(model, operator, classes="review-screen")
        self.items: list[Waiting] = []
        self.tail = OutputTail(id="review-tail", live=live, placeholder="(no output)")

    def compose(self) -> ComposeResult:
        yield Static(id="review-title", markup=False)
        yield SpecBanner(id="spec-banner", markup=False)
        with Horizontal(id="review-body"):
            yield ReviewTable(id="review-queue")
            with Vertical(id="review-side"):
                yield Static(id="review-why", markup=False)
                yield self.tail
        yield KeyHints()

    def on_mount(self) -> None:
        self._fill()
        self.queue.focus()

    @property
    def queue(self) -> ReviewTable:
        return self.query_one("#review-queue", ReviewTable)

    def selected_job_id(self) -> str | None:
        return self.queue.selected_key()

    def deck_changed(self, delta: Delta) -> None:
        self._fill()

    def tick(self, full: bool) -> None:
        if full:
            self._fill()

    def _fill(self) -> None:
        """Show the queue and the selected job beside it."""
        self.show_spec_banner()
        items = waiting(self.model.cards)
        now = self.model.clock()
        self.queue.show({item.card.id: self._row(item, now) for item in items})
        self.items = items
        self.query_one("#review-title", Static).update(Text(
            f"Review queue: {len(items)} waiting on you (oldest first)" if items else
            "Review queue: nothing is waiting on you", "bold"))
        self._show_side()
        self.refresh_bindings()

    def _row(self, item: Waiting, now: float) -> tuple[Text, ...]:
        since = item.card.since
        return (t(age(now - since) if since else "-", "dim"), t(item.card.id, "bold"),
                t(item.kind, KIND_STYLES[item.kind]), t(item.why))

    def _show_side(self) -> None:
        job_id = self.selected_job_id()
        item = next((i for i in self.items if i.card.id == job_id), None)
        why = self.query_one("#review-why", Static)
        if item is None:
            keys = self.key_names()
            why.update(Text(f"Approve ({keys['approve']}), reject ({keys['reject']}), retry ({keys['retry']}) or "
                            f"cancel ({keys['cancel']}) the selected job.", "dim"))
            self.tail.follow(None)
            return
        state = self.model.state(item.card.id)
        text = Text()
        text.append(item.card.id, "bold")
        if item.card.title != item.card.id:
            text.append(f"  {inert_line(item.card.title)}")
        text.append(f"\n{item.kind}: ", KIND_STYLES[item.kind])
        text.append(inert(item.why))
        for reason in state.reasons:
            text.append(f"\n- {inert(reason)}", "red")
        job = self.model.job(item.card.id)
        if item.kind == "approval" and job is not None:  # what the approval lets run, before any output
            text.append("\nwill run: ", "bold")
            text.append(inert(what_runs(job)))
        if item.kind != "approval" or state.attempt is not None:
            text.append("\noutput" + (f" of attempt {state.attempt.n}" if state.attempt else "") + ":", "bold")
        why.update(text)
        # output for review opens where it failed validation, else at its start; a failure's at its end (last words)
        opens_at = partial(failed_line, reasons=state.reasons) if item.kind == "review" else None
        self.tail.follow(self.model.output_path(item.card.id), opens_at=opens_at)

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_side()
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        self._on_selected(lambda job_id: self.post_message(self.OpenDetail(job_id)))

    def action_cursor(self, step: int) -> None:
        (self.queue.action_cursor_down if step > 0 else self.queue.action_cursor_up)()

    def action_back(self) -> None:
        self.dismiss()
