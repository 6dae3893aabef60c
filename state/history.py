"""The chain of work folded into hourly tallies per deck, workspace and job, for `jobdeck stats`.

The board's rollups (state/rollups.py) answer "how has this job done" over its
whole life; `jobdeck stats --since 24h` asks about a window, and about things
the board does not keep: waits, failure classes, rate limits, operators
stepping in, deadlines. Those need the log, so the log is folded once into one
``Tally`` per hour and scope, and a window is the sum of its hours (whole hours:
a window starts at the top of the hour its start falls in). Durations go into
rollups' log-scale ``Histogram``, so quantiles merge across hours. The fold's
pending state (open attempts, backlog entries, deadlines) is kept with the
tallies so that the next call folds only what was appended (state/stats_cache.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.state.machine import EventType
from jobdeck.state.rollups import SCORED_TYPE, tokens_of
from jobdeck.state.tally import Tally
from jobdeck.state.timeline import Timeline

HOUR = 3600
DECK = "deck"
"""The scope of the whole deck; a workspace's is ``workspace:NAME``, a job's ``job:ID``."""

INTERVENTIONS = frozenset({EventType.APPROVED, EventType.REJECTED, EventType.RETRIED, EventType.CANCELLED,
                           EventType.PINNED, EventType.HELD, EventType.RELEASED})
"""Operator records (they carry ``by``) counted as a person stepping in."""
ENDINGS = frozenset({EventType.SUCCEEDED, EventType.FAILED, EventType.INTERRUPTED})


@dataclass(slots=True)
class OpenAttempt:
    """A claimed attempt whose end the fold has not seen yet."""

    token: int
    started: float
    workspace: str
    cancelled: bool = False


def _hour_json(tallies: Mapping[str, Tally]) -> bytes:
    return json.dumps({scope: tally.to_json() for scope, tally in tallies.items()}, separators=(",", ":")).encode()


class HourLines:
    """Stored hours, one line each (``HOUR<TAB>{scope: tally}``, oldest first), indexed from the newest back.

    A question about the last day parses the last day's lines only: a long
    history's older hours are neither split nor parsed.
    """

    def __init__(self, data: bytes = b"", start: int = 0) -> None:
        self.data = data
        self.start = start
        """Where the first hour's line begins in ``data``."""
        self._scanned = len(data)
        """Lines from here on are indexed."""
        self._lines: dict[int, tuple[int, int]] = {}
        """Hour -> where its line begins and where its tallies begin."""
        self._oldest: int | None = None

    def _back_to(self, hour: int | None) -> None:
        """Index lines back to one older than ``hour`` (or to the first, for None); ValueError if torn."""
        data = self.data
        while self._scanned > self.start and (hour is None or self._oldest is None or self._oldest >= hour):
            begin = data.rfind(b"\n", self.start, self._scanned - 1) + 1 or self.start
            tab = data.index(b"\t", begin, self._scanned)
            found = int(data[begin:tab])
            if self._oldest is not None and found >= self._oldest:
                raise ValueError("hours out of order")
            self._lines[found] = (begin, tab + 1)
            self._oldest, self._scanned = found, begin

    def get(self, hour: int) -> bytes | None:
        self._back_to(hour)
        where = self._lines.get(hour)
        if where is None:
            return None
        end = self.data.index(b"\n", where[1])
        return self.data[where[1]:end]

    def keys_from(self, first: int | None) -> list[int]:
        """Stored hours from ``first`` on (all of them for None), oldest first."""
        self._back_to(first)
        return sorted(h for h in self._lines if first is None or h >= first)

    def before(self, hour: int) -> memoryview:
        """The lines of the stored hours older than ``hour``, as they are (not copied)."""
        self._back_to(hour)
        newer = [begin for h, (begin, _) in self._lines.items() if h >= hour]
        return memoryview(self.data)[self.start:min(newer, default=len(self.data))]


