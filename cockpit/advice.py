"""The decision service as the cockpit shows it: the backlog's order and reason lines, and `w`'s answer.

No Textual here. The ranking costs tens of milliseconds on a 1,000-job deck
(the policy alone ~50 ms per spec), so the board asks for it in a thread worker;
``snapshot`` is what that worker reads instead of the model's live Board, which
the UI thread folds new events into meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any, NamedTuple

from jobdeck.decide.heuristic import NORMAL, OVERDUE, PIN, URGENT, Heuristic, gate_note
from jobdeck.decide.outlook import Outlook
from jobdeck.decide.policy import Policy, policy_of
from jobdeck.decide.times import clock_text
from jobdeck.decide.verdict import HOLD, START, Verdict
from jobdeck.decide.why import Why, why
from jobdeck.state.board import Board
from jobdeck.state.card import Card
from jobdeck.state.cooldowns import COOLDOWN_FILE, read_cooldowns
from jobdeck.state.deck import Deck
from jobdeck.state.machine import Status
from jobdeck.state.rollups import Rollups
from jobdeck.state.schedule import zone
from jobdeck.state.views import is_ready

from jobdeck.cockpit.timefmt import age

if TYPE_CHECKING:
    from jobdeck.state.spec import Spec

ADVISING_MODES = frozenset({"advise", "live"})
"""The modes in which the backlog is shown in the decision service's order."""


class Advised(NamedTuple):
    """A backlog card's place in the advised order, and its reason line (None: no verdict)."""

    order: tuple[Any, ...]
    line: str | None = None
    style: str = ""


@dataclass(frozen=True, slots=True)
class Advice:
    """The decision service's ranking of one board: a verdict per ready (or operator-held) backlog job."""

    mode: str
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    groups: Mapping[str, int] = field(default_factory=dict)
    """0: may start now (in rank order); 1: deferred or held."""
    lines: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Each verdict's reason line for its card, with its style."""

    @property
    def top(self) -> Verdict | None:
        """The job the service would start first, if any may start."""
        return next((v for v in self.verdicts.values() if v.rank == 1), None)

    def advised(self, card: Card, position: int) -> Advised:
        """Where a backlog card goes: ranked jobs first, then deferred and held ones, then the rest as today."""
        verdict = self.verdicts.get(card.id)
        if verdict is None:
            return Advised((2, -card.priority, position))
        line, style = self.lines[card.id]
        return Advised((self.groups[card.id], verdict.key, card.id), line, style)


def snapshot(board: Board) -> Board:
    """A Board a worker may read while the UI thread folds new events into ``board``.

    Job states are immutable, so copying the maps is enough; a job's rollup is
    shared: the fold only adds to it, and what the heuristic reads of one (counts,
    a sorted copy of its histogram's buckets) is read whole.
    """
    rollups = board.rollups
    return Board(jobs=dict(board.jobs), rollups=Rollups(dict(rollups.jobs), dict(rollups.hours)), held=board.held,
                 listed=dict(board.listed))


class Advisor:
    """Ranks a deck's backlog for the board and answers `w`; keeps the policy of the last spec it saw."""

    def __init__(self, deck: Deck, *, local_zone: tzinfo | None = None) -> None:
        self.cooldowns_path = deck.state_dir / COOLDOWN_FILE
        self.local_zone = local_zone
        """The zone whose times a card shows bare (None: the machine's, as ``TZ`` sets it)."""
        self._policy: tuple[Spec, Policy] | None = None

    def policy(self, spec: Spec) -> Policy:
        if self._policy is None or self._policy[0] is not spec:
            self._policy = (spec, policy_of(spec))
        return self._policy[1]

    def advise(self, spec: Spec, board: Board, now: float) -> Advice:
        """The backlog's ranking at ``now`` (``board``: a snapshot); empty when the mode does not advise."""
        mode = spec.decide.mode
        if mode not in ADVISING_MODES:
            return Advice(mode)
        heuristic = Heuristic(self.policy(spec), board)
        ready, held = [], []
        for job in spec.jobs:
            state = board.state(job.id)
            if state.status != Status.BACKLOG:
                continue
            if is_ready(job, state, board, now):
                ready.append(job.id)
            elif state.override == "hold" and is_ready(job, state._replace(override=None), board, now):
                held.append(job.id)
        outlook = heuristic.outlook(now, read_cooldowns(self.cooldowns_path))  # as the runner takes its turn
        ranked = heuristic.rank(ready, outlook)
        ranked += [heuristic.verdict(job, board.state(job), outlook) for job in held]
        return Advice(mode, {v.job: v for v in ranked}, {v.job: 0 if v.action == START else 1 for v in ranked},
                      {v.job: reason_line(v, heuristic, now, self.local_zone) for v in ranked})

    def keeps_back(self, spec: Spec, board: Board, job_id: str, now: float) -> tuple[str, str | None] | None:
        """Why the runner would not start ``job_id`` now, ready as it may be, and what it needs (``needs``: "window",
        "cooldown"...): its window in every mode; in live, also the budget, review capacity or a cooldown. None:
        nothing of the service's keeps it back."""
        policy = self.policy(spec)
        if job_id not in policy.jobs:
            return None
        heuristic = Heuristic(policy, board)
        live = policy.mode == "live"
        outlook = heuristic.outlook(now, read_cooldowns(self.cooldowns_path)) if live else Outlook(now)
        action, _, needs, reason = heuristic.gate(job_id, board.state(job_id)._replace(override=None), outlook,
                                                  written_only=not live)
        return (reason or "", needs) if action != START else None

    def why(self, spec: Spec, board: Board, job_id: str, now: float) -> Why:
        """`jobdeck why` for one job (``board``: a snapshot)."""
        return why(spec, board, job_id, now, read_cooldowns(self.cooldowns_path))


