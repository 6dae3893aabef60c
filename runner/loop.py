"""The runner loop: wake on change, decide, claim, supervise, record. One turn at a time.

``turn()`` does one pass without waiting (tests drive it step by step with an
injected clock); ``run()`` alternates turns with waiting for a wake-up: a change
in the deck directory (jobs.json, events.jsonl, an inbox), an attempt's end,
or the next timer (retry backoff, cron fire, orphan check, heartbeat).
Every decision that writes is taken under the deck lock on a caught-up board,
and each batch of events costs one fsync (group commit).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.agents.boundary import Boundary
from jobdeck.agents.remote import Detached, Engine, EngineUnreachable, clean_up, engine_for
from jobdeck.agents.containment import Containment
from jobdeck.runner import cron
from jobdeck.runner.attempt import Claimed, open_attempt
from jobdeck.runner.attempt_events import interrupted_event, not_started_event, refused_event, write_result
from jobdeck.runner.attempt_run import run_attempt
from jobdeck.runner.capacity import Capacity
from jobdeck.runner.firing import inbox_events, schedule_events, trigger_pending
from jobdeck.runner.heartbeat import HeartbeatWriter
from jobdeck.runner.inbox import InboxScanner
from jobdeck.runner.metrics import TextfileWriter, textfile_path
from jobdeck.runner.metrics import snapshot as metrics_snapshot
from jobdeck.runner.notifier import Notifier
from jobdeck.runner.recovery import Abandoned, abandoned_boundaries, orphaned_events, overdue_orphans, revoked_left
from jobdeck.runner.deciding import Deciding
from jobdeck.runner.elsewhere import report_of_foreign
from jobdeck.runner.scoring import Scoring
from jobdeck.runner.selection import ReadyIndex, pick
from jobdeck.runner.takeover import can_take_over, left_on_cluster, take_over
from jobdeck.runner.watcher import DeckWatcher
from jobdeck.runner.write_pause import WritePause, write_quietly
from jobdeck.state.actions import deck_hold_text
from jobdeck.state.attempt_dirs import open_in
from jobdeck.state.attempts import STDERR
from jobdeck.state.board import LISTED_TYPE, SNAPSHOT_BEHIND, Board, Store, open_store
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.cooldowns import COOLDOWN_FILE
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AttemptRefused, DeckAccessError, LockTimeout, LogReplaced, deck_access_error
from jobdeck.state.gc import GC_TYPE, GcReport, collect
from jobdeck.state.graph import downstream
from jobdeck.state.heartbeat import INTERVAL as HEARTBEAT_INTERVAL
from jobdeck.state.heartbeat import read_heartbeats
from jobdeck.state.lightspec import mark_valid
from jobdeck.state.loader import SpecSource
from jobdeck.state.machine import EventType, Status
from jobdeck.state.redact import Redactor, plain_api_keys, plain_well_known, plain_words, referenced_env
from jobdeck.state.segments import segment_bytes
from jobdeck.state.views import ready_since

if TYPE_CHECKING:
    from jobdeck.state.spec import Job, Spec

ORPHAN_CHECK = 2.0
CHECKPOINT_EVENTS = SNAPSHOT_BEHIND
CHECKPOINT_SECONDS = 30.0
"""A running runner rewrites board.json this often: a command replays at most this much of the log."""
ONCE_PATIENCE = 5.0
"""Seconds ``--once`` keeps retrying to record ended attempts while the deck refuses writes."""
ONCE_RETRY_WAIT = 60.0
"""Seconds ``--once`` waits for a retry of its own to come due; a later one is left to the next run (cron's)."""
GC_INTERVAL = 3600.0
"""Seconds between two automatic gcs (``retention.auto``) of a long-running runner."""
NOTIFY_DRAIN = 5.0
"""Seconds a stopping runner waits for its queued alerts to be sent."""
WATCH_AFTER = 0.05
"""Seconds without a wake-up after which the deck watcher is started (see ``Runner.run``)."""


class Runner:
    """Claims and runs the deck's ready jobs."""

    def __init__(self, deck: Deck, *, parallel: int | None = None, once: bool = False,
                 only: set[str] | None = None, clock: Callable[[], float] = time.time,
                 report: Callable[[Mapping[str, Any]], None] | None = None,
                 runner_id: str | None = None, environ: Mapping[str, str] | None = None,
                 grace: float = 10.0, watch: bool = True, source: SpecSource | None = None) -> None:
        self.deck = deck
        self.parallel_override = parallel
        self.once = once
        self.clock = clock
        self._printout = report or (lambda record: None)
        self.report = self._report  # printed, and seen by the notifier
        self.notifier: Notifier | None = None
        self._metrics: TextfileWriter | None = None
        self.runner_id = runner_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        self.environ = dict(os.environ if environ is None else environ)
        self.grace = grace
        self.watch = watch
        self.source = source or SpecSource(deck.spec_path)
        self.index = ReadyIndex()
        self.deciding = Deciding(deck.state_dir / COOLDOWN_FILE,
                                 scoring=Scoring(self.environ, self._scored, clock))
        self.index.only = only
        self.inbox = InboxScanner(deck)
        self._store: Store | None = None
        self.spec: Spec | None = None
        self.scheduled: list[Job] = []
        self.capacity = Capacity(parallel or 1)
        self.claims: dict[str, Claimed] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.finished: list[tuple[Claimed, dict[str, Any]]] = []
        self.progress: list[dict[str, Any]] = []
        self.cancel_why: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        """Where attempts are, when their card should say (a batch system's queue), by job id."""
        self.running_ids: set[str] = set()
        self.orphans: set[str] = set()
        """Running attempts of runners that are gone (their jobs outlived them): they hold slots of ours."""
        self.ran: set[str] = set()
        self.recovered: set[str] = set()
        """Jobs whose attempt, left by a runner that is gone, this runner recorded the end of (recovery)."""
        self.cooling: dict[str, float] = {}
        """Jobs this runner found deferred because every model they name cools down, and until when."""
        self.seen_from: dict[str, float] = {}
        """When this runner first saw each job a jobs.json it reloaded added: the job entered the deck then."""
        self.attempts_started = 0
        """Attempts this runner started (a job run twice, by two inbox files or a retry, counts twice)."""
        self.stopping = False
        self.stopped_by: str | None = None
        """What stopped the runner (a signal's name), for its last line."""
        self._checkpoint_seq = 0
        self._checkpoint_at = 0.0
        self._segment_bytes = segment_bytes()
        self._rotate_after = 0.0  # after a failed rotation, when to try again
        self.grace_over = False
        """Set when a stop's grace has run out: attempts still running, or still to start, are stopped."""
        self._stopping_told = False
        """Whether the ``stopping`` record (what a stopped runner waits for) was reported."""
        self.wake = asyncio.Event()
        self.heartbeat: HeartbeatWriter | None = None
        self._told_plain: set[str] = set()
        """Referenced variables said to hold a plain word (each once)."""
        self.spec_error_reported: str | None = None
        self._next_orphan_check = 0.0
        self.writes = WritePause(self.report, self._resync)
        self._inbox_waiting: set[str] = set()
        self._inbox_due = True
        self._watcher: DeckWatcher | None = None
        self._poll = False  # the watcher failed: look for changes on a timer instead
        self.containment: Containment | None = None
        self._abandoned: dict[Path, asyncio.Task[None]] = {}  # dead runners' attempts whose leftovers are being stopped
        self._revoked_due: set[str] = set()  # jobs whose attempt may have been cancelled while its runner was dead
        self._overdue: dict[Path, dict[str, Any]] = {}  # dead runners' attempts stopped for their timeout: outcomes
        self._cancelling: dict[Path, asyncio.Task[None]] = {}  # batch jobs of attempts cancelled with no runner up
        self._gc_due = 0.0
        self._gc: asyncio.Future[GcReport] | None = None
        self._said_held = False
        self.log_lost: LogReplaced | None = None
        """Set when events.jsonl was moved, replaced or truncated: nothing more is written, the runner stops."""

    @property
    def store(self) -> Store:
        """The deck's state, opened by ``start()``."""
        if self._store is None:
            raise RuntimeError("the runner's store is opened by start(); call it first")
        return self._store

    @property
    def started(self) -> bool:
        """Whether ``start()`` has opened the store."""
        return self._store is not None

    # -- set-up and tear-down ---------------------------------------------------------

    def start(self) -> None:
        """Open the store, load the spec, start watching. Call inside the event loop."""
        import jobdeck.agents.registry  # noqa: F401  (pay for the agent modules before the first claim, not after it)
        import jobdeck.agents.shell  # noqa: F401

        try:
            self.deck.ensure_state_dirs()
        except OSError as exc:
            raise deck_access_error(exc, "create the deck's state directories") from None
        self.source.refresh()
        self.redactor = Redactor.for_spec(self.source.current.spec if self.source.current else None, self.environ)
        store = open_store(self.deck, redactor=self.redactor)
        try:
            store.check_history()  # an empty log beside earlier attempts: refuse to run everything again
        except BaseException:
            store.close()
            raise
        store.unseen = []  # what a commit folds of others' records reaches _absorb
        self._store = store
        self.notifier = Notifier(str(self.deck.root), self.environ, self.redactor,
                                 raised_path=self.deck.state_dir / "alerts-raised.json")
        loop = asyncio.get_running_loop()
        self.notifier.wake = lambda: loop.call_soon_threadsafe(self.wake.set)
        self.running_ids = {job for job, st in store.board.jobs.items() if st.status == Status.RUNNING}
        self._revoked_due = {job for job, st in store.board.jobs.items()
                             if st.status != Status.RUNNING and st.attempt is not None and st.attempt.outcome is None}
        self._checkpoint_seq, self._checkpoint_at = store.log.seq, self.clock()
        if store.chain_warning:
            self.report({"type": "chain_warning", "message": store.chain_warning})
        self._apply_spec()
        if self.spec is not None and self.spec.executors:
            self._stop_left_on_cluster(list(store.board.jobs))
        self.heartbeat = HeartbeatWriter(self.deck.runners_dir, self.runner_id, self.capacity.parallel)
        self.containment = Containment.detect(self.environ.get("JOBDECK_BOUNDARY", "auto"))
        started = {"type": "runner_started", "runner": self.runner_id, "parallel": self.capacity.parallel,
                   "boundary": self.containment.kind}
        if self.containment.why:
            started["boundary_why"] = self.containment.why
        self.report(started)
        self._tell_plain_secrets()
        self.notifier.started(self.clock())

    def _tell_plain_secrets(self) -> None:
        """Say once which well-known credential variables hold a plain word (left unredacted), and which
        referenced secrets do (redacted wherever it appears): state/redact.py. Names only, never values."""
        referenced = referenced_env(self.spec) if self.spec is not None else set()
        found = [("well_known_plain_word", plain_well_known(self.environ, referenced))]
        if self.spec is not None:
            found.append(("secret_plain_word", plain_words(self.spec, self.environ)))
            found.append(("api_key_plain_word", plain_api_keys(self.spec, self.environ)))
        for kind, plain in found:
            names = [name for name in plain if name not in self._told_plain]
            if names:
                self._told_plain.update(names)
                self.report({"type": kind, "names": names})

    def _report(self, record: Mapping[str, Any]) -> None:
        self._printout(record)
        if self.notifier is not None:
            self.notifier.seen(record)

    def _notify(self, now: float) -> None:
        """Alerts and pings for what this turn saw (queued for the senders' threads); record failed sends."""
        notifier = self.notifier
        if notifier is None:
            return
        if notifier.active:
            notifier.turn(self.spec, self.store.board, now)
        for problem in notifier.problems:
            self.report({"type": "notify_error", "message": problem})
        notifier.problems.clear()
        for failure in notifier.failures():
            self.report({"type": "notify_failed", **failure})
            job = failure.get("job")
            if job is not None and self.spec is not None and self.spec.job(job) is not None:
                self.progress.append({"type": EventType.PROGRESS, "job": job, "what": "notify_failed",
                                      "target": failure["target"], "reason": failure["message"]})

    def _write_metrics(self, now: float, *, force: bool = False) -> asyncio.Future[None] | None:
        """With ``metrics.textfile``, rewrite it every ``metrics.every`` seconds, on a thread (runner/metrics.py)."""
        spec = self.spec
        if spec is None or spec.metrics.textfile is None:
            self._metrics = None
            return None
        path = textfile_path(self.deck.root, spec.metrics.textfile)
        writer = self._metrics
        if writer is None or writer.path != path or writer.every != spec.metrics.every:
            # the deadline counters start from the stats totals (sized by the jobs), then fold what the log gains
            writer = self._metrics = TextfileWriter(path, spec.metrics.every, deck=self.deck)
        if writer.pending is not None or not (force or now >= writer.due):
            return None
        writer.due = now + writer.every
        beats = {self.runner_id: self.heartbeat.last} if self.heartbeat is not None and self.heartbeat.last else {}
        figures = metrics_snapshot(spec, self.store.board, beats)
        written = asyncio.get_running_loop().run_in_executor(None, writer.write, figures)

        def done(future: asyncio.Future[None]) -> None:
            writer.pending = None
            error = None if future.cancelled() else future.exception()
            message = f"{path}: {getattr(error, 'strerror', None) or error}" if error is not None else None
            if isinstance(error, FileNotFoundError) and not path.parent.is_dir():  # not made for it: say which
                message = f"{path}: its directory {path.parent} does not exist (create it, or change metrics.textfile)"
            if message is not None and message != writer.error:
                self.report({"type": "metrics_error", "message": message})
            writer.error = message

        writer.pending = written
        written.add_done_callback(done)
        return written

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()
        if self._watcher is not None:
            self._watcher.stop()
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.containment is not None:
            self.containment.close()
        if self._store is not None:
            if self.log_lost is None:
                write_quietly(self._store.write_snapshot)  # only a cache: rebuilt from the log
            self._store.close()

    def _apply_spec(self) -> None:
        """Adopt the newest good spec; report a bad one once."""
        error = self.source.error
        if error is not None and str(error) != self.spec_error_reported:
            self.spec_error_reported = str(error)
            self.report({"type": "spec_error", "message": str(error),
                         "keeping": "keeping the last good spec" if self.source.current else
                         "starting nothing until it is valid"})
        if error is None and self.spec_error_reported is not None:
            self.spec_error_reported = None
            self.report({"type": "spec_ok"})
        current = self.source.current.spec if self.source.current else None
        if current is not None and current is not self.spec:
            if self.spec is not None:  # a reload: the jobs it adds enter the deck now (a claim says so, as `ready`)
                before, now = self.spec.by_id, self.clock()
                self.seen_from = {job.id: self.seen_from.get(job.id, now) for job in current.jobs
                                  if job.id in self.seen_from or job.id not in before}
            self.spec = current
            assert self.source.current is not None
            mark_valid(self.deck, self.source.current)  # for the commands and the cockpit
            # a job added while the runner is up may reference new secrets
            self.redactor = Redactor.for_spec(current, self.environ)
            self.store.redactor = self.redactor
            if self.heartbeat is not None:  # (at start, said after the runner's first line)
                self._tell_plain_secrets()
            if self.notifier is not None:
                self.notifier.configure(current, self.redactor)
            self.scheduled = [job for job in current.jobs if job.schedule is not None]
            self.capacity.parallel = self.parallel_override or current.limits.parallel
            if self.heartbeat is not None:  # what the cockpit's header and `status` show as this runner's slots
                self.heartbeat.parallel = self.capacity.parallel
            self.deciding.reset(current, self.store.board, self.index)
            self.index.reset(current)
            self._recount()
            self._inbox_due = True
            if self._watcher is not None:  # the inboxes to watch may have changed
                self._watcher.stop()
                self._start_watcher()

    def _recount(self) -> None:
        used = Capacity(self.capacity.parallel)
        spec = self.spec
        for job_id in self.running_ids:
            job = spec.job(job_id) if spec else None
            if spec is not None and job is not None:
                used.take(job, spec, own=job_id in self.claims or job_id in self.orphans)
        self.capacity.used, self.capacity.mine = used.used, used.mine

    # -- one turn ---------------------------------------------------------------------

    async def turn(self) -> float | None:
        """One pass: record ends, fire schedules and triggers, recover orphans, claim.

        Returns the time of the next timer (epoch seconds) or None.
        """
        now = self.clock()
        if self.source.refresh():
            self._apply_spec()
        self._absorb(self.store.refresh(), foreign=True)
        self._cancel_revoked()
        spec = self.spec
        if spec is not None and not self.writes.paused(now):
            try:
                self._fire_schedules(spec, now)
                self._fire_inbox(spec)
                self._recover_orphans(now)
                self._end_revoked(now)
            except OSError as exc:  # nothing was stored; the board was re-read
                self.writes.failed(exc, now)
        self._say_hold()
        self._ask_scorer(now)
        if not self.writes.paused(now):
            if self.spec is not None:  # leaving live lifts its holds: a record says so, and which
                self.progress.extend(self.deciding.mode_taken(self.store.board, self.spec.decide.mode))
            self.progress.extend(self.deciding.listing(self.store.board))  # jobs whose wait starts now
            # deadlines at risk or missed, waits past max_wait: stored by _settle, just below
            self.progress.extend(self.deciding.watch(self.store.board, now, self.capacity, self.spec))
        await self._settle(now)
        if self.heartbeat is not None:
            self.heartbeat.beat(sorted(self.claims), now, notes=self.notes)
        self._notify(now)
        self._write_metrics(now)
        self._checkpoint(now)
        self._collect_garbage(now)
        self._rotate(now)
        return self._next_timer(now)

    def _rotate(self, now: float) -> None:
        """Close the live log as a segment once it passes the segment size (a quiet moment: all flushed)."""
        store = self.store
        if store.log.offset < self._segment_bytes or store.log.pending or now < self._rotate_after:
            return
        try:
            with store.lock:  # re-entrant: rotate's own catch-up then finds nothing left to fold
                self._absorb(store.refresh(), foreign=True)  # another process's records since this turn's refresh
                rotation = store.rotate()
            if rotation.closed is not None:
                write_quietly(store.write_snapshot)  # readers resume in the new live file
                self.report({"type": "log_rotated", "closed": rotation.closed, "first": rotation.first})
                self._checkpoint_seq, self._checkpoint_at = store.log.seq, now
        except OSError as exc:  # nothing changed that a reader could see; try again later
            self._rotate_after = now + 60.0
            self.report({"type": "log_rotate_failed", "message": str(exc)})

    def _checkpoint(self, now: float) -> None:
        """Rewrite board.json every CHECKPOINT_EVENTS records or CHECKPOINT_SECONDS, so no reader replays more.

        A state's size is bounded (ATTEMPTS_KEPT attempts per job), so this costs the
        same whatever the history; it is only a cache, and a failed write is retried later.
        """
        behind = self.store.log.seq - self._checkpoint_seq
        if behind <= 0 or (behind < CHECKPOINT_EVENTS and now - self._checkpoint_at < CHECKPOINT_SECONDS):
            return
        write_quietly(self.store.write_snapshot)
        self._checkpoint_seq, self._checkpoint_at = self.store.log.seq, now

    def _collect_garbage(self, now: float) -> None:
        """With ``retention.auto``, start a gc on a thread, at most every GC_INTERVAL, when nothing waits to be recorded."""
        spec = self.spec
        if (spec is None or not spec.retention.auto or self.once or self.stopping or now < self._gc_due
                or self._gc is not None or self.finished or self.progress):
            return
        self._gc_due = now + GC_INTERVAL
        self._gc = asyncio.ensure_future(asyncio.to_thread(self._gc_thread, spec, now))
        self._gc.add_done_callback(self._gc_ended)

    def _gc_thread(self, spec: Spec, now: float) -> GcReport:
        store = open_store(self.deck)  # a lock descriptor of its own: flock does not exclude its own descriptor
        with store:
            return collect(self.deck, store, spec, now, by=self.runner_id, via="runner")

    def _gc_ended(self, future: asyncio.Future[GcReport]) -> None:
        """Print what the gc did: its ``gc`` record (folded as another process's), with what it could not remove."""
        self._gc = None
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self.report({"type": "gc_error", "message": str(error)})
            return
        report = future.result()
        if report.record is not None or report.removed or report.errors:
            said = dict(report.record) if report.record is not None else {
                "type": GC_TYPE, "removed": len(report.removed), "bytes_freed": report.bytes_freed}
            self.report({**said, "errors": [error.to_json() for error in report.errors]})
        if report.unrecorded is not None:
            self.report({"type": "gc_error", "message": str(report.unrecorded)})

    def _absorb(self, records: list[dict[str, Any]], *, foreign: bool = False) -> None:
        """Track which jobs changed (for readiness and capacity); ``foreign``: records others wrote.

        First, those a commit folded as it caught up under the lock (``Store.unseen``): they precede
        ``records`` in the log, and a job they made ready would otherwise wait for another change.
        """
        unseen = self.store.unseen
        if unseen:
            self.store.unseen = []
            self._absorb(unseen, foreign=True)
        changed = set()
        cancelled = set()
        board = self.store.board
        for record in records:
            job = record.get("job")
            if isinstance(job, str):
                changed.add(job)
                if record.get("type") == EventType.CANCELLED:
                    cancelled.add(job)
            elif record.get("type") == LISTED_TYPE:  # their wait starts: re-keyed from it
                changed.update(j for j in record.get("jobs", ()) if isinstance(j, str))
            if foreign:
                self._seen_foreign(record)
            else:
                self.report(record)
        if cancelled:
            self._stop_left_on_cluster(cancelled)
            self._revoked_due.update(cancelled)
        for job_id in changed:
            running = board.state(job_id).status == Status.RUNNING
            if running and job_id not in self.running_ids:
                self.running_ids.add(job_id)
            elif not running and job_id in self.running_ids:
                self.running_ids.discard(job_id)
        if changed:
            self.index.touch(changed)
            self._recount()

    def _seen_foreign(self, record: dict[str, Any]) -> None:
        """A record another process wrote: the notifier sees it, the printout what ``report_of_foreign`` keeps."""
        printed = report_of_foreign(record, self.runner_id)
        if printed is not None:
            self._printout(printed)
        if self.notifier is not None:
            self.notifier.seen(record, foreign=True)

    def _cancel_revoked(self) -> None:
        """Stop our attempts whose claim is no longer current (operator cancel)."""
        board = self.store.board
        for job_id, claimed in self.claims.items():
            state = board.state(job_id)
            task = self.tasks.get(job_id)
            if task is None or task.done() or job_id in self.cancel_why:
                continue
            if state.status != Status.RUNNING or state.token != claimed.token:
                self.cancel_why[job_id] = "cancelled"
                task.cancel()

    def _record_finished(self, now: float) -> list[Claimed]:
        """Seal the outcome and progress events of ended attempts (lock held, not flushed)."""
        if not self.finished and not self.progress:
            return []
        finished, self.finished = self.finished, []
        lost = [claimed for claimed, _ in finished if claimed.unstored]
        if lost:  # started early, and its claim was never stored: there is nothing to record it against
            unstored = {claimed.token for claimed in lost}
            finished = [(claimed, event) for claimed, event in finished if not claimed.unstored]
            self.progress = [event for event in self.progress if event.get("token") not in unstored]
        bodies = self.progress + [event for _, event in finished]
        self.progress = []
        for claimed, _ in finished:
            self.claims.pop(claimed.job_id, None)
            self.tasks.pop(claimed.job_id, None)
            self.cancel_why.pop(claimed.job_id, None)
        for claimed in lost:
            if self.claims.get(claimed.job_id) is claimed:
                self.claims.pop(claimed.job_id, None)
                self.tasks.pop(claimed.job_id, None)
                self.cancel_why.pop(claimed.job_id, None)
            claimed.release()
        records, refused = self.store.commit(bodies, now=now, strict=False, flush=False)
        for rejected in refused:
            self.report({"type": "refused", "job": rejected.body.get("job"), "message": str(rejected.error)})
        self._absorb(records)
        return [claimed for claimed, _ in finished]

    def _fire_schedules(self, spec: Spec, now: float) -> None:
        if not self.scheduled:
            return
        events = schedule_events(self.scheduled, spec.dependencies, self.store.board,
                                 now, self.runner_id)
        if events:
            self._commit(events, now)

    def _fire_inbox(self, spec: Spec) -> None:
        if not self._inbox_due and not self._poll and not self.inbox.unsettled():
            return
        self._inbox_due = False
        board = self.store.board
        found = self.inbox.scan(spec, board.files)
        self._inbox_waiting = set()
        if not found:
            return
        events, deferred = inbox_events(found, spec.dependencies, board, self.runner_id)
        self._inbox_waiting = {job.id for job, key, _ in found if key in deferred}
        if deferred:
            self._inbox_due = True  # try again when the open cycle ends
        if events:
            self._commit(events, self.clock())
            self.inbox.forget({key for _, key, _ in found if key not in deferred})

    def _recover_orphans(self, now: float) -> None:
        foreign = self.running_ids - set(self.claims)
        if not foreign or now < self._next_orphan_check:
            if self.orphans and not foreign:
                self.orphans.clear()
                self._recount()
            return
        self._next_orphan_check = now + ORPHAN_CHECK
        self._stop_abandoned(foreign)
        self._stop_overdue(foreign, now)
        self._count_orphans(foreign, now)

        taken: list[Claimed] = []

        def decide(board: Board) -> list[dict[str, Any]]:
            ids = {j for j, st in board.jobs.items() if st.status == Status.RUNNING}
            return orphaned_events(self.deck, self.spec, board, ids, set(self.claims), now, busy=set(self._abandoned),
                                   take_over=partial(self._take_over, taken), stopped=self._overdue)

        records, _ = self.store.transact(decide, now=now, strict=False)
        self._absorb(records)
        self.recovered.update(record["job"] for record in records if record.get("type") in (
            EventType.SUCCEEDED, EventType.FAILED, EventType.INTERRUPTED))
        self._follow_taken(taken)
        board = self.store.board
        self._overdue = {directory: event for directory, event in self._overdue.items()
                         if board.state(event["job"]).token == event["token"]}  # still to record

    def _count_orphans(self, foreign: set[str], now: float) -> None:
        """Count the attempts whose runner is gone against our ``parallel``: their processes still run
        (a leader that outlived its runner keeps its attempt), and no live runner counts them otherwise."""
        board = self.store.board
        live = {beat.runner for beat in read_heartbeats(self.deck.runners_dir) if beat.alive(now)}
        orphans = set()
        for job_id in foreign & self.running_ids:
            attempt = board.state(job_id).attempt
            if attempt is not None and attempt.runner not in live:
                orphans.add(job_id)
        if orphans != self.orphans:
            self.orphans = orphans
            self._recount()

    def _stop_left_on_cluster(self, job_ids: Iterable[str]) -> None:
        """Cancel the batch jobs of attempts cancelled while no runner followed them (``left_on_cluster``)."""
        spec = self.spec
        for job_id, directory, record in left_on_cluster(self.deck, spec, self.store.board, job_ids,
                                                          set(self.claims)):
            if directory in self._cancelling or spec is None:
                continue
            engine = engine_for(record["executor"], spec.executors[record["executor"]], self.environ)
            self._cancelling[directory] = asyncio.get_running_loop().create_task(
                self._cancel_left(engine, job_id, directory, str(record["id"])))

    async def _cancel_left(self, engine: Engine, job_id: str, directory: Path, remote_id: str) -> None:
        try:
            await engine.cancel(remote_id)
            clean_up(directory)
            self.report({"type": "remote_cancelled", "job": job_id, "executor": engine.name, "remote_id": remote_id})
        except EngineUnreachable as exc:  # the next runner start, or the next cancel, tries again
            self.report({"type": "remote_cancel_failed", "job": job_id, "executor": engine.name,
                         "remote_id": remote_id, "message": str(exc)})
        finally:
            self._cancelling.pop(directory, None)

    def _take_over(self, taken: list[Claimed], job_id: str, state: Any, record: dict[str, Any]) -> bool:
        """A dead runner's remote attempt (lock held): take it over, or leave it be; False: resolve it as recovery does."""
        if not can_take_over(self.spec, job_id, record):
            return False  # its job or executor is gone from jobs.json: interrupted, as a local attempt is
        if self.stopping:
            return True  # the next runner takes it
        claimed = take_over(self.deck, job_id, state, record)
        if claimed is not None:  # (None: another runner holds it)
            taken.append(claimed)
        return True

    def _follow_taken(self, taken: list[Claimed]) -> None:
        """Run the attempts ``_take_over`` took as this runner's own, from where their jobs are now."""
        spec = self.spec
        if not taken or spec is None:
            return
        loop = asyncio.get_running_loop()
        for claimed in taken:
            self.claims[claimed.job_id] = claimed
            self.running_ids.add(claimed.job_id)
            self.ran.add(claimed.job_id)
            record = claimed.resume or {}
            self.report({"type": "taken_over", "job": claimed.job_id, "attempt": claimed.attempt,
                         "executor": record.get("executor"), "remote_id": record.get("id")})
            self.tasks[claimed.job_id] = loop.create_task(self._attempt(spec.by_id[claimed.job_id], claimed))
        self._recount()

    def _stop_abandoned(self, foreign: set[str]) -> None:
        """Stop what dead runners' attempts left behind once their leaders are gone (then recovery resolves them)."""
        self._stop_left(abandoned_boundaries(self.deck, self.store.board, foreign), "leftovers")

    def _stop_overdue(self, foreign: set[str], now: float) -> None:
        """Stop dead runners' attempts that run past their job's hard or idle timeout; recovery then records
        the timeout as their runner would have (``_overdue``). The next check comes by the next deadline."""
        found, next_due = overdue_orphans(self.deck, self.spec, self.store.board, foreign, set(self.claims), now,
                                          busy=set(self._abandoned))
        for overdue in found:
            self._overdue[overdue.left.directory] = overdue.event
        self._stop_left([overdue.left for overdue in found], "overdue_left")
        if next_due is not None:
            self._next_orphan_check = min(self._next_orphan_check, next_due)

    def _end_revoked(self, now: float) -> None:
        """Stop and end the attempts cancelled while their runner was dead: nothing else ever would (lock taken)."""
        if not self._revoked_due:
            return
        due, self._revoked_due = self._revoked_due, set()

        def decide(board: Board) -> list[dict[str, Any]]:
            found, events = revoked_left(self.deck, board, due, set(self.claims), busy=set(self._abandoned))
            self._stop_left(found, "revoked_left")
            return events

        records, _ = self.store.transact(decide, now=now, strict=False)
        self._absorb(records)

    def _stop_left(self, found: list[Abandoned], kind: str) -> None:
        for left in found:
            if left.directory in self._abandoned:
                continue
            job = self.spec.job(left.job_id) if self.spec is not None else None
            grace = job.timeout.grace if job is not None else self.grace
            self.report({"type": kind, "job": left.job_id, "attempt_dir": str(left.directory),
                         "processes": left.processes})
            self._abandoned[left.directory] = asyncio.get_running_loop().create_task(
                self._empty_abandoned(left.job_id, left.directory, left.boundary, grace))

    async def _empty_abandoned(self, job_id: str, directory: Path, boundary: Boundary, grace: float) -> None:
        try:
            await boundary.stop(grace)
            crash_point("orphan.stopped")  # (nothing of it runs now; its outcome, if it has one, is not yet recorded)
        finally:
            boundary.close()
            self._abandoned.pop(directory, None)
            self._next_orphan_check = 0.0  # resolve the attempt at the next turn
            self._revoked_due.add(job_id)  # (if it was cancelled: ended at the next turn)
            self.wake.set()

    async def _settle(self, now: float) -> None:
        """Record ended attempts and claim new ones: one lock hold, one fsync."""
        store = self.store
        claim_from = None if self.stopping else self.spec  # None: no claims this time
        if not self.finished and not self.progress and (claim_from is None or self.capacity.full):
            return
        if self.writes.paused(now):
            return  # the last write failed (disk full, read-only): wait before trying again
        with store.lock:
            self._absorb(store.refresh(), foreign=True)
            unflushed = (list(self.finished), list(self.progress))
            # The log's first batch never starts anything early: lost, it would leave an
            # empty log beside a used attempt directory, which reads as a lost history.
            fast = claim_from is not None and store.log.seq > 0
            ended = self._record_finished(now)
            sealed = self._choose_and_seal_claims(claim_from, now) if claim_from is not None else []
            claims = [record for record in sealed if record["type"] == EventType.CLAIMED]
            if claims:
                crash_point("claim.after_seal")
            prepared: list[tuple[Claimed, OSError | AttemptRefused | None]] = []
            early: list[Claimed] = []
            try:
                # While the batch's fsync runs on another thread, the claimed attempts'
                # directories and leases are made here, and then the event loop gets on
                # with other attempts. Nothing claimed starts before the fsync is done,
                # except an idempotent job's attempt (see ``_start_early``).
                flushing = store.start_flush()
                prepared = [self._prepare(record, claim_from) for record in claims]
                if flushing is not None:
                    if flushing.syncing is not None:
                        if fast and claim_from is not None:
                            early = self._start_early(prepared, claim_from, now)
                        try:
                            await asyncio.wrap_future(flushing.syncing)
                        except OSError:
                            pass  # finish_flush raises it, once it has cut the batch off and re-read the board
                        if early:
                            crash_point("claim.early_before_stored")
                    store.finish_flush(flushing)
            except OSError as exc:  # nothing of the batch was stored; the board was re-read
                for claimed, _ in prepared:
                    if claimed.unsynced:
                        self._unstore(claimed)
                    else:
                        claimed.release()
                self._keep_unrecorded(unflushed)
                self.writes.failed(exc, now)
                return
            except LogReplaced:  # nothing was written; the ended attempts' outcomes are in their result.json
                self._keep_unrecorded(unflushed)
                raise
            failing = self.writes.failing
            if claims:
                crash_point("claim.after_flush")
            if ended:
                crash_point("complete.after_flush")
            opened = early + [claimed for claimed, error in prepared
                              if not claimed.unsynced and self._adopt(claimed, error, now)]
            if opened:
                crash_point("claim.after_open")
            if failing and len(opened) == len(claims):  # the log and attempt directories are writable again
                self.writes.resumed()
        for claimed in ended:
            claimed.release()  # the outcome is durable: the attempt may be recovered by anyone
        if ended:
            crash_point("complete.after_release")
        for record in sealed:  # the claims and the decisions (a hold raises an alert)
            self.report(record)
        for claimed, _ in prepared:
            if claimed.moved_aside is not None:
                self.report({"type": "attempt_moved_aside", "job": claimed.job_id, "attempt": claimed.attempt,
                             "to": str(claimed.moved_aside)})
        if claim_from is not None:  # (else nothing was claimed or opened)
            for claimed in opened:
                if not claimed.unsynced:
                    job = claim_from.by_id[claimed.job_id]
                    self.tasks[claimed.job_id] = asyncio.get_running_loop().create_task(self._attempt(job, claimed))
            if self.stopping:  # a signal came while these claims were being recorded
                self._tell_stopping()

    def _start_early(self, prepared: list[tuple[Claimed, OSError | AttemptRefused | None]], spec: Spec,
                     now: float) -> list[Claimed]:
        """Start the attempts of idempotent jobs now, while their claims' fsync is still running (lock held).

        An idempotent job may be run again after a crash by definition, so its claim
        need not be durable before it starts: its attempt is started as soon as the
        claim is written and the attempt directory made, and the fsync (the same
        group commit) goes on meanwhile. Its outcome is recorded by a later settle,
        after this one has made the claim durable, so an outcome is never stored
        before its claim (the log is appended in order). If the claim is lost (power
        cut before the fsync), recovery finds it running and re-runs it, or, with no
        claim at all in the log, the job's next claim moves the used directory aside
        (``open_attempt``). If the fsync fails, the attempt is stopped and nothing of
        it is recorded (``_unstore``). Every other job keeps the rule: nothing
        claimed starts before its claim is durable.
        """
        early = []
        loop = asyncio.get_running_loop()
        for claimed, error in prepared:
            job = spec.by_id[claimed.job_id]
            if error is None and job.idempotent:
                claimed.unsynced = True
                self._adopt(claimed, None, now)
                self.tasks[claimed.job_id] = loop.create_task(self._attempt(job, claimed))
                early.append(claimed)
        return early

    def _unstore(self, claimed: Claimed) -> None:
        """An attempt started early whose claim the failed write did not store: stop it, record nothing of it."""
        claimed.unstored = True
        task = self.tasks.get(claimed.job_id)
        if task is not None and not task.done():
            self.cancel_why.setdefault(claimed.job_id, "its claim could not be stored")
            task.cancel()

    def _keep_unrecorded(self, unflushed: tuple[list[tuple[Claimed, dict[str, Any]]], list[dict[str, Any]]]) -> None:
        """Nothing of the batch was stored (the board was re-read): keep the ended attempts to retry.

        Their leases stay held, so no recovery marks them interrupted meanwhile; their
        outcomes are committed by the first settle that can write again.
        """
        finished, progress = unflushed
        self.finished = finished + self.finished
        self.progress = progress + self.progress
        for claimed, _ in finished:
            self.claims[claimed.job_id] = claimed

    def _resync(self) -> None:
        """After a failed write: running jobs, readiness and capacity as the re-read board has them."""
        store = self.store
        self.running_ids = {j for j, st in store.board.jobs.items() if st.status == Status.RUNNING}
        if self.spec is not None:
            self.index.reset(self.spec)
        self._recount()

    def _say_hold(self) -> None:
        """Report the operator's hold of the whole deck (and its release) once each."""
        held = self.store.board.held
        if (held is not None) != self._said_held:
            self._said_held = held is not None
            if held is not None:
                self.report({"type": "deck_held", "message": deck_hold_text(held)})
            else:
                self.report({"type": "deck_released"})

    def _ask_scorer(self, now: float) -> None:
        """Live mode with a scorer agent: put it a question if a job became ready it has not seen (off the loop)."""
        scoring = self.deciding.scoring
        if scoring is None or not scoring.active or self.stopping or self.spec is None:
            return
        self.index.update(self.store.board, now)
        scoring.look(self.index.ready, self.store.board, now, self.capacity.parallel)

    def _scored(self, event: dict[str, Any]) -> None:
        """The scorer answered (on the loop): record its event with the next batch, re-key by the order in force."""
        self.progress.append(event)
        self.index.rekey(self.index.keyer)
        self.wake.set()

    def _choose_and_seal_claims(self, spec: Spec, now: float) -> list[dict[str, Any]]:
        """This turn's claims and `decided` events, sealed (lock held, not flushed)."""
        if self.capacity.full:
            return []
        board = self.store.board
        if board.held is not None:  # the operator holds the deck: nothing new starts
            return []
        self.index.update(board, now)
        if not self.index.ready:
            return []
        # (an attempt of ours whose claim a failed write lost may still be stopping: not twice at once)
        picked = pick(self.index, self.capacity, self.deciding, spec, board, now, self.running_ids, self.claims)
        self._note_cooling(picked.decided, board)
        if not picked.chosen and not picked.decided:
            return []
        bodies = picked.decided + [self._claim(job, board) for job in picked.chosen]
        records, refused = self.store.commit(bodies, now=now, strict=False, flush=False)
        for rejected in refused:
            if rejected.body["type"] == EventType.CLAIMED:
                self.capacity.give_back(spec.by_id[rejected.body["job"]], spec)
        return records

    def _note_cooling(self, decided: list[dict[str, Any]], board: Board) -> None:
        """Keep the turn's deferrals for a cooldown (told now, or told before and kept by the board)."""
        told = {event["job"]: event.get("needs") for event in decided if event.get("action") == "defer"}
        for job_id, until in self.deciding.deferred.items():
            kept = board.kept_back.get(job_id)
            needs = told[job_id] if job_id in told else kept.needs if kept is not None else None
            if needs == "cooldown":
                self.cooling[job_id] = until

    def _claim(self, job: Job, board: Board) -> dict[str, Any]:
        """The claim of ``job``'s next attempt by this runner; it says when the job became ready (the waits of
        `stats` and `decisions --report` count from there): a job a reloaded jobs.json added, not before then."""
        state = board.state(job.id)
        ready, seen = ready_since(state, job.depends_on, board), self.seen_from.get(job.id)
        ready = seen if seen is not None and (ready is None or seen > ready) else ready
        return {"type": EventType.CLAIMED, "job": job.id, "attempt": state.next_attempt, "runner": self.runner_id,
                "workspace": job.workspace, "pid": os.getpid(),
                **({"route": self.deciding.routes[job.id]} if job.id in self.deciding.routes else {}),
                **({"ready": ready} if ready is not None else {})}

    def _prepare(self, record: dict[str, Any], spec: Spec | None = None
                 ) -> tuple[Claimed, OSError | AttemptRefused | None]:
        """Create the attempt directory and take the lease for a sealed claim (lock held).

        Runs while the claim's fsync is in flight; returns the error, if any,
        instead of raising it, for ``_adopt`` to record once the claim is durable.
        """
        job_id, workspace, n = record["job"], record["workspace"], record["attempt"]
        claimed = Claimed(job_id, n, record["seq"], workspace, self.store.board.state(job_id).tries,
                          self.deck.attempt_dir_as_named(workspace, job_id, n),  # until open_attempt resolves it
                          -1, record["ts"], route=record.get("route"))
        job = spec.job(job_id) if spec is not None else None
        set_aside = str(record["seq"]) if job is not None and job.idempotent else None
        try:
            claimed.directory, claimed.dir_fd, claimed.lease_fd, claimed.output_fd, claimed.moved_aside = \
                open_attempt(self.deck, job_id, workspace, n, set_aside)
        except (OSError, AttemptRefused) as exc:
            claimed.release()
            return claimed, exc
        return claimed, None

    def _adopt(self, claimed: Claimed, error: OSError | AttemptRefused | None, now: float) -> bool:
        """Make a durable claim ours to run (lock held).

        If its attempt could not be set up (disk full, read-only deck) it never
        starts: it is recorded as a transient failure that is retried, since
        nothing ran. If its directory must not be written into (another
        attempt's files are there), it fails for the operator to look at.
        """
        job_id = claimed.job_id
        self.claims[job_id] = claimed
        self.running_ids.add(job_id)
        if isinstance(error, AttemptRefused):
            self.finished.append((claimed, refused_event(claimed, error)))
            self.ran.add(job_id)  # it ends failed: `run --once` says so
            return False
        if error is not None:
            state = self.store.board.state(job_id)
            self.finished.append((claimed, not_started_event(claimed, state, now, error)))
            self.writes.failed(error, now)  # the log took the claim but the deck refuses files: pause claiming
            return False
        self.ran.add(job_id)
        self.attempts_started += 1
        self.index.touch([job_id])
        return True

    def _commit(self, events: list[dict[str, Any]], now: float) -> None:
        records, refused = self.store.commit(events, now=now, strict=False)
        for rejected in refused:
            self.report({"type": "refused", "job": rejected.body.get("job"), "message": str(rejected.error)})
        self._absorb(records)

    # -- attempts ---------------------------------------------------------------------

    async def _attempt(self, job: Job, claimed: Claimed) -> None:
        def emit(event: Mapping[str, Any]) -> None:
            if not claimed.unstored:
                self.progress.append({**event, "job": job.id, "token": claimed.token})

        try:
            revoked = self._revoked(claimed)
        except LogReplaced as exc:
            # The claim is durable in the log that was moved away; the runner is stopping.
            # Nothing starts: result.json says so, for recovery once the log is restored.
            self._lose_log(exc)
            event = not_started_event(claimed, self.store.board.state(job.id), self.clock(), exc)  # type: ignore[union-attr]
            write_quietly(lambda: write_result(claimed, event, 0, self.clock()))
            self.finished.append((claimed, event))
            self.wake.set()
            return
        if revoked:
            # The claim was revoked between the settle that made it and this task's first
            # step (e.g. the runner was stopped and the operator cancelled and retried the
            # job meanwhile): fencing would refuse our events, but only not starting the
            # program prevents a stale second run.
            event = {"type": EventType.FAILED, "job": job.id, "token": claimed.token, "reason": "cancelled"}
            self.finished.append((claimed, event))
            self.wake.set()
            return
        if self.containment is not None:
            claimed.boundary = self.containment.open(claimed.directory, claimed.lease_fd)
        try:
            if self.grace_over:  # claimed in the turn the stop arrived, after its grace ran out
                self.cancel_why.setdefault(job.id, "runner stopped before the attempt could start")
                raise asyncio.CancelledError
            spec = self.spec
            assert spec is not None, "jobs are claimed only from a spec, and the runner never drops its spec"
            event = await run_attempt(self.deck, spec, job, claimed, self.store.board,
                                      self.redactor, emit, self.environ, self.clock,
                                      note=partial(self._note, job.id), detach=partial(self._detaching, job.id))
        except Detached:  # its job runs on on the batch system: the next runner takes it over
            self._let_go(claimed)
            return
        except asyncio.CancelledError:
            why = self.cancel_why.get(job.id, "runner stopped")
            if why == "cancelled":
                event = {"type": EventType.FAILED, "job": job.id, "token": claimed.token, "reason": "cancelled"}
            else:
                event = interrupted_event(job, self.store.board.state(job.id), claimed.token,
                                          self.clock(), why)
            write_quietly(lambda: write_result(claimed, event, 0, self.clock()))
        except Exception as exc:  # a bug in jobdeck, not the job: record it, keep the runner alive
            detail = "".join(traceback.format_exception(exc))

            def log_detail() -> None:
                fd = open_in(claimed.dir_fd if claimed.dir_fd >= 0 else claimed.directory, STDERR,
                             os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                with open(fd, "a") as log:
                    log.write(self.redactor.text(detail))

            write_quietly(log_detail)
            event = {"type": EventType.FAILED, "job": job.id, "token": claimed.token, "reason": "runner_error",
                     "message": self.redactor.text(f"{type(exc).__name__}: {exc}")}
            write_quietly(lambda: write_result(claimed, event, 0, self.clock()))
        finally:
            if claimed.boundary is not None:
                claimed.boundary.close()  # stopped by run_attempt, unless it never got to start anything
        self.finished.append((claimed, event))
        self.wake.set()

    def _note(self, job_id: str, text: str | None) -> None:
        """Where an attempt is (e.g. queued on a cluster): on its card, through the heartbeat, soon."""
        if self.notes.get(job_id) == text:
            return
        if text is None:
            del self.notes[job_id]
        else:
            self.notes[job_id] = text
        if self.heartbeat is not None:
            self.heartbeat.last = 0.0  # beat at the next turn
        self.wake.set()

    def _detaching(self, job_id: str) -> bool:
        """Whether a cancelled remote attempt is left running: the runner stops, the operator did not cancel it."""
        return self.stopping and self.cancel_why.get(job_id, "runner stopped").startswith("runner stopped")

    def _let_go(self, claimed: Claimed) -> None:
        """Drop a detached attempt: no outcome, its lease free, its job still running where it was submitted."""
        self.claims.pop(claimed.job_id, None)
        self.tasks.pop(claimed.job_id, None)
        self.cancel_why.pop(claimed.job_id, None)
        self.notes.pop(claimed.job_id, None)
        self.report({"type": "left_running", "job": claimed.job_id, "attempt": claimed.attempt})
        claimed.release()
        self.wake.set()

    def _revoked(self, claimed: Claimed) -> bool:
        """Whether the log, read now, no longer shows ``claimed`` as the job's current attempt."""
        store = self.store
        self._absorb(store.refresh(), foreign=True)
        state = store.board.state(claimed.job_id)
        return state.status != Status.RUNNING or state.token != claimed.token

    def _lose_log(self, exc: LogReplaced) -> None:
        """The log is not the file this runner has been appending to: write nothing more, stop claiming."""
        if self.log_lost is None:
            self.log_lost = LogReplaced(exc.path, exc.how, holder="the runner")
            self.report({"type": "log_replaced", "message": str(self.log_lost)})
        self.stopping = True

    # -- waiting ------------------------------------------------------------------------

    def _next_timer(self, now: float) -> float | None:
        times = []
        wait = self.index.next_wait()
        if wait is not None and not self.capacity.full and self.store.board.held is None:
            # (with no slot free, or the deck held, a retry's time or a rank's change starts nothing: a child's
            # exit or the release wakes the loop, whose turn takes them; a timer gone by would spin the loop)
            times.append(wait)
        if self.spec is not None:
            board = self.store.board
            scheduled = self.scheduled
            if scheduled:
                nxt = cron.next_due(scheduled, {j.id: board.state(j.id).last_fire for j in scheduled}, now)
                if nxt is not None:
                    times.append(nxt)
        if self.running_ids - set(self.claims):
            times.append(self._next_orphan_check)
        if self.inbox.unsettled():
            times.append(now + 0.2)
        if self.writes.failing:
            times.append(self.writes.retry_at)
        if self._poll:
            times.append(now + 1.0)
        if self.deciding.next_look is not None:
            times.append(self.deciding.next_look)
        if self.deciding.risk_look is not None:  # (with --once too: a deadline passing while its job runs)
            times.append(self.deciding.risk_look)
        if self.heartbeat is not None and not self.once:
            times.append(self.heartbeat.last + HEARTBEAT_INTERVAL)
        if self._metrics is not None and not self.once:
            times.append(self._metrics.due)
        summary = self.notifier.next_due() if self.notifier is not None and not self.once else None
        if summary is not None:  # a throttled rule's summary goes out when its window ends
            times.append(summary)
        return min(times) if times else None

    def stuck(self, now: float) -> bool:
        """The deck refuses writes and nothing of ours runs: a run that should end can only give up.

        Outcomes waiting to be recorded get ONCE_PATIENCE seconds from the first failed
        write; after that their leases are let go with the process, and recovery records
        them from result.json.
        """
        if not self.writes.failing or any(not task.done() for task in self.tasks.values()):
            return False
        return not (self.finished or self.progress) or now - self.writes.since >= ONCE_PATIENCE

    def idle(self, now: float) -> bool:
        """Nothing running or being stopped, nothing to record, nothing ready, no retry of ours due within
        ONCE_RETRY_WAIT (a provider's Retry-After of 15 minutes held a `run --once` from cron that long)."""
        if self.tasks or self._abandoned or self.finished or self.progress or self.inbox.unsettled():
            return False
        board = self.store.board
        self.index.update(board, now)
        if self.index.ready - self.deciding.refused and not self.stopping and board.held is None:
            return False
        for job_id in self.ran:
            state = board.state(job_id)
            if state.status == Status.BACKLOG and state.not_before is not None \
                    and state.not_before - now <= ONCE_RETRY_WAIT:
                return False
        if any(until - now <= ONCE_RETRY_WAIT for until in self.waiting_for_cooldown(now).values()):
            return False  # a cooldown ending soon is waited for as a retry of ours is
        if self._inbox_waiting and not self.stopping and self.spec is not None:
            for root in self._inbox_waiting:  # a deferred inbox file can fire now
                targets = downstream([root], self.spec.dependencies)
                if not trigger_pending(board.state(root)) and \
                        not any(board.state(t).status == Status.RUNNING for t in targets):
                    return False
        return True

    def waiting_for_cooldown(self, now: float) -> dict[str, float]:
        """The backlog jobs this runner deferred until every model they name is done cooling, and when that is."""
        board = self.store.board
        return {job_id: until for job_id, until in self.cooling.items()
                if until > now and board.state(job_id).status == Status.BACKLOG}

    def _start_watcher(self) -> None:
        inboxes = []
        if self.spec is not None:
            for workspace in sorted({job.workspace for job in self.spec.jobs if job.trigger}):
                try:
                    inbox = self.deck.inbox_dir(workspace)
                except AttemptRefused:  # its workspace leads out of the deck: not watched
                    continue
                inbox.mkdir(mode=0o700, parents=True, exist_ok=True)
                inboxes.append(inbox)
        self._watcher = DeckWatcher(asyncio.get_running_loop(), self.deck.root, self.deck.state_dir,
                                    inboxes, self._changed, self._watch_failed)
        self._watcher.start()

    def _changed(self, inbox: bool) -> None:
        if inbox:
            self._inbox_due = True
        self.wake.set()

    def _watch_failed(self, record: dict[str, Any]) -> None:
        self.report(record)
        self._poll = True
        self._inbox_due = True
        self.wake.set()

    async def run(self) -> None:
        """Turn until stopped (or, with ``once``, until idle).

        The deck watcher starts the first time nothing happens for WATCH_AFTER
        seconds: while attempts end every few milliseconds, each turn re-reads
        what changed anyway, and a run of short jobs does not pay for starting
        it (importing watchfiles and anyio costs more than a hundred such jobs'
        turns). The turn after it starts sees whatever changed before.
        """
        self.start()
        loop = asyncio.get_running_loop()
        try:
            while True:
                self.wake.clear()
                try:
                    deadline = await self.turn()
                except LockTimeout as exc:
                    # Another process holds the deck lock too long (e.g. a stopped runner or
                    # editor). Every write starts by taking the lock, so nothing was changed:
                    # report it and try again rather than exit and orphan our attempts.
                    self.report({"type": "lock_timeout", "message": str(exc)})
                    deadline = self.clock() + 1.0
                except LogReplaced as exc:
                    # Appending to the moved file would split the chain of work, and reading the
                    # new one from our offset would fold garbage: stop, letting attempts finish.
                    self._lose_log(exc)
                    break
                except (OSError, DeckAccessError) as exc:  # the deck refused a read or write, e.g. of the lock
                    self.writes.failed(exc, self.clock())
                    deadline = self.writes.retry_at
                now = self.clock()
                if self.once and (self.idle(now) or self.stuck(now)):
                    break
                if self.stopping and not self.tasks and not self.finished:
                    break
                unwatched = self.watch and self._watcher is None and not self._poll
                timeout = None if deadline is None else max(0.0, deadline - now)
                if unwatched:
                    timeout = WATCH_AFTER if timeout is None else min(timeout, WATCH_AFTER)
                if timeout is None:
                    await self.wake.wait()
                    continue
                timed_out = False

                def ring() -> None:
                    nonlocal timed_out
                    timed_out = True
                    self.wake.set()

                timer = loop.call_later(timeout, ring)
                await self.wake.wait()
                timer.cancel()
                if unwatched and timed_out:
                    self._start_watcher()
        finally:
            await self.shutdown()
        if self.stopped_by is not None:  # a signal's: `run --once` and `run --job` end with their own summary
            self.report({"type": "runner_stopped", "runner": self.runner_id, "by": self.stopped_by,
                         "attempts": self.attempts_started})
        if self.log_lost is not None:
            raise self.log_lost

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop claiming; let attempts finish within the grace period, then stop them.

        With the log lost, their outcomes are left in their result.json files (and
        their leases dropped at exit) for recovery to record once the log is restored.
        """
        self.stopping = True
        grace = self.grace if grace is None else grace
        if self.tasks:
            _, pending = await asyncio.wait(list(self.tasks.values()), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._abandoned:  # leftovers of dead runners' attempts: SIGKILLed at the latest after their grace
            await asyncio.wait(list(self._abandoned.values()))
        if self._cancelling:  # scancel of batch jobs nobody follows: a client command each
            await asyncio.wait(list(self._cancelling.values()))
        if self.started and self.log_lost is None:
            try:
                await self._settle(self.clock())
            except LogReplaced as exc:
                self._lose_log(exc)
        if self.notifier is not None and self.notifier.active:  # a run's last alerts go out before it exits
            self.notifier.turn(self.spec, self.store.board, self.clock())
            self.notifier.flush(self.clock())
            await asyncio.to_thread(self.notifier.drain, NOTIFY_DRAIN)
            self._notify(self.clock())  # sends that failed become progress events, stored just below
        if self.started and self.log_lost is None:
            if self.progress:
                try:
                    await self._settle(self.clock())
                except LogReplaced as exc:
                    self._lose_log(exc)
            if self._metrics is not None:  # the figures a stopped runner leaves are its last ones
                if self._metrics.pending is not None:
                    await asyncio.wait([self._metrics.pending])
                final = self._write_metrics(self.clock(), force=True)
                if final is not None:
                    await asyncio.wait([final])
        self.close()

    def request_stop(self, by: str | None = None) -> None:
        """First signal: stop claiming, let running attempts finish within ``grace`` seconds, then stop them.

        Attempts on a batch system are let go at once: their jobs run on, for the next runner.
        ``by`` (a signal's name, or what else stopped it) is reported in a ``stopping`` record while attempts
        run, so the wait is not a silent one.
        """
        first = not self.stopping
        if first:
            self.stopped_by = by
            asyncio.get_running_loop().call_later(self.grace, self._end_grace)
        self.stopping = True
        spec = self.spec
        for job_id, task in self.tasks.items():
            job = spec.job(job_id) if spec is not None else None
            if job is not None and spec is not None and spec.executor_of(job) is not None:
                self.cancel_why.setdefault(job_id, "runner stopped")
                task.cancel()
        if first and by is not None:
            self._tell_stopping()
        self.wake.set()

    def _tell_stopping(self) -> None:
        """Report what the stopped runner waits for, once, as soon as an attempt of its runs: at the signal, or,
        when the signal came between claims' record and their attempts' start, as they start."""
        if self._stopping_told or self.stopped_by is None or self.grace_over:
            return
        running = self._still_running()
        if running:  # (with nothing running it stops at once: no wait to explain)
            self._stopping_told = True
            self.report({"type": "stopping", "by": self.stopped_by, "grace": self.grace, "running": running})

    def _still_running(self) -> int:
        """Attempts of ours not yet told to stop."""
        return sum(1 for job_id, task in self.tasks.items() if not task.done() and job_id not in self.cancel_why)

    def _end_grace(self) -> None:
        self.grace_over = True
        for job_id, task in self.tasks.items():
            self.cancel_why.setdefault(job_id, f"runner stopped; attempt past the {self.grace:g}s grace")
            task.cancel()
        self.wake.set()

    def cancel_all(self, by: str | None = None) -> None:
        """Second signal: stop every attempt now (``by``, a signal's name: reported in a ``stopping_now`` record)."""
        if by is not None:
            self.report({"type": "stopping_now", "by": by, "running": self._still_running()})
        self.stopping = True
        self.grace = 0.0
        self.grace_over = True
        for job_id, task in self.tasks.items():
            self.cancel_why.setdefault(job_id, "runner stopped")
            task.cancel()
        self.wake.set()


