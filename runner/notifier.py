"""The runner's alerts and dead man's switch: records in, messages out, never on the loop's time.

The loop hands every record it sees to ``seen`` (a list append) and calls ``turn``
once per turn: the rules (state/notify_rules.py) pick the alerts, throttle and
de-duplicate them, and the messages go on the target's queue (runner/senders.py).
Every message is redacted and made one-line-safe before it leaves. A send that
fails for good comes back through ``failures()`` for the loop to record.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.runner import digest_once
from jobdeck.runner.senders import Send, Worker, apprise_sender, command_sender, ping_sender
from jobdeck.state.atomic import write_atomic
from jobdeck.state.notify_rules import (WAITS, Alert, Dedup, Message, Throttle, approvals, digest, from_record,
                                        still_waiting)
from jobdeck.state.notify_rules import message as compose
from jobdeck.state.terminal import one_line

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.redact import Redactor
    from jobdeck.state.spec import Notify, NotifyRule, NotifyTarget, Spec

PING_TIMEOUT = 10.0
DROPS_EVERY = 60.0
"""Seconds between two reports of messages dropped for one target."""


def _carries_digest(send: Send | None) -> bool:
    return send is not None and any(isinstance(alert, Mapping) and alert.get("kind") == "digest"
                                    for alert in send.payload.get("alerts", ()))


def _read_raised(path: Path | None) -> set[str]:
    if path is None:
        return set()
    try:
        keys = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return set()
    return {key for key in keys if isinstance(key, str)} if isinstance(keys, list) else set()


def _lines(text: str) -> str:
    """``text`` with each line ``one_line``-safe: no control sequences, the line breaks kept."""
    return "\n".join(one_line(line) for line in text.splitlines())


def _each_string(value: object, clean: Callable[[str], str]) -> object:
    """``clean`` applied to every string inside a JSON-like value."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {key: _each_string(item, clean) for key, item in value.items()}
    if isinstance(value, list):
        return [_each_string(item, clean) for item in value]
    return value


Deliver = Callable[[Send, float], "str | None"]

FOREIGN = "_foreign"
"""Marks what ``seen`` keeps of another process's record: its job, for ``touched``, and nothing to alert on."""