@dataclass
class History:
    """Hourly tallies per scope, their sum over the whole log, and what the fold is waiting on."""

    total: dict[str, Tally] = field(default_factory=dict)
    open: dict[str, OpenAttempt] = field(default_factory=dict)
    timeline: Timeline = field(default_factory=Timeline)
    workspace_of: dict[str, str] = field(default_factory=dict)
    """Each job's workspace, as its latest claim named it."""
    stored: HourLines = field(default_factory=HourLines)
    """Hours as stored, read into ``hours`` on first use."""
    hours: dict[int, dict[str, Tally]] = field(default_factory=dict)
    """Hours in use, keyed by hours since the epoch (``int(ts // 3600)``), then by scope."""
    touched: set[int] = field(default_factory=set)
    """Hours the fold changed since they were stored."""
    spilled: dict[int, bytes] = field(default_factory=dict)
    """Changed hours the fold has moved past, kept as they will be stored rather than as tallies.

    A fold of a million records from the start made 300,000 tallies, 685 MB at
    once; the log is in time order, so an hour behind the latest is rarely met again."""

    # -- folding ---------------------------------------------------------------------------

    def fold(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Count ``records`` (in log order, each once)."""
        latest: float | None = None
        for record in records:
            job = record.get("job")
            kind = record.get("type")
            if not isinstance(job, str):
                if kind == SCORED_TYPE:
                    self._spend(record)
                continue
            ts = record.get("ts", 0.0)
            latest = ts if latest is None or ts > latest else latest
            self.timeline.enters_backlog(record)
            if kind == EventType.CLAIMED:
                self._claimed(job, record, ts)
            elif kind in ENDINGS:
                self._ended(job, record, ts)
            elif kind == EventType.PROGRESS:
                self._progress(job, record, ts)
            elif kind == EventType.DECIDED:
                self.timeline.decided(record)
            if kind == EventType.CANCELLED and job in self.open:
                self.open[job].cancelled = True  # the attempt's end is then recorded as cancelled
            if kind in INTERVENTIONS and record.get("by"):
                for tally in self._tallies(job, ts):
                    tally.interventions[kind] = tally.interventions.get(kind, 0) + 1
        if latest is not None:
            self._spill(int(latest // HOUR) - 1)

    def _spill(self, before: int) -> None:
        """Keep the hours older than ``before`` as bytes: changed ones in ``spilled``, the rest in ``stored``."""
        for hour in [hour for hour in self.hours if hour < before]:
            tallies = self.hours.pop(hour)
            if hour in self.touched:
                self.spilled[hour] = _hour_json(tallies)

    def _claimed(self, job: str, record: Mapping[str, Any], ts: float) -> None:
        workspace = str(record.get("workspace", "default"))
        token = record.get("seq")
        if not isinstance(token, int):
            return
        self.open[job] = OpenAttempt(token, ts, workspace)
        self.workspace_of[job] = workspace
        wait = self.timeline.claimed(job, ts)
        if wait is not None:
            for tally in self._tallies(job, ts):
                tally.wait.add(wait)

    def _ended(self, job: str, record: Mapping[str, Any], ts: float) -> None:
        attempt = self.open.get(job)
        if attempt is None or record.get("token") != attempt.token:
            return  # a stale token: the state machine refuses it, and so does this count
        del self.open[job]
        if record.get("reason") == "not_started":
            return  # nothing ran
        kind = record["type"]
        outcome = "cancelled" if attempt.cancelled else str(kind)
        usage = record.get("usage")
        tokens = tokens_of(usage if isinstance(usage, Mapping) else None)
        cost = record.get("cost")
        cost = float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else 0.0
        model = record.get("model") or (usage.get("model") if isinstance(usage, Mapping) else None)
        kept = self.timeline.succeeded(job, ts) if outcome == EventType.SUCCEEDED else None
        for tally in self._tallies(job, ts):
            tally.runs += 1
            tally.outcomes[outcome] = tally.outcomes.get(outcome, 0) + 1
            if outcome == EventType.FAILED:
                reason = str(record.get("reason") or "failed")
                tally.reasons[reason] = tally.reasons.get(reason, 0) + 1
            elif outcome == EventType.SUCCEEDED:
                tally.run.add(ts - attempt.started)
            if record.get("retry_at") is not None and outcome != "cancelled":
                tally.retries += 1
            tally.tokens += tokens
            tally.cost += cost
            if model:
                counts = tally.models.setdefault(str(model), [0, 0, 0.0])
                counts[0] += 1
                counts[1] += tokens
                counts[2] += cost
            if kept is not None:
                if kept[1]:
                    tally.deadlines_met += 1
                else:
                    tally.deadlines_missed += 1
            if tally.last_ended is None or ts > tally.last_ended:
                tally.last_ended = ts

    def _progress(self, job: str, record: Mapping[str, Any], ts: float) -> None:
        what, reason = record.get("what"), str(record.get("reason") or "")
        if what not in ("retry", "cooldown"):
            return
        skipped = what == "cooldown" and reason.startswith("skipped")
        for tally in self._tallies(job, ts):
            if skipped:
                tally.cooldown_skips += 1
                continue
            if what == "cooldown":
                tally.cooldowns += 1
            if reason.startswith("rate_limit"):
                tally.rate_limits += 1

    def _spend(self, record: Mapping[str, Any]) -> None:
        """A deck-level call's cost (the model scorer's), counted as the rollups count it."""
        cost, ts = record.get("cost"), record.get("ts", 0.0)
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not cost > 0:
            return
        usage = record.get("usage")
        tokens = tokens_of(usage if isinstance(usage, Mapping) else None)
        model = str(record.get("model") or "unknown")
        for tally in (self._hour(int(ts // HOUR), DECK), self._total(DECK)):
            tally.cost += cost
            tally.tokens += tokens
            counts = tally.models.setdefault(model, [0, 0, 0.0])
            counts[1] += tokens
            counts[2] += cost

    def _tallies(self, job: str, ts: float) -> list[Tally]:
        """The tallies a record of ``job`` at ``ts`` counts in: its hour's and the totals, per scope."""
        scopes = [DECK, f"job:{job}"]
        attempt = self.open.get(job)
        workspace = attempt.workspace if attempt is not None else self.workspace_of.get(job)
        if workspace is not None:
            scopes.append(f"workspace:{workspace}")
        hour = int(ts // HOUR)
        return [self._hour(hour, scope) for scope in scopes] + [self._total(scope) for scope in scopes]

    def _hour(self, hour: int, scope: str) -> Tally:
        tallies = self.hour(hour)
        if not tallies:
            tallies = self.hours[hour] = {}
        self.touched.add(hour)
        tally = tallies.get(scope)
        if tally is None:
            tally = tallies[scope] = Tally()
        return tally

    def _total(self, scope: str) -> Tally:
        tally = self.total.get(scope)
        if tally is None:
            tally = self.total[scope] = Tally()
        return tally

    # -- reading ---------------------------------------------------------------------------

    def window(self, since: float | None) -> dict[str, Tally]:
        """Per scope, the sum of the hours from the one holding ``since`` on (everything for None)."""
        if since is None:
            return self.total
        first = int(since // HOUR)
        inside = self.hours_from(first)
        before = [hour for hour in self.hours_from(-1 << 62) if hour < first]
        if len(before) >= len(inside):
            return self._sum(inside)
        # a window reaching far back: the whole history less what came before it reads fewer hours
        window: dict[str, Tally] = {}
        for scope, tally in self.total.items():
            window[scope] = Tally()
            window[scope].merge(tally)
        for scope, tally in self._sum(before).items():
            window[scope].subtract(tally)
            if window[scope].last_ended is not None and window[scope].last_ended < first * HOUR:
                window[scope].last_ended = None
        return {scope: tally for scope, tally in window.items() if tally.to_json()}

    def _sum(self, hours: Iterable[int]) -> dict[str, Tally]:
        """Per scope, the sum of ``hours``."""
        summed: dict[str, Tally] = {}
        for hour in hours:
            for scope, tally in self.hour(hour).items():
                summed.setdefault(scope, Tally()).merge(tally)
        return summed

    def hours_from(self, first: int) -> list[int]:
        """The hours anything happened in, from ``first`` on, oldest first."""
        return sorted({*self.stored.keys_from(first), *(h for h in self.spilled if h >= first),
                       *(h for h in self.hours if h >= first and self.hours[h])})

    def hour(self, hour: int) -> dict[str, Tally]:
        """The tallies of one hour, by scope (empty if nothing happened in it)."""
        tallies = self.hours.get(hour)
        if tallies is None:
            raw = self.spilled.pop(hour, None) or self.stored.get(hour)
            if raw is None:
                return {}
            tallies = self.hours[hour] = {scope: Tally.from_json(data) for scope, data in json.loads(raw).items()}
        return tallies


    # -- storing ---------------------------------------------------------------------------

    def state_json(self) -> dict[str, Any]:
        """Everything but the hours: the totals and the fold's pending state."""
        return {"total": {scope: tally.to_json() for scope, tally in self.total.items()},
                "open": {job: [a.token, a.started, a.workspace, a.cancelled] for job, a in self.open.items()},
                "timeline": self.timeline.to_json(), "workspace_of": self.workspace_of}

    def hour_lines(self) -> list[bytes | memoryview]:
        """Every hour as stored, in pieces: the lines the fold did not change as they were read, the others anew."""
        if not self.touched:
            return [memoryview(self.stored.data)[self.stored.start:]]
        first = min(self.touched)
        lines: list[bytes | memoryview] = [self.stored.before(first)]
        for hour in sorted({*self.stored.keys_from(first), *self.touched}):
            if hour not in self.touched:
                raw = self.stored.get(hour)
            elif hour in self.spilled:
                raw = self.spilled[hour]
            else:
                raw = _hour_json(self.hours.get(hour, {}))
            if raw:
                lines.append(b"%d\t%s\n" % (hour, raw))
        return lines

    @classmethod
    def from_json(cls, data: Mapping[str, Any], stored: HourLines) -> History:
        """The history as stored, its hours in ``stored``; KeyError, TypeError or ValueError if it is not one."""
        return cls({str(scope): Tally.from_json(tally) for scope, tally in data["total"].items()},
                   {str(job): OpenAttempt(int(a[0]), float(a[1]), str(a[2]), bool(a[3]))
                    for job, a in data["open"].items()},
                   Timeline.from_json(data["timeline"]), {str(k): str(v) for k, v in data["workspace_of"].items()},
                   stored)
