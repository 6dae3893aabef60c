"""Which changes deserve an alert, and how many messages they become: pure, time injected.

Two kinds are kept apart. **Needs you**: a high-risk job waits for approval, an
output waits for review, a job failed for good, the runner is in trouble, the
decision service holds a job. **News**: a pipeline finished. Retries, cooldowns and
transient failures are neither. Each job's state change raises at most one alert
(``Dedup``); each rule sends a target at most one message per ``throttle``, and
what arrives in between is summed up in one message at its end (``Throttle``), so
a burst of 100 failures becomes two messages, not a hundred.
"""

from __future__ import annotations

import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobdeck.state.machine import EventType, Status
from jobdeck.state.money import format_cost as money
from jobdeck.state.views import blockers, is_paused, needs_approval, waits_for_fire

ENDINGS = frozenset({EventType.SUCCEEDED, EventType.FAILED, EventType.INTERRUPTED})

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.spec import Spec

NEEDS_YOU = frozenset({"approval", "review", "failed", "runner", "hold", "deadline"})
RUNNER_TROUBLE = frozenset({"write_error", "log_replaced", "lock_timeout", "spec_error"})
"""Runner reports that mean it cannot do its work as asked."""
LISTED = 10
"""Jobs a summary names; the rest are counted."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing to tell the operator."""

    kind: str
    """approval, review, failed, runner, hold, deadline, pipeline_done or digest."""
    key: str
    """What makes it the same alert again: the kind, the job and the state change it is about."""
    text: str
    """One line for people: what happened and what to do."""
    job: str | None = None
    at: float = 0.0

    @property
    def needs_you(self) -> bool:
        return self.kind in NEEDS_YOU

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "needs_you": self.needs_you, "job": self.job, "text": self.text, "at": self.at}


