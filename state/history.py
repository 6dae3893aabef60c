"""The chain of work folded into hourly tallies per deck, workspace and job, for `jobdeck stats`.

The board's rollups (state/rollups.py) answer "how has this job done" over its
whole life; `jobdeck stats --since 24h` asks about a window, and about things
the board does not keep: waits, failure classes, rate limits, operators
stepping in, deadlines. Those need the log, so the log is folded once into one
``Tally`` per scope per hour and per day, and a window is the sum of its whole
hours (it starts at the top of the hour its start falls in), read per day where
it can. An ended attempt counts as state/outcomes.py says, as in the rollups (output that failed
validation is a failure). Durations go into rollups' log-scale ``Histogram``, so quantiles merge. A deadline
met counts in the hour of its success, one missed in its own hour, as `decisions --report` places it. The fold's
pending state (open attempts, backlog entries, deadlines) is kept with the
tallies so that the next call folds only what was appended (state/stats_cache.py).

A record counts in its job's workspace, which the log names only in a claim. An
operator's record of a job no claim has placed yet (approved before its first
run, rejected, retried after a cancel) waits for the job's next claim, and then
counts in that workspace, in its own hour; a reader places those still waiting
by jobs.json (``declared``).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.state.buckets import Buckets, StoredLines
from jobdeck.state.machine import EventType, not_a_try, recorded_end
from jobdeck.state.outcomes import counted_as
from jobdeck.state.rollups import SCORED_TYPE, Histogram, tokens_of
from jobdeck.state.tally import Tally, picodollars
from jobdeck.state.timeline import Timeline

HOUR = 3600
DAY = 86400
DECK = "deck"
"""The scope of the whole deck; a workspace's is ``workspace:NAME``, a job's ``job:ID``."""

INTERVENTIONS = frozenset({EventType.APPROVED, EventType.REJECTED, EventType.RETRIED, EventType.CANCELLED,
                           EventType.PINNED, EventType.HELD, EventType.RELEASED})
"""Operator records (they carry ``by``) counted as a person stepping in (hold and release of the whole deck too)."""
RATE_LIMITED = "rate_limit"
"""The reason an LLM agent gives a rate-limit answer (agents/failures.py), alone or before ": message"."""
ENDINGS = frozenset({EventType.SUCCEEDED, EventType.FAILED, EventType.INTERRUPTED})


@dataclass(slots=True)
class OpenAttempt:
    """A claimed attempt whose end the fold has not seen yet."""

    token: int
    started: float
    workspace: str
    cancelled: bool = False
    wait: int | None = None
    """The bucket its claim's wait was counted in, if one was: uncounted if the attempt turns out not a try."""


