"""What the cockpit knows about a deck, kept current incrementally; no Textual here.

``DeckModel`` owns the spec source (last good spec + current error), the Store
(folds only new events) and one Card per job. ``refresh()`` answers "what
changed since last time" as a ``Delta`` so the board touches only those rows.
A job's card depends on its own state and on its dependencies' status, so a
change to one job re-derives that job and its direct dependents only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.state.attempts import OUTPUT, STDERR
from jobdeck.state.board import Store, open_store
from jobdeck.state.card import Card
from jobdeck.state.deck import Deck
from jobdeck.state.errors import LogReplaced, SpecError, StateError
from jobdeck.state.graph import dependents
from jobdeck.state.heartbeat import Heartbeat, any_alive, live_notes, read_heartbeats
from jobdeck.state.lightspec import mark_valid
from jobdeck.state.loader import SpecSource
from jobdeck.state.machine import COLUMNS, JobState, Status
from jobdeck.state.preview import JobPreview
from jobdeck.state.segments import all_segments, job_records
from jobdeck.state.views import card, holds_claim, noted, undeclared, undeclared_card

from jobdeck.cockpit.timefmt import start_of_day

if TYPE_CHECKING:  # the cockpit paints from a preview before pydantic is loaded
    from jobdeck.state.spec import Job, Spec


@dataclass(frozen=True, slots=True)
class BoardStats:
    """The header's numbers."""

    counts: dict[Status, int]
    running: int
    capacity: int
    failures_last_hour: int
    cost_today: float
    runners: tuple[Heartbeat, ...]
    """Runners whose heartbeat is fresh."""
    loading: bool = False
    """The board shows cached cards while the deck is still being read."""
    held_by: str | None = None
    """Who holds the whole deck (`jobdeck hold` with no id), when it is held: nothing new starts."""


@dataclass(slots=True)
class Delta:
    """What one refresh changed."""

    changed: dict[str, Card] = field(default_factory=dict)
    """New or re-derived cards (the board compares them with what it shows)."""
    removed: set[str] = field(default_factory=set)
    """Jobs no longer in the spec."""
    spec_changed: bool = False
    """The spec or its error changed (banner, detail screens)."""
    touched: set[str] = field(default_factory=set)
    """Jobs that got new events (open detail screens re-read them)."""

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed or self.spec_changed or self.touched)