def digest(board: Board, now: float) -> Alert | None:
    """The daily digest (news): what the UTC day before ``now`` came to, and what waits now; None after a quiet day."""
    today = int(now // 86400) * 86400
    day = [hour for _, hour in board.rollups.hours_between(today - 86400, today - 1)]
    done, failed, cost = sum(h.succeeded for h in day), sum(h.failed for h in day), sum(h.cost for h in day)
    if not (done or failed or cost):
        return None
    waiting = sum(1 for state in board.jobs.values() if state.status == Status.REVIEW)
    date = time.strftime("%Y-%m-%d", time.gmtime(today - 86400))
    text = (f"{date} (UTC): {done} attempt(s) done, {failed} failed, {money(cost)} spent; "
            f"{waiting} output(s) waiting for review now; jobdeck stats --since 24h")
    return Alert("digest", f"digest:{date}", text, None, now)


WAITS = frozenset({"approval", "hold"})
"""Alerts about a job's wait, remembered across runners while the job's state stays as it was."""


def wait_key(kind: str, job_id: str, board: Board, needs: str | None = None) -> str:
    """The key of an alert about ``job_id``'s present wait: the same for every runner until the job's state changes."""
    state = board.state(job_id)
    return f"{kind}:{job_id}:{state.cycle}:{state.since}" + (f":{needs}" if needs is not None else "")


def still_waiting(key: str, board: Board) -> bool:
    """Whether the wait ``key`` (``wait_key``'s) was raised for is still the job's present state."""
    parts = key.split(":")
    if len(parts) not in (4, 5) or parts[0] not in WAITS:
        return False
    return key == wait_key(parts[0], parts[1], board, parts[4] if len(parts) == 5 else None)


def from_record(record: Mapping[str, Any], spec: Spec | None, board: Board | None = None,
                now: float | None = None) -> Alert | None:
    """The alert a record of the log (or a runner report) raises, if any (``board`` keys a hold by the job's state).

    A runner report carries no time of its own: it is dated ``now`` (default: the clock's)."""
    kind, job, seq = record.get("type"), record.get("job"), record.get("seq")
    at = float(record.get("ts") or (time.time() if now is None else now))
    if kind in ENDINGS and _cancelled(record, board):
        return None  # the operator's own cancel: how its attempt ended is not news that needs them
    if kind == EventType.SUCCEEDED and record.get("review"):
        why = "; ".join(record.get("reasons") or []) or record.get("reason") or "review"
        return Alert("review", f"review:{job}:{seq}", f"{job}: output waits for review ({why}); "
                                                      f"jobdeck show {job}", job, at)
    if kind == EventType.INTERRUPTED and record.get("retry_at") is None:
        return Alert("review", f"review:{job}:{seq}", f"{job}: its runner stopped while it ran; it waits for review "
                                                      f"(did it finish?); jobdeck show {job}", job, at)
    if kind == EventType.FAILED and record.get("retry_at") is None:
        why = record.get("message") or record.get("reason") or "failed"
        return Alert("failed", f"failed:{job}:{seq}", f"{job}: failed for good ({why}); jobdeck logs {job}", job, at)
    if kind == EventType.SUCCEEDED and spec is not None and isinstance(job, str) and _is_last(spec, job):
        return Alert("pipeline_done", f"done:{job}:{seq}", f"{job}: pipeline finished", job, at)
    if kind == "decided" and record.get("action") == "hold" and record.get("mode") == "live" and isinstance(job, str):
        # only live holds: in off, shadow and advise the gates advise, and such a verdict rides the job's own claim
        why = (record.get("reasons") or [record.get("reason") or "held"])[0]
        needed = str(record.get("needs") or "held")
        # the same hold seen again (a second runner, the next run from cron) is not a new alert: keyed on what it
        # waits for and the job's state, not on the record
        key = wait_key("hold", job, board, needed) if board is not None else f"hold:{job}:{needed}"
        needs = f", needs {record['needs']}" if record.get("needs") else ""
        return Alert("hold", key, f"{job}: held by the decision service{needs} ({why}); jobdeck why {job}", job, at)
    if kind == "decided" and record.get("action") in ("at_risk", "missed", "overdue") and isinstance(job, str):
        # (a wait past max_wait misses the bound on its start: a deadline too)
        said = "waited past its max_wait" if record["action"] == "overdue" else \
            f"deadline {record['action'].replace('_', ' ')}"
        why = (record.get("reasons") or [said])[0]
        return Alert("deadline", f"deadline:{job}:{seq}", f"{job}: {why}; jobdeck why {job}", job, at)
    if kind in RUNNER_TROUBLE:  # reported again every retry while it lasts: one alert an hour per kind
        # (a jobs.json error is reported once per change of the file: each new error is news)
        which = f":{zlib.crc32(str(record.get('message', '')).encode()):08x}" if kind == "spec_error" else ""
        return Alert("runner", f"runner:{kind}{which}:{int(at // 3600)}",
                     f"runner in trouble ({kind}): {record.get('message', '')}", None, at)
    return None


def _cancelled(ending: Mapping[str, Any], board: Board | None) -> bool:
    """Whether ``ending`` ends an attempt the operator cancelled: stopped for the cancel, or ended on its own
    once the job was cancelled (the job then stays cancelled)."""
    if ending.get("reason") == "cancelled":
        return True
    job = ending.get("job")
    return board is not None and isinstance(job, str) and board.state(job).status == Status.CANCELLED


def _is_last(spec: Spec, job_id: str) -> bool:
    """Whether nothing depends on ``job_id``: its success ends a pipeline."""
    return not any(job_id in deps for deps in spec.dependencies.values())


def approvals(spec: Spec, board: Board, job_ids: Iterable[str], now: float) -> list[Alert]:
    """High-risk jobs among ``job_ids`` that could start but for an approval."""
    found = []
    for job_id in job_ids:
        job = spec.job(job_id)
        if job is None or not needs_approval(job):
            continue
        state = board.state(job_id)
        if (state.status != Status.BACKLOG or state.approved or waits_for_fire(job, state) or is_paused(job, state)
                or blockers(job, board)):
            continue
        found.append(Alert("approval", wait_key("approval", job_id, board),
                           f"{job_id}: high-risk job waits for approval; jobdeck approve {job_id}", job_id, now))
    return found


class Dedup:
    """Alerts already raised, by key (the newest ``size``): one alert per job per state change."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first(self, alert: Alert) -> bool:
        """Whether ``alert`` is new (and remember it)."""
        if alert.key in self._seen:
            return False
        self._seen[alert.key] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True

    def forget(self, prefix: str) -> None:
        """Let alerts whose key starts with ``prefix`` be raised again (runner trouble that cleared)."""
        for key in [key for key in self._seen if key.startswith(prefix)]:
            del self._seen[key]


@dataclass(frozen=True, slots=True)
class Message:
    """What one send carries."""

    title: str
    body: str
    needs_you: bool
    alerts: tuple[Alert, ...]


@dataclass(slots=True)
class Throttle:
    """One rule's pacing for one target: a message at most every ``every`` seconds, the rest summed up."""

    every: float
    last: float | None = None
    held: list[Alert] = field(default_factory=list)

    def offer(self, alert: Alert, now: float) -> Message | None:
        """The message to send now for ``alert``, or None when it is held for the next summary."""
        if self.last is None or self.every <= 0 or now - self.last >= self.every and not self.held:
            self.last = now
            return message([alert])
        self.held.append(alert)
        return None

    def due(self, now: float) -> Message | None:
        """The summary of held alerts once the window has passed."""
        if not self.held or self.last is None or now - self.last < self.every:
            return None
        held, self.held = self.held, []
        self.last = now
        return message(held)

    @property
    def next_due(self) -> float | None:
        return None if not self.held or self.last is None else self.last + self.every


def message(alerts: list[Alert]) -> Message:
    """One message for ``alerts``: the alert itself, or a summary counting them by kind and naming a few jobs."""
    needs_you = any(alert.needs_you for alert in alerts)
    label = "needs you" if needs_you else "news"
    if len(alerts) == 1:
        alert = alerts[0]
        return Message(f"jobdeck {label}: {alert.kind}" + (f" {alert.job}" if alert.job else ""), alert.text,
                       needs_you, (alert,))
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.kind] = counts.get(alert.kind, 0) + 1
    jobs = list(dict.fromkeys(alert.job for alert in alerts if alert.job))
    named = ", ".join(jobs[:LISTED]) + (f" and {len(jobs) - LISTED} more" if len(jobs) > LISTED else "")
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    lines = [f"{len(alerts)} alerts: {summary}"] + ([f"jobs: {named}"] if named else [])
    lines += [alert.text for alert in alerts[:3]]
    return Message(f"jobdeck {label}: {summary}", "\n".join(lines), needs_you, tuple(alerts))