def reason_line(verdict: Verdict, heuristic: Heuristic, now: float,
                local_zone: tzinfo | None = None) -> tuple[str, str]:
    """A card's short reason and its style: '▲ due 06:00, slack 6m', '⏸ budget', '· priority 5'.

    Cards can be as narrow as 17 cells (board.COLUMN_WIDTH), so the line leads with what
    decides (the glyph: ahead, deferred, held) and the time that matters, in the
    card's coarse units; `w` shows every reason in full. A time is the job's own
    clock, as jobs.json and `w` say it, with its zone only when ``local_zone`` (None:
    the machine's) reads otherwise (see card_clock).
    """
    job = heuristic.policy.jobs[verdict.job]
    note = gate_note(verdict, job, now)
    if note is not None:
        return note, "magenta" if verdict.action == HOLD else "cyan"
    klass = verdict.key[0] if verdict.key else NORMAL
    if klass == PIN:
        return "▲ pinned", "bold yellow"
    if klass == OVERDUE:
        return f"▲ waited past {age(job.max_wait or 0.0)}", "bold yellow"
    glyph, style = ("▲", "bold yellow") if klass == URGENT else ("·", "dim")
    slack = heuristic.slack(verdict.job, now)
    since = heuristic.waiting_since(verdict.job, heuristic.board.state(verdict.job), now)  # as max_wait counts
    start_by = since + job.max_wait if job.max_wait is not None else None
    if start_by is not None and (slack is None or start_by < slack.latest_start):  # max_wait binds first
        start_at = card_clock(start_by, job.timezone, now, local_zone)
        return f"{glyph} start by {start_at}, in {age(start_by - now)}", style
    if slack is not None:
        owner = heuristic.policy.jobs[slack.owner]
        left = slack.latest_start - now
        due = ("due " if slack.owner == verdict.job else f"for {slack.owner} ") \
            + card_clock(slack.deadline, owner.timezone, now, local_zone)
        if slack.deadline < now:  # (not "late 2h": that is the latest start's, and the deadline itself is gone)
            return f"{glyph} {due}, missed", "bold red"
        return f"{glyph} {due}, " + (f"slack {age(left)}" if left >= 0 else f"late {age(-left)}"), style
    if heuristic.board.held is not None:  # ("· in order" read as if it would run: nothing starts while the deck is held)
        return "⏸ deck held", "magenta"
    return (f"· priority {job.priority}" if job.priority else "· in order"), "dim"


def card_clock(moment: float, tz: str, now: float, local_zone: tzinfo | None = None) -> str:
    """``06:00`` when the clock in ``local_zone`` (None: the machine's) also reads 06:00 then, else ``06:00 CEST``.

    The job's own clock, not the local one, so the card reads as jobs.json and `w` do;
    its zone's abbreviation only where a bare time would mislead, so the usual card (the
    job's zone is the machine's) keeps its 20 cells for the slack.
    """
    text = clock_text(moment, tz, now)
    instant = datetime.fromtimestamp(moment, timezone.utc)
    there = instant.astimezone(zone(tz))
    if there.utcoffset() == instant.astimezone(local_zone).utcoffset():
        return text
    return f"{text} {there.tzname()}"


def why_lines(answer: Why, now: float) -> list[tuple[str, str]]:
    """`jobdeck why`'s text, line by line, each with a Rich style."""
    styles = {"head": "bold", "": "", "note": "dim"}
    return [(text, styles[weight]) for text, weight in answer.lines(now)]