@dataclass
class History:
    """Tallies per scope per hour and per day, their sum over the whole log, and what the fold is waiting on."""

    total: dict[str, Tally] = field(default_factory=dict)
    open: dict[str, OpenAttempt] = field(default_factory=dict)
    timeline: Timeline = field(default_factory=Timeline)
    workspace_of: dict[str, str] = field(default_factory=dict)
    """Each job's workspace, as its latest claim named it."""
    unplaced: dict[str, list[list[Any]]] = field(default_factory=dict)
    """Per job no claim has named a workspace for: its operators' records, as [ts, type], counted in the deck and
    the job, and in a workspace once the job's claim names one."""
    answer_counted: dict[str, bool] = field(default_factory=dict)
    """Per running job: whether the last failed answer of its attempt's model was counted already (a cooldown)."""
    hours: Buckets = field(default_factory=lambda: Buckets(HOUR))
    days: Buckets = field(default_factory=lambda: Buckets(DAY))
    """The same tallies per UTC day: a window of months reads its days, not thousands of hours."""
    declared: Mapping[str, str] = field(default_factory=dict)
    """Each job's workspace as jobs.json declares it, set by a reader (not folded, not stored): where ``window``
    counts the ``unplaced`` records."""

    # -- folding ---------------------------------------------------------------------------

    def fold(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Count ``records`` (in log order, each once)."""
        latest: float | None = None
        for record in records:
            job = record.get("job")
            kind = record.get("type")
            ts = record.get("ts", 0.0)
            # a success is judged at its own end: one recovered from result.json after its deadline may have met it
            ended = self._success_end(job, record, ts) if kind == EventType.SUCCEEDED else ts
            self._passed(ended, running=self.open)
            if not isinstance(job, str):
                if kind == SCORED_TYPE:
                    self._spend(record)
                elif kind in (EventType.HELD, EventType.RELEASED) and record.get("by"):  # the whole deck
                    for tally in self._deck_tallies(ts):
                        tally.interventions[kind] = tally.interventions.get(kind, 0) + 1
                continue
            latest = ts if latest is None or ts > latest else latest
            self.timeline.enters_backlog(record)
            if kind == EventType.CLAIMED:
                self._claimed(job, record, ts)
            elif kind in ENDINGS:
                self._ended(job, record, ts)
                self._passed(ts, running=self.open)  # this job's, once its attempt ended without meeting it
            elif kind == EventType.PROGRESS:
                self._progress(job, record, ts)
            elif kind == EventType.DECIDED:
                self.timeline.decided(record)
            if kind == EventType.CANCELLED and job in self.open:
                self.open[job].cancelled = True  # the attempt's end is then recorded as cancelled
            if kind in INTERVENTIONS and record.get("by"):
                for tally in self._tallies(job, ts):
                    tally.interventions[kind] = tally.interventions.get(kind, 0) + 1
                if self._workspace(job) is None:
                    self.unplaced.setdefault(job, []).append([ts, str(kind)])
        if latest is not None:
            self.hours.spill(int(latest // HOUR) - 1)
            self.days.spill(int(latest // DAY) - 1)

    def _claimed(self, job: str, record: Mapping[str, Any], ts: float) -> None:
        workspace = str(record.get("workspace", "default"))
        token = record.get("seq")
        if not isinstance(token, int):
            return
        attempt = self.open[job] = OpenAttempt(token, ts, workspace)
        self.workspace_of[job] = workspace
        for at, kind in self.unplaced.pop(job, ()):  # the operator's records from before: in their own hours
            for tally in self._scoped([f"workspace:{workspace}"], at):
                tally.interventions[kind] = tally.interventions.get(kind, 0) + 1
        self.answer_counted.pop(job, None)
        wait = self.timeline.claimed(job, ts, record.get("runner"), record.get("ready"))
        if wait is not None:
            attempt.wait = Histogram.bucket(wait)
            for tally in self._tallies(job, ts):
                tally.wait.add_to(attempt.wait)

    def _ended(self, job: str, record: Mapping[str, Any], ts: float) -> None:
        attempt = self.open.get(job)
        if attempt is None or record.get("token") != attempt.token:
            return  # a stale token: the state machine refuses it, and so does this count
        del self.open[job]
        counted = self.answer_counted.pop(job, False)
        if not_a_try(record.get("reason")):  # nothing ran, or nothing was called: no run (the try was given back),
            if attempt.wait is not None:  # and no wait ended: it goes on to the claim that starts a try
                for tally in self._tallies(job, attempt.started):
                    tally.wait.take_from(attempt.wait)
            return
        kind = record["type"]
        outcome, reason = counted_as(str(kind), record.get("reason"))
        outcome = "cancelled" if attempt.cancelled else outcome
        usage = record.get("usage")
        tokens = tokens_of(usage if isinstance(usage, Mapping) else None)
        cost = picodollars(record.get("cost"))
        model = record.get("model") or (usage.get("model") if isinstance(usage, Mapping) else None)
        ended = recorded_end(record, attempt.started, ts)  # a recovered outcome's own end, not its recording's
        # the success meets a deadline (one whose output went to review too) by when it ended, as in
        # `decisions --report`
        kept = self.timeline.succeeded(job, ended) if kind == EventType.SUCCEEDED and not attempt.cancelled else None
        took = Histogram.bucket(ended - attempt.started)
        reason = str(reason or "failed")
        for tally in self._tallies(job, ts):
            tally.runs += 1
            tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + 1
            if outcome == EventType.FAILED:
                tally.reasons[reason] = tally.reasons.get(reason, 0) + 1
            elif outcome == EventType.SUCCEEDED:
                tally.run.add_to(took)
            if record.get("retry_at") is not None and outcome != "cancelled":
                tally.retries += 1
            if outcome == EventType.FAILED and record.get("reason") == RATE_LIMITED and not counted:
                tally.rate_limits += 1  # the last model's last answer, which no progress event recorded
            tally.tokens += tokens
            tally.cost_pico += cost
            if model:
                counts = tally.models.setdefault(str(model), [0, 0, 0])
                counts[0] += 1
                counts[1] += tokens
                counts[2] += cost
            if kept is not None:
                if kept[1]:
                    tally.deadlines_met += 1
                else:
                    tally.deadlines_missed += 1
            if tally.last_ended is None or ended > tally.last_ended:
                tally.last_ended = ended

    def _passed(self, at: float, running: Container[str] = ()) -> None:
        """Count the pending deadlines before ``at`` as missed, each in its own hour (not that of the record
        that found it passed, which may come hours later); those of ``running`` jobs wait for their attempt's end."""
        for late, deadline in self.timeline.passed(at, running):
            for tally in self._tallies(late, deadline):
                tally.deadlines_missed += 1

    def _success_end(self, job: object, record: Mapping[str, Any], ts: float) -> float:
        """When the attempt a success record ends did end (``ts`` for a record ``_ended`` refuses)."""
        attempt = self.open.get(job) if isinstance(job, str) else None
        if attempt is None or record.get("token") != attempt.token:
            return ts
        return recorded_end(record, attempt.started, ts)

    def _progress(self, job: str, record: Mapping[str, Any], ts: float) -> None:
        """Retries, cooldowns and fallbacks; each rate-limit answer once.

        An LLM agent records each failed answer of a model once: a ``retry`` (tried
        again), a ``cooldown`` (the model is set aside), or, for a model's last answer,
        the ``fallback`` to the next model, or else the attempt's failure. A fallback
        after a cooldown repeats the cooldown's answer, so it is not counted again.
        """
        what, reason = record.get("what"), str(record.get("reason") or "")
        if what not in ("retry", "cooldown", "fallback"):
            return
        skipped = what == "cooldown" and reason.startswith("skipped")
        if skipped:
            for tally in self._tallies(job, ts):
                tally.cooldown_skips += 1
            return
        counted = self.answer_counted.get(job, False)
        self.answer_counted[job] = what == "cooldown"
        limited = reason.startswith(RATE_LIMITED) and not (what == "fallback" and counted)
        for tally in self._tallies(job, ts):
            if what == "cooldown":
                tally.cooldowns += 1
            if limited:
                tally.rate_limits += 1

    def _spend(self, record: Mapping[str, Any]) -> None:
        """A deck-level call's cost (the model scorer's), counted as the rollups count it."""
        spent, ts = picodollars(record.get("cost")), record.get("ts", 0.0)
        if spent <= 0:  # (no cost, or none that is a finite number)
            return
        usage = record.get("usage")
        tokens = tokens_of(usage if isinstance(usage, Mapping) else None)
        model = str(record.get("model") or "unknown")
        for tally in self._deck_tallies(ts):
            tally.cost_pico += spent
            tally.tokens += tokens
            counts = tally.models.setdefault(model, [0, 0, 0])
            counts[1] += tokens
            counts[2] += spent

    def _deck_tallies(self, ts: float) -> list[Tally]:
        """The deck's tallies a record at ``ts`` counts in: its hour's, its day's and the totals."""
        return self._scoped([DECK], ts)

    def _workspace(self, job: str) -> str | None:
        """The workspace of ``job``'s open attempt, else of its latest claim; None before its first."""
        attempt = self.open.get(job)
        return attempt.workspace if attempt is not None else self.workspace_of.get(job)

    def _tallies(self, job: str, ts: float) -> list[Tally]:
        """The tallies a record of ``job`` at ``ts`` counts in: its hour's, its day's and the totals, per scope."""
        workspace = self._workspace(job)
        return self._scoped([DECK, f"job:{job}", *([f"workspace:{workspace}"] if workspace is not None else [])], ts)

    def _scoped(self, scopes: list[str], ts: float) -> list[Tally]:
        """The tallies of ``scopes`` a record at ``ts`` counts in: its hour's, its day's and the totals."""
        hour, day = int(ts // HOUR), int(ts // DAY)
        return [*(self.hours.tally(hour, scope) for scope in scopes),
                *(self.days.tally(day, scope) for scope in scopes),
                *(self._total(scope) for scope in scopes)]

    def _total(self, scope: str) -> Tally:
        tally = self.total.get(scope)
        if tally is None:
            tally = self.total[scope] = Tally()
        return tally

    # -- reading ---------------------------------------------------------------------------

    def window(self, since: float | None, now: float | None = None) -> dict[str, Tally]:
        """Per scope, the sum of the hours from the one holding ``since`` on (everything for None).

        With ``now``, the deadlines pending in the window whose time has passed by
        then, which no later record has counted yet, count as missed too. The
        ``unplaced`` records in the window count in the workspaces ``declared`` gives their jobs.
        """
        window = self._window(since)
        start = int(since // HOUR) * HOUR if since is not None else float("-inf")
        overdue = [job for job, deadline in self.timeline.overdue(now) if deadline >= start] if now is not None else []
        placed = [(workspace, kind) for job, records in self.unplaced.items()
                  if (workspace := self.declared.get(job)) is not None for at, kind in records if at >= start]
        if not overdue and not placed:
            return window
        window = {scope: tally for scope, tally in window.items()}  # the totals themselves stay as folded
        copied: set[str] = set()

        def copy_of(scope: str) -> Tally:
            if scope not in copied:
                copied.add(scope)
                copy = Tally()
                copy.merge(window.get(scope) or Tally())
                window[scope] = copy
            return window[scope]

        for job in overdue:
            workspace = self.workspace_of.get(job)
            for scope in (DECK, f"job:{job}", *([f"workspace:{workspace}"] if workspace is not None else [])):
                copy_of(scope).deadlines_missed += 1
        for workspace, kind in placed:
            tally = copy_of(f"workspace:{workspace}")
            tally.interventions[kind] = tally.interventions.get(kind, 0) + 1
        return window

    def _window(self, since: float | None) -> dict[str, Tally]:
        """``window`` without the overdue deadlines.

        Read as the hours up to the next whole day and the days after, or, when
        that is fewer lines, as the totals less the days and hours before it.
        """
        if since is None:
            return self.total
        first = int(since // HOUR)
        first_day = -(-first * HOUR // DAY)  # the first day that begins at or after the window
        day_of_first = first * HOUR // DAY
        inside = ([(self.hours, h) for h in self.hours.keys_between(first, first_day * DAY // HOUR)]
                  + [(self.days, d) for d in self.days.keys_from(first_day)])
        before = ([(self.days, d) for d in self.days.keys_between(-1 << 62, day_of_first)]
                  + [(self.hours, h) for h in self.hours.keys_between(day_of_first * DAY // HOUR, first)])
        if len(before) >= len(inside):
            return self._sum(inside)
        window: dict[str, Tally] = {}
        for scope, tally in self.total.items():
            window[scope] = Tally()
            window[scope].merge(tally)
        for scope, tally in self._sum(before).items():
            window[scope].subtract(tally)
            if window[scope].last_ended is not None and window[scope].last_ended < first * HOUR:
                window[scope].last_ended = None
        return {scope: tally for scope, tally in window.items() if tally.to_json()}

    @staticmethod
    def _sum(buckets: Iterable[tuple[Buckets, int]]) -> dict[str, Tally]:
        """Per scope, the sum of ``buckets``."""
        summed: dict[str, Tally] = {}
        for level, key in buckets:
            for scope, tally in level.get(key).items():
                summed.setdefault(scope, Tally()).merge(tally)
        return summed

    def hours_from(self, first: int) -> list[int]:
        """The hours anything happened in, from ``first`` on, oldest first."""
        return self.hours.keys_from(first)

    def hour(self, hour: int) -> dict[str, Tally]:
        """The tallies of one hour, by scope (empty if nothing happened in it)."""
        return self.hours.get(hour)

    # -- storing ---------------------------------------------------------------------------

    def state_json(self) -> dict[str, Any]:
        """Everything but the hours: the totals and the fold's pending state."""
        return {"total": {scope: tally.to_json() for scope, tally in self.total.items()},
                "open": {job: [a.token, a.started, a.workspace, a.cancelled, a.wait] for job, a in self.open.items()},
                "timeline": self.timeline.to_json(), "workspace_of": self.workspace_of,
                "answer_counted": self.answer_counted, "unplaced": self.unplaced}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], hours: StoredLines, days: StoredLines) -> History:
        """The history as stored, its buckets in ``hours`` and ``days``.

        KeyError, TypeError or ValueError if ``data`` is not one."""
        return cls(total={str(scope): Tally.from_json(tally) for scope, tally in data["total"].items()},
                   open={str(job): OpenAttempt(int(a[0]), float(a[1]), str(a[2]), bool(a[3]),
                                               None if a[4] is None else int(a[4]))
                         for job, a in data["open"].items()},
                   timeline=Timeline.from_json(data["timeline"]),
                   workspace_of={str(k): str(v) for k, v in data["workspace_of"].items()},
                   unplaced={str(job): [[float(at), str(kind)] for at, kind in records]
                             for job, records in data["unplaced"].items()},
                   answer_counted={str(k): bool(v) for k, v in data["answer_counted"].items()},
                   hours=Buckets(HOUR, hours), days=Buckets(DAY, days))