class Notifier:
    """Turns what the runner sees into alerts and pings for the deck's ``notify`` section."""

    def __init__(self, deck_root: str, environ: Mapping[str, str], redactor: Redactor,
                 raised_path: Path | None = None) -> None:
        self.deck_root = deck_root
        self.raised_path = raised_path
        """Where the approval and hold alerts already raised are kept, so a restarted (or cron) runner does not
        repeat them."""
        self.waits_raised: set[str] | None = None
        self.digest_day: int | None = None
        """The UTC day (days since the epoch) whose digest this process sent, or saw sent by another."""
        self._digest_sending: int | None = None
        """The day whose digest this process took on and has not yet recorded as sent."""
        self._digest_waiting: set[str] = set()
        """The targets the digest taken on went to whose send is not yet done (delivered, or failed for good)."""
        self._digest_done: deque[str] = deque()
        """Targets whose digest send is done, appended by their worker threads."""
        self._delivering: dict[str, Send] = {}
        """Each target's send under way (set on its worker thread), for ``_failed`` to know what failed."""
        self.environ = dict(environ)
        self.redactor = redactor
        self.config: Notify | None = None
        self.rules: list[NotifyRule] = []
        self.workers: dict[str, Worker] = {}
        self.retiring: list[Worker] = []
        """Workers of targets removed or changed, finishing what they hold: a stopping runner waits for them too."""
        self.throttles: dict[tuple[int, str], Throttle] = {}
        self.dedup = Dedup()
        self.records: list[Mapping[str, Any]] = []
        self._failures: deque[dict[str, Any]] = deque()
        self.wake: Any = None
        """Called (from a worker thread) when a failure is waiting: the runner wakes its loop."""
        self.ping: Worker | None = None
        self.ping_every = 60.0
        self._pinged = float("-inf")
        self._all_jobs = True  # the first turn looks at every job for waiting approvals
        self._dependents_of: tuple[Spec, dict[str, list[str]]] | None = None
        self._drops_reported: dict[str, tuple[int, float]] = {}
        self.problems: list[str] = []
        """Configuration problems found (an unset variable), and a digest sent again: reported once each by the
        runner."""

    @property
    def active(self) -> bool:
        return bool(self.workers) or self.ping is not None

    def configure(self, spec: Spec, redactor: Redactor) -> None:
        """Adopt ``spec``'s notify section; targets whose settings did not change keep their thread and queue.

        Nothing queued is lost: a changed target's queue moves to its new worker, which starts once the send under
        way ends, and a removed target's worker sends what it holds before it ends.
        """
        self.redactor = redactor
        config = spec.notify
        if config == self.config:
            return
        old = self.config
        self.flush(time.time())  # alerts held under the old rules go out rather than vanish with them
        self.config = config
        self.rules = config.effective_rules()
        self.throttles = {}
        keep = {name for name, target in config.targets.items()
                if old is not None and old.targets.get(name) == target and name in self.workers}
        replaced = {name: self.workers.pop(name) for name in list(self.workers) if name not in keep}
        for name, target in config.targets.items():
            if name not in keep:
                worker = self._worker(name, target, after=replaced.get(name))
                if worker is not None:
                    self.workers[name] = worker
        self.retiring = [worker for worker in self.retiring if worker.thread.is_alive()]
        for name, worker in replaced.items():
            successor = self.workers.get(name)
            if successor is None:
                worker.retire()
            else:
                for send in worker.hand_over():
                    successor.put(send)
            self.retiring.append(worker)
        if old is None or old.ping != config.ping:
            if self.ping is not None:
                self.ping.stop()
                self.ping = None
            url = self._env(config.ping.env, "notify.ping") if config.ping is not None else None
            if url:
                self.ping = Worker("ping", ping_sender(url), timeout=PING_TIMEOUT, retries=1, failed=self._failed,
                                   limit=2)
        self.ping_every = config.ping_every

    def _worker(self, name: str, target: NotifyTarget, after: Worker | None = None) -> Worker | None:
        """A worker for ``target`` (None when its URL's variable is unset); ``after``: the one it replaces."""
        if target.url is not None:
            url = self._env(target.url.env, f"notify.targets.{name}.url")
            if not url:
                return None
            deliver = self._watched(name, apprise_sender(url))
        else:
            hook = command_sender(list(target.command or ()), self.environ, self.deck_root)
            return Worker(name, self._watched(name, hook), timeout=target.timeout, retries=target.retries,
                          failed=self._failed, abort=hook.abort, after=after)
        return Worker(name, deliver, timeout=target.timeout, retries=target.retries, failed=self._failed, after=after)

    def _watched(self, name: str, deliver: Deliver) -> Deliver:
        """``deliver``, telling the digest's bookkeeping when the digest has been delivered to target ``name``."""
        def watched(send: Send, timeout: float) -> str | None:
            self._delivering[name] = send
            why = deliver(send, timeout)
            if why is None and _carries_digest(send):
                self._digest_done.append(name)
            return why

        return watched

    def _env(self, variable: str, field: str) -> str | None:
        value = self.environ.get(variable)
        if not value:
            self.problems.append(f"{field}: environment variable {variable} is not set; nothing is sent there")
        return value

    # -- on the loop ----------------------------------------------------------------------

    def seen(self, record: Mapping[str, Any], *, foreign: bool = False) -> None:
        """Remember a record of the log or a runner report for the next ``turn``.

        ``foreign``: another process wrote it. Every record that raises an alert is a runner's (an outcome, a
        decision, its own trouble), and the runner that wrote it raises it: two runners on one deck (or a cron
        `run --once` beside a long-running one) would otherwise send each alert twice. A foreign record still
        says which jobs changed, for the approvals they may have unblocked.
        """
        if self.rules or self.ping is not None:
            self.records.append(record if not foreign else {"job": record.get("job"), FOREIGN: True})

    def started(self, now: float) -> None:
        """The runner has started: ping."""
        self._ping(now, fail=False, force=True)

    def turn(self, spec: Spec | None, board: Board, now: float) -> None:
        """Raise the alerts for what was seen since the last turn, send what is due, ping if it is time."""
        records, self.records = self.records, []
        alerts: list[Alert] = []
        touched: set[str] = set()
        for record in records:
            alert = None if FOREIGN in record else from_record(record, spec, board, now)
            if alert is not None:
                alerts.append(alert)
            job = record.get("job")
            if isinstance(job, str):
                touched.add(job)
        if spec is not None and self.rules:
            if self._all_jobs:
                touched = set(spec.by_id)
                self._all_jobs = False
            elif touched:  # a job that ended may have unblocked the high-risk jobs that wait on it
                dependents = self._dependents(spec)
                touched |= {down for job_id in touched for down in dependents.get(job_id, ())}
            alerts += approvals(spec, board, sorted(touched), now)
        failing = False
        if spec is not None and self.rules:
            alerts = self._new_waits(alerts, board)
            daily = self._digest(board, now)
            if daily is not None:
                alerts.append(daily)
        for alert in alerts:
            if not self.dedup.first(alert):
                continue
            failing = failing or alert.kind in ("failed", "runner")
            routes = self._routes(alert.kind)
            if alert.kind == "digest":
                self._digest_waiting = set(routes)
            for target, index in routes.items():
                self._offer(index, target, alert, now)
        self._send_due(now)
        self._digest_sent()
        self._ping(now, fail=failing)
        self._report_drops(now)

    def _report_drops(self, now: float) -> None:
        """One line per target and minute for messages a full queue dropped (not one per message or job)."""
        for name, worker in self.workers.items():
            reported, at = self._drops_reported.get(name, (0, float("-inf")))
            if worker.dropped > reported and now - at >= DROPS_EVERY:
                self._drops_reported[name] = (worker.dropped, now)
                self._failures.append({"target": name, "job": None, "tries": 0, "message":
                                       f"queue full, the target is not keeping up: {worker.dropped - reported} "
                                       f"message(s) dropped"})

    def _dependents(self, spec: Spec) -> dict[str, list[str]]:
        """Each job's direct dependents, built once per spec."""
        if self._dependents_of is None or self._dependents_of[0] is not spec:
            dependents: dict[str, list[str]] = {}
            for job_id, deps in spec.dependencies.items():
                for dep in deps:
                    dependents.setdefault(dep, []).append(job_id)
            self._dependents_of = (spec, dependents)
        return self._dependents_of[1]

    def _digest(self, board: Board, now: float) -> Alert | None:
        """Yesterday's digest, once per UTC day whatever the number of runners, when a rule asks for it.

        runner/digest_once.py takes it on for this process; it is recorded as sent once every target's send is
        done (``_digest_sent``).
        """
        if not any("digest" in rule.kinds for rule in self.rules):
            return None
        today = int(now // 86400)
        if self.digest_day is not None and self.digest_day >= today:
            return None
        if self.raised_path is not None:
            taken = digest_once.take(self.raised_path.with_name(digest_once.DIGEST_FILE), today, now)
            if not taken.taken:
                self.digest_day = taken.sent_day
                return None
            if taken.again is not None:
                self.problems.append(taken.again)
            self._digest_sending, self._digest_waiting = today, set()
        self.digest_day = today
        return digest(board, now)

    def _digest_sent(self) -> None:
        """Record the digest taken on as sent once each of its targets' sends is done (delivered or failed for
        good, and then recorded as ``notify_failed``); a quiet day's, that sent nothing, at once."""
        while self._digest_done:
            self._digest_waiting.discard(self._digest_done.popleft())
        day = self._digest_sending
        if day is None or self._digest_waiting or self.raised_path is None:
            return
        if digest_once.record_sent(self.raised_path.with_name(digest_once.DIGEST_FILE), day):
            self._digest_sending = None

    def _new_waits(self, alerts: list[Alert], board: Board) -> list[Alert]:
        """``alerts`` without the approval and hold alerts an earlier runner raised; keeps the file of them current."""
        raised = self.waits_raised
        if raised is None:
            raised = self.waits_raised = _read_raised(self.raised_path)
        kept = {key for key in raised if still_waiting(key, board)}
        fresh = [alert for alert in alerts if alert.kind not in WAITS or alert.key not in kept]
        kept |= {alert.key for alert in fresh if alert.kind in WAITS and still_waiting(alert.key, board)}
        if kept != raised:
            self.waits_raised = kept
            if self.raised_path is not None:
                try:
                    write_atomic(self.raised_path, json.dumps(sorted(kept)).encode(), durable=False)
                except OSError:
                    pass  # only saves a repeated alert after a restart
        return fresh

    def _routes(self, kind: str) -> dict[str, int]:
        """Each target an alert of ``kind`` goes to, once, with the index of the rule whose throttle paces it there.

        When several rules send it to one target, the shortest throttle wins (the first rule of those on a tie):
        the more urgent rule is honoured, and the target gets the alert once, not once per rule.
        """
        routes: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            if kind in rule.kinds:
                for target in rule.to:
                    chosen = routes.get(target)
                    if chosen is None or rule.throttle < self.rules[chosen].throttle:
                        routes[target] = index
        return routes

    def _offer(self, index: int, target: str, alert: Alert, now: float) -> None:
        throttle = self.throttles.setdefault((index, target), Throttle(self.rules[index].throttle))
        message = throttle.offer(alert, now)
        if message is not None:
            self._send(target, message)

    def _send_due(self, now: float) -> None:
        for (_, target), throttle in self.throttles.items():
            message = throttle.due(now)
            if message is not None:
                self._send(target, message)

    def next_due(self) -> float | None:
        """When the next held summary is due, if one is held."""
        return min((t.next_due for t in self.throttles.values() if t.next_due is not None), default=None)

    def flush(self, now: float) -> None:
        """Send every held summary now (the runner is stopping, or the rules are changing)."""
        self._drops_reported = {name: (count, float("-inf")) for name, (count, _) in self._drops_reported.items()}
        for (_, target), throttle in self.throttles.items():
            if throttle.held:
                held, throttle.held = throttle.held, []
                throttle.last = now
                self._send(target, compose(held))

    def _send(self, target: str, message: Message) -> None:
        worker = self.workers.get(target)
        # a full queue counts the drop: reported by _report_drops
        if (worker is None or not worker.put(self.safe(message))) and any(a.kind == "digest" for a in message.alerts):
            self._digest_done.append(target)  # no send to wait for

    def safe(self, message: Message) -> Send:
        """The send for ``message``: secrets redacted, no control sequences, one line per line."""
        def clean(text: str) -> str:
            return _lines(self.redactor.text(text))

        jobs = {alert.job for alert in message.alerts}
        # a hook may print its stdin to a terminal: every string it gets is as inert as the body
        payload = _each_string({"title": message.title, "body": message.body, "needs_you": message.needs_you,
                                "deck": self.deck_root, "alerts": [a.to_json() for a in message.alerts]}, clean)
        # the deck's place ends the body: one person often runs several decks
        return Send(title=one_line(self.redactor.text(message.title)),
                    body=clean(f"{message.body}\ndeck: {self.deck_root}"),
                    needs_you=message.needs_you, payload=payload,  # type: ignore[arg-type]
                    job=next(iter(jobs)) if len(jobs) == 1 else None)

    def _ping(self, now: float, *, fail: bool, force: bool = False) -> None:
        if self.ping is None or not (fail or force or now - self._pinged >= self.ping_every):
            return
        self._pinged = now
        self.ping.put(Send(title="ping", body="", needs_you=fail, payload={}))

    # -- from the worker threads ------------------------------------------------------------

    def _failed(self, failure: dict[str, Any]) -> None:
        target = failure.get("target")
        if isinstance(target, str) and _carries_digest(self._delivering.get(target)):
            self._digest_done.append(target)  # failed for good: recorded like any alert's, not sent again
        failure["message"] = self.redactor.text(str(failure.get("message", "")))
        self._failures.append(failure)
        wake = self.wake
        if wake is not None:
            wake()

    def failures(self) -> list[dict[str, Any]]:
        """Sends that failed for good since the last call (safe from the loop while workers run)."""
        found = []
        while self._failures:
            found.append(self._failures.popleft())
        return found

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued send to be handled (a thread may call it); False if some
        were not.

        Then what is still unsent is given up: each target's unconfirmed alerts come back through ``failures()``
        (type ``notify_unconfirmed``) and a hook still running is killed, so that a stopped runner leaves no
        process behind and says which alert may not have arrived.
        """
        deadline = time.monotonic() + timeout
        workers = [*self.retiring, *self.workers.values(), *([self.ping] if self.ping is not None else [])]
        while any(not worker.idle() for worker in workers):
            if time.monotonic() >= deadline:
                self._give_up(timeout)
                return False
            threading.Event().wait(0.01)
        return True

    def _give_up(self, waited: float) -> None:
        unsent: dict[str, list[Send]] = {}
        hooks: set[str] = set()
        for worker in [*self.retiring, *self.workers.values()]:  # a replaced worker's sends are a target's oldest
            if worker.idle():
                continue
            if _carries_digest(worker.current):  # handed over, and may arrive: no run sends it again (a queued
                self._digest_done.append(worker.name)  # one, never begun, is left to the next runner to send)
            sends = worker.unconfirmed()
            worker.stop(abort=True)
            if not sends:
                continue  # it ended meanwhile
            unsent.setdefault(worker.name, []).extend(sends)
            if worker.abort is not None:
                hooks.add(worker.name)
        for name, sends in unsent.items():
            titles = ", ".join(f"'{send.title}'" for send in sends[:3]) + \
                (f" and {len(sends) - 3} more" if len(sends) > 3 else "")
            jobs = {send.job for send in sends}
            stopped = "; the hook was stopped" if name in hooks else ""
            self._failures.append({"type": "notify_unconfirmed", "target": name, "tries": 0,
                                   "job": next(iter(jobs)) if len(jobs) == 1 else None,
                                   "message": f"{titles} still sending after {waited:g}s{stopped}"})

    def close(self) -> None:
        """Stop every worker thread (a send under way finishes in the background: the threads are daemons)."""
        for worker in [*self.retiring, *self.workers.values()]:
            worker.stop()
        if self.ping is not None:
            self.ping.stop()