class DeckModel:
    """Spec + board + cards for one deck, refreshed on demand."""

    ready = True
    """False while the board shows saved cards or a preview and the model is still being read."""
    log_error: str | None = None
    """Why the event log cannot be read on from where it was (moved, replaced, truncated): the board
    stays as it was until the original file is back."""

    def __init__(self, deck: Deck, clock: Callable[[], float], store: Store | None = None) -> None:
        self.deck = deck
        self.clock = clock
        self.source = SpecSource(deck.spec_path, deck)
        self.store: Store = store if store is not None else open_store(deck)
        self.cards: dict[str, Card] = {}
        self.order: dict[str, int] = {}
        """Position of each job in jobs.json (the backlog's tie-break), then the jobs it no longer declares whose
        attempt is still under way (``views.undeclared``), shown until the attempt's end is recorded."""
        self.heartbeats: list[Heartbeat] = []
        self.notes: dict[str, str] = {}
        """What live runners say of their attempts, by job id (from their heartbeats)."""
        self._dependents: dict[str, list[str]] = {}
        self._timed: set[str] = set()
        self._chains: dict[str, list[dict[str, Any]]] = {}
        self._archived: dict[str, int | None] = {}
        self._live: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def provisional(cls, deck: Deck, clock: Callable[[], float], cached: list[Card]) -> DeckModel:
        """A model that only knows cached cards (``ready`` is False until ``adopt``)."""
        model = cls.__new__(cls)
        model.deck, model.clock, model.ready = deck, clock, False
        model.source = SpecSource(deck.spec_path, deck)
        model.cards = {card.id: card for card in cached}
        model.order = {card.id: i for i, card in enumerate(cached)}
        model.heartbeats, model.notes = [], {}
        model._dependents, model._timed = {}, set()
        model._chains, model._archived, model._live = {}, {}, {}
        model.store = None  # type: ignore[assignment]  # the log is folded by the full read
        return model

    @classmethod
    def previewed(cls, deck: Deck, clock: Callable[[], float], jobs: Sequence[JobPreview]) -> DeckModel:
        """A model that folded the log but knows jobs.json only from a preview (``ready`` is
        False until ``adopt``); its Store is handed on to the full read (``read_in_full``)."""
        model = cls(deck, clock)
        model.ready = False
        board, now = model.store.board, clock()
        model.cards = {job.id: card(job, board.state(job.id), board, now) for job in jobs}
        model.order = {job.id: i for i, job in enumerate(jobs)}
        return model

    def read_in_full(self) -> DeckModel:
        """A ready model of the same deck: jobs.json validated, the log folded (for a worker).

        A previewed model's fold is reused, not repeated; this model must not be used
        meanwhile (it is not ready, so nothing reads its Store).
        """
        model = DeckModel(self.deck, self.clock, self.store)
        model.load()
        if model.source.current is not None and model.source.error is None:  # so the next start,
            loaded = model.source.current  # and every read-only command, can skip the models
            mark_valid(self.deck, loaded)
        return model

    def adopt(self, loaded: DeckModel) -> Delta:
        """Become ``loaded`` (read in a worker); the delta is what differs from the cached cards."""
        shown = self.cards
        vars(self).clear()
        vars(self).update(vars(loaded))
        self.ready = True
        delta = Delta(spec_changed=True, removed=set(shown) - set(self.cards))
        delta.changed = {job: card for job, card in self.cards.items() if shown.get(job) != card}
        return delta

    # -- reading -----------------------------------------------------------------

    @property
    def spec(self) -> Spec | None:
        """The last good spec (None only if jobs.json was never valid)."""
        return self.source.current.spec if self.source.current else None

    @property
    def spec_error(self) -> SpecError | None:
        """Why the jobs.json on disk is not being used, if it is not."""
        return self.source.error

    def job(self, job_id: str) -> Job | None:
        spec = self.spec
        return spec.job(job_id) if spec is not None else None

    def state(self, job_id: str) -> JobState:
        return self.store.board.state(job_id) if self.ready else JobState(job_id)

    def output_path(self, job_id: str, n: int | None = None, *, stderr: bool = False) -> Path | None:
        """The output file (or ``stderr.log``) of attempt ``n`` (default: the latest) of a job, if it has one."""
        attempts = self.state(job_id).attempts
        chosen = next((a for a in attempts if a.n == n), None) if n is not None else (attempts[-1] if attempts else None)
        if chosen is None:
            return None
        return self.deck.attempt_dir(chosen.workspace, job_id, chosen.n) / (STDERR if stderr else OUTPUT)

    def chain(self, job_id: str) -> list[dict[str, Any]]:
        """Every event record of a job, oldest first: its chain of work."""
        if not self.ready:
            return []
        if job_id not in self._chains:  # read up to what is folded; what is folded after, kept as it comes
            self._chains[job_id], self._archived[job_id] = \
                _scan_history(self.deck.events_path, job_id, self.store.log.seq)
        return self._chains[job_id] + self._live.get(job_id, [])

    def archived_before(self, job_id: str) -> int | None:
        """The seq before which the log was archived when the job's chain was read (so it lacks what came
        before), or None when the chain was read whole."""
        return self._archived.get(job_id)

    # -- refreshing --------------------------------------------------------------

    def load(self) -> Delta:
        """The first full read; every card is new."""
        return self.refresh()

    def refresh(self) -> Delta:
        """Catch up with the disk: spec, new events, heartbeats."""
        delta = Delta()
        if not self.ready:
            return delta
        old_spec = self.spec
        if self.source.refresh():
            delta.spec_changed = True
        try:
            records = self.store.refresh()
            self.log_error = None
        except LogReplaced as exc:
            records, self.log_error = [], str(exc)
        for record in records:
            job = record.get("job")
            if isinstance(job, str):
                delta.touched.add(job)
                if job in self._chains:  # only the chains read so far: the rest are read when asked for
                    self._live.setdefault(job, []).append(record)
        if self.spec is not old_spec:
            self._reindex(delta)
        else:
            affected = set(delta.touched)
            for job in delta.touched:
                affected.update(self._dependents.get(job, ()))
            if delta.touched:  # a review that ended, or an attempt, may end a hold on the review queue
                affected.update(job for job, kept in self.store.board.kept_back.items() if kept.needs == "reviews")
            self._recard(affected, delta)
        return delta

    def retime(self) -> Delta:
        """Re-derive cards whose flags depend on the clock (retry at, next fire)."""
        delta = Delta()
        self._recard(self._timed, delta)
        return delta

    def cards_in_order(self) -> list[Card]:
        """Every card in jobs.json order, then those of jobs it no longer declares whose attempt is under way."""
        return [self.cards[job_id] for job_id in self.order if job_id in self.cards]

    def runner_up(self) -> bool:
        """Whether a runner's heartbeat is fresh (as last read): someone acts on what is recorded now."""
        return any_alive(self.heartbeats, self.clock())

    def read_heartbeats(self, delta: Delta | None = None) -> None:
        """Read the runners' heartbeats; cards whose runner note changed (e.g. queued on a cluster) are
        re-derived into ``delta``."""
        self.heartbeats = read_heartbeats(self.deck.runners_dir)
        notes = live_notes(self.heartbeats, self.clock())
        changed = {job for job in notes.keys() | self.notes.keys() if notes.get(job) != self.notes.get(job)}
        self.notes = notes
        if changed:
            self._recard(changed, delta if delta is not None else Delta())

    def _reindex(self, delta: Delta) -> None:
        spec = self.spec
        jobs = spec.jobs if spec is not None else []
        self.order = {job.id: i for i, job in enumerate(jobs)}
        if spec is not None:
            for state in undeclared(spec, self.store.board):
                self.order[state.job] = len(self.order)
        self._dependents = dependents(spec.dependencies if spec is not None else {})
        delta.removed = set(self.cards) - set(self.order)
        for job_id in delta.removed:
            del self.cards[job_id]
            self._timed.discard(job_id)
        self._recard(self.order, delta)

    def _recard(self, job_ids: Iterable[str], delta: Delta) -> None:
        spec = self.spec
        if spec is None:
            return
        board, now = self.store.board, self.clock()
        for job_id in list(job_ids):
            job, state = spec.job(job_id), board.state(job_id)
            if job is None and not holds_claim(state):  # not declared, or no longer: an attempt of it ended
                if self.cards.pop(job_id, None) is not None:
                    self.order.pop(job_id, None)
                    self._timed.discard(job_id)
                    delta.removed.add(job_id)
                continue
            found = card(job, state, board, now) if job is not None else undeclared_card(state)
            new = noted(found, self.notes.get(job_id))
            self.order.setdefault(job_id, len(self.order))  # (claimed by a runner that read an older jobs.json)
            if new.next_fire is not None or new.retry_at is not None or new.kept_until is not None:
                self._timed.add(job_id)
            else:
                self._timed.discard(job_id)
            if self.cards.get(job_id) != new:
                self.cards[job_id] = new
                delta.changed[job_id] = new

    # -- the header --------------------------------------------------------------

    def stats(self) -> BoardStats:
        now = self.clock()
        if not self.ready:
            counts = dict.fromkeys((*COLUMNS, Status.CANCELLED), 0)
            for job_card in self.cards.values():
                counts[job_card.column] += 1
            return BoardStats(counts, counts[Status.RUNNING], 0, 0, 0.0, (), loading=True)
        counts = dict.fromkeys((*COLUMNS, Status.CANCELLED), 0)
        for job_card in self.cards.values():
            counts[job_card.column] += 1
        rollups = self.store.board.rollups  # kept by the fold: no pass over past attempts
        # today's cost: from the local day's start to the end of this hour (not spend a clock set back stamped later)
        failures, cost = rollups.failures_since(now - 3600), rollups.cost_since(start_of_day(now), now + 3600)
        alive = tuple(h for h in self.heartbeats if h.alive(now))
        declared = [h.parallel for h in alive if h.parallel]
        spec = self.spec
        capacity = sum(declared) if declared else (spec.limits.parallel if spec is not None else 0)
        held = self.store.board.held
        return BoardStats(counts, counts[Status.RUNNING], capacity, failures, cost, alive,
                          held_by=str(held.get("by", "?")) if held is not None else None)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _scan_history(path: Path, job_id: str, up_to: int) -> tuple[list[dict[str, Any]], int | None]:
    """The job's records up to seq ``up_to``, from every segment, a few MiB at a time
    (`segments.job_records`: it read the whole log into memory, 244 MB at a million events), and the
    first seq the log still holds if older segments were archived (None if it holds them all)."""
    try:
        first = all_segments(path)[0].first
        records = job_records(path, job_id, complete=False)  # what remains, if older segments were archived
    except (OSError, StateError):
        return [], None
    return [record for record in records if isinstance(record.get("seq"), int) and record["seq"] <= up_to], \
        first if first > 1 else None
