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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jobdeck.agents.boundary import Boundary
from jobdeck.agents.containment import Containment
from jobdeck.runner import cron
from jobdeck.runner.attempt import Claimed, open_attempt
from jobdeck.runner.attempt_events import interrupted_event, not_started_event, write_result
from jobdeck.runner.attempt_run import run_attempt
from jobdeck.runner.capacity import Capacity
from jobdeck.runner.firing import inbox_events, schedule_events, trigger_pending
from jobdeck.runner.heartbeat import HeartbeatWriter
from jobdeck.runner.inbox import InboxScanner
from jobdeck.runner.recovery import abandoned_boundaries, orphaned_events
from jobdeck.runner.selection import ReadyIndex
from jobdeck.runner.watcher import DeckWatcher
from jobdeck.runner.write_pause import WritePause, write_quietly
from jobdeck.state.attempts import STDERR
from jobdeck.state.board import Board, Store, open_store
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.deck import Deck
from jobdeck.state.errors import LockTimeout
from jobdeck.state.graph import downstream
from jobdeck.state.heartbeat import INTERVAL as HEARTBEAT_INTERVAL
from jobdeck.state.loader import SpecSource
from jobdeck.state.machine import EventType, Status
from jobdeck.state.redact import Redactor
from jobdeck.state.views import is_ready

ORPHAN_CHECK = 2.0
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
        self.report = report or (lambda record: None)
        self.runner_id = runner_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        self.environ = dict(os.environ if environ is None else environ)
        self.grace = grace
        self.watch = watch
        self.source = source or SpecSource(deck.spec_path)
        self.index = ReadyIndex()
        self.index.only = only
        self.inbox = InboxScanner(deck)
        self.store: Store | None = None
        self.spec: Any = None
        self.scheduled: list[Any] = []
        self.capacity = Capacity(parallel or 1)
        self.claims: dict[str, Claimed] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.finished: list[tuple[Claimed, dict[str, Any]]] = []
        self.progress: list[dict[str, Any]] = []
        self.cancel_why: dict[str, str] = {}
        self.running_ids: set[str] = set()
        self.ran: set[str] = set()
        self.stopping = False
        self.wake = asyncio.Event()
        self.heartbeat: HeartbeatWriter | None = None
        self.spec_error_reported: str | None = None
        self._next_orphan_check = 0.0
        self.writes = WritePause(self.report, self._resync)
        self._inbox_waiting: set[str] = set()
        self._inbox_due = True
        self._watcher: DeckWatcher | None = None
        self._poll = False  # the watcher failed: look for changes on a timer instead
        self.containment: Containment | None = None
        self._abandoned: dict[Path, asyncio.Task[None]] = {}  # dead runners' attempts whose leftovers are being stopped

    # -- set-up and tear-down ---------------------------------------------------------

    def start(self) -> None:
        """Open the store, load the spec, start watching. Call inside the event loop."""
        import jobdeck.agents.registry  # noqa: F401  (pay for the agent modules before the first claim, not after it)
        import jobdeck.agents.shell  # noqa: F401

        self.deck.ensure_state_dirs()
        self.source.refresh()
        self.redactor = Redactor.for_spec(self.source.current.spec if self.source.current else None, self.environ)
        self.store = open_store(self.deck, redactor=self.redactor)
        self.running_ids = {job for job, st in self.store.board.jobs.items() if st.status == Status.RUNNING}
        self._apply_spec()
        self.heartbeat = HeartbeatWriter(self.deck.runners_dir, self.runner_id, self.capacity.parallel)
        self.containment = Containment.detect(self.environ.get("JOBDECK_BOUNDARY", "auto"))
        started = {"type": "runner_started", "runner": self.runner_id, "parallel": self.capacity.parallel,
                   "boundary": self.containment.kind}
        if self.containment.why:
            started["boundary_why"] = self.containment.why
        self.report(started)

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.containment is not None:
            self.containment.close()
        if self.store is not None:
            write_quietly(self.store.write_snapshot)  # only a cache: rebuilt from the log
            self.store.close()

    def _apply_spec(self) -> None:
        """Adopt the newest good spec; report a bad one once."""
        error = self.source.error
        if error is not None and str(error) != self.spec_error_reported:
            self.spec_error_reported = str(error)
            self.report({"type": "spec_error", "message": str(error),
                         "keeping": "last good spec" if self.source.current else "no spec yet"})
        if error is None:
            self.spec_error_reported = None
        current = self.source.current.spec if self.source.current else None
        if current is not None and current is not self.spec:
            self.spec = current
            # a job added while the runner is up may reference new secrets
            self.redactor = Redactor.for_spec(current, self.environ)
            self.store.redactor = self.redactor  # type: ignore[union-attr]
            self.scheduled = [job for job in current.jobs if job.schedule is not None]
            self.capacity.parallel = self.parallel_override or current.limits.parallel
            self.index.reset(current)
            self._recount()
            self._inbox_due = True
            if self._watcher is not None:  # the inboxes to watch may have changed
                self._watcher.stop()
                self._start_watcher()

    def _recount(self) -> None:
        used = Capacity(self.capacity.parallel)
        for job_id in self.running_ids:
            job = self.spec.job(job_id) if self.spec else None
            if job is not None:
                used.take(job, self.spec, own=job_id in self.claims)
        self.capacity.used, self.capacity.mine = used.used, len(self.claims)

    # -- one turn ---------------------------------------------------------------------

    async def turn(self) -> float | None:
        """One pass: record ends, fire schedules and triggers, recover orphans, claim.

        Returns the time of the next timer (epoch seconds) or None.
        """
        assert self.store is not None
        now = self.clock()
        if self.source.refresh():
            self._apply_spec()
        self._absorb(self.store.refresh())
        self._cancel_revoked()
        if self.spec is not None and not self.writes.paused(now):
            try:
                self._fire_schedules(now)
                self._fire_inbox()
                self._recover_orphans(now)
            except OSError as exc:  # nothing was stored; the board was re-read
                self.writes.failed(exc, now)
        await self._settle(now)
        if self.heartbeat is not None:
            self.heartbeat.beat(sorted(self.claims), now)
        return self._next_timer(now)

    def _absorb(self, records: list[dict[str, Any]]) -> None:
        """Track which jobs changed (for readiness and capacity)."""
        changed = set()
        board = self.store.board  # type: ignore[union-attr]
        for record in records:
            job = record.get("job")
            if isinstance(job, str):
                changed.add(job)
            self.report(record)
        for job_id in changed:
            running = board.state(job_id).status == Status.RUNNING
            if running and job_id not in self.running_ids:
                self.running_ids.add(job_id)
            elif not running and job_id in self.running_ids:
                self.running_ids.discard(job_id)
        if changed:
            self.index.touch(changed)
            self._recount()

    def _cancel_revoked(self) -> None:
        """Stop our attempts whose claim is no longer current (operator cancel)."""
        board = self.store.board  # type: ignore[union-attr]
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
        bodies = self.progress + [event for _, event in finished]
        self.progress = []
        for claimed, _ in finished:
            self.claims.pop(claimed.job_id, None)
            self.tasks.pop(claimed.job_id, None)
            self.cancel_why.pop(claimed.job_id, None)
        records, refused = self.store.commit(bodies, now=now, strict=False, flush=False)  # type: ignore[union-attr]
        for rejected in refused:
            self.report({"type": "refused", "job": rejected.body.get("job"), "message": str(rejected.error)})
        self._absorb(records)
        return [claimed for claimed, _ in finished]

    def _fire_schedules(self, now: float) -> None:
        if not self.scheduled:
            return
        events = schedule_events(self.scheduled, self.spec.dependencies, self.store.board,  # type: ignore[union-attr]
                                 now, self.runner_id)
        if events:
            self._commit(events, now)

    def _fire_inbox(self) -> None:
        if not self._inbox_due and not self._poll and not self.inbox.unsettled():
            return
        self._inbox_due = False
        board = self.store.board  # type: ignore[union-attr]
        found = self.inbox.scan(self.spec, board.files)
        self._inbox_waiting = set()
        if not found:
            return
        events, deferred = inbox_events(found, self.spec.dependencies, board, self.runner_id)
        self._inbox_waiting = {job.id for job, key, _ in found if key in deferred}
        if deferred:
            self._inbox_due = True  # try again when the open cycle ends
        if events:
            self._commit(events, self.clock())
            self.inbox.forget({key for _, key, _ in found if key not in deferred})

    def _recover_orphans(self, now: float) -> None:
        foreign = self.running_ids - set(self.claims)
        if not foreign or now < self._next_orphan_check:
            return
        self._next_orphan_check = now + ORPHAN_CHECK
        self._stop_abandoned(foreign)

        def decide(board: Board) -> list[dict[str, Any]]:
            ids = {j for j, st in board.jobs.items() if st.status == Status.RUNNING}
            return orphaned_events(self.deck, self.spec, board, ids, set(self.claims), now, busy=set(self._abandoned))

        records, _ = self.store.transact(decide, now=now, strict=False)  # type: ignore[union-attr]
        self._absorb(records)

    def _stop_abandoned(self, foreign: set[str]) -> None:
        """Stop what dead runners' attempts left behind once their leaders are gone (then recovery resolves them)."""
        for found in abandoned_boundaries(self.deck, self.store.board, foreign):  # type: ignore[union-attr]
            if found.directory in self._abandoned:
                continue
            job = self.spec.job(found.job_id) if self.spec is not None else None
            grace = job.timeout.grace if job is not None else self.grace
            self.report({"type": "leftovers", "job": found.job_id, "attempt_dir": str(found.directory),
                         "processes": found.processes})
            self._abandoned[found.directory] = asyncio.get_running_loop().create_task(
                self._empty_abandoned(found.directory, found.boundary, grace))

    async def _empty_abandoned(self, directory: Path, boundary: Boundary, grace: float) -> None:
        try:
            await boundary.stop(grace)
        finally:
            boundary.close()
            self._abandoned.pop(directory, None)
            self._next_orphan_check = 0.0  # resolve the attempt at the next turn
            self.wake.set()

    async def _settle(self, now: float) -> None:
        """Record ended attempts and claim new ones: one lock hold, one fsync."""
        store = self.store
        assert store is not None
        may_claim = self.spec is not None and not self.stopping
        if not self.finished and not self.progress and (not may_claim or self.capacity.full):
            return
        if self.writes.paused(now):
            return  # the last write failed (disk full, read-only): wait before trying again
        with store.lock:
            self._absorb(store.refresh())
            unflushed = (list(self.finished), list(self.progress))
            ended = self._record_finished(now)
            claims = self._choose_and_seal_claims(now) if may_claim else []
            if claims:
                crash_point("claim.after_seal")
            prepared: list[tuple[Claimed, OSError | None]] = []
            try:
                # While the batch's fsync runs on another thread, the claimed attempts'
                # directories and leases are made here, and then the event loop gets on
                # with other attempts. Nothing claimed starts before the fsync is done.
                flushing = store.start_flush()
                prepared = [self._prepare(record) for record in claims]
                if flushing is not None:
                    if flushing.syncing is not None:
                        await asyncio.wrap_future(flushing.syncing)
                    store.finish_flush(flushing)
            except OSError as exc:  # nothing of the batch was stored; the board was re-read
                for claimed, _ in prepared:
                    claimed.release()
                self._keep_unrecorded(unflushed)
                self.writes.failed(exc, now)
                return
            failing = self.writes.failing
            if claims:
                crash_point("claim.after_flush")
            if ended:
                crash_point("complete.after_flush")
            opened = [claimed for claimed, error in prepared if self._adopt(claimed, error, now)]
            if opened:
                crash_point("claim.after_open")
            if failing and len(opened) == len(claims):  # the log and attempt directories are writable again
                self.writes.resumed()
        for claimed in ended:
            claimed.release()  # the outcome is durable: the attempt may be recovered by anyone
        if ended:
            crash_point("complete.after_release")
        for record in claims:
            self.report(record)
        for claimed in opened:
            job = self.spec.job(claimed.job_id)
            self.tasks[claimed.job_id] = asyncio.get_running_loop().create_task(self._attempt(job, claimed))

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
        assert store is not None
        self.running_ids = {j for j, st in store.board.jobs.items() if st.status == Status.RUNNING}
        if self.spec is not None:
            self.index.reset(self.spec)
        self._recount()

    def _choose_and_seal_claims(self, now: float) -> list[dict[str, Any]]:
        if self.capacity.full:
            return []
        board = self.store.board  # type: ignore[union-attr]
        self.index.update(board, now)
        if not self.index.ready:
            return []
        spec = self.spec
        chosen: list[Any] = []

        def choose(job: Any) -> bool:
            if self.capacity.fits(job, spec) and is_ready(job, board.state(job.id), board, now):
                self.capacity.take(job, spec)
                chosen.append(job)
                return True
            return False

        self.index.take(choose, lambda: self.capacity.full)
        if not chosen:
            return []
        bodies = [{"type": EventType.CLAIMED, "job": job.id, "attempt": board.state(job.id).next_attempt,
                   "runner": self.runner_id, "workspace": job.workspace, "pid": os.getpid()}
                  for job in chosen]
        records, refused = self.store.commit(bodies, now=now, strict=False, flush=False)  # type: ignore[union-attr]
        for rejected in refused:
            self.capacity.give_back(spec.job(rejected.body["job"]), spec)
        return records

    def _prepare(self, record: dict[str, Any]) -> tuple[Claimed, OSError | None]:
        """Create the attempt directory and take the lease for a sealed claim (lock held).

        Runs while the claim's fsync is in flight; returns the error, if any,
        instead of raising it, for ``_adopt`` to record once the claim is durable.
        """
        job_id = record["job"]
        directory = self.deck.attempt_dir(record["workspace"], job_id, record["attempt"])
        claimed = Claimed(job_id, record["attempt"], record["seq"], record["workspace"],
                          self.store.board.state(job_id).tries, directory, -1, record["ts"])  # type: ignore[union-attr]
        try:
            claimed.directory, claimed.lease_fd, claimed.output_fd = open_attempt(
                self.deck, job_id, record["workspace"], record["attempt"])
        except OSError as exc:
            claimed.release()
            return claimed, exc
        return claimed, None

    def _adopt(self, claimed: Claimed, error: OSError | None, now: float) -> bool:
        """Make a durable claim ours to run (lock held).

        If its attempt could not be set up (disk full, read-only deck) it never
        starts: it is recorded as a transient failure that is retried, since
        nothing ran.
        """
        job_id = claimed.job_id
        self.claims[job_id] = claimed
        self.running_ids.add(job_id)
        if error is not None:
            state = self.store.board.state(job_id)  # type: ignore[union-attr]
            self.finished.append((claimed, not_started_event(claimed, state, now, error)))
            self.writes.failed(error, now)  # the log took the claim but the deck refuses files: pause claiming
            return False
        self.ran.add(job_id)
        self.index.touch([job_id])
        return True

    def _commit(self, events: list[dict[str, Any]], now: float) -> None:
        records, refused = self.store.commit(events, now=now, strict=False)  # type: ignore[union-attr]
        for rejected in refused:
            self.report({"type": "refused", "job": rejected.body.get("job"), "message": str(rejected.error)})
        self._absorb(records)

    # -- attempts ---------------------------------------------------------------------

    async def _attempt(self, job: Any, claimed: Claimed) -> None:
        def emit(event: Mapping[str, Any]) -> None:
            self.progress.append({**event, "job": job.id, "token": claimed.token})

        if self._revoked(claimed):
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
            event = await run_attempt(self.deck, self.spec, job, claimed, self.store.board,  # type: ignore[union-attr]
                                      self.redactor, emit, self.environ, self.clock)
        except asyncio.CancelledError:
            why = self.cancel_why.get(job.id, "runner stopped")
            if why == "cancelled":
                event = {"type": EventType.FAILED, "job": job.id, "token": claimed.token, "reason": "cancelled"}
            else:
                event = interrupted_event(job, self.store.board.state(job.id), claimed.token,  # type: ignore[union-attr]
                                          self.clock(), why)
            write_quietly(lambda: write_result(claimed, event, 0, self.clock()))
        except Exception as exc:  # a bug in jobdeck, not the job: record it, keep the runner alive
            detail = "".join(traceback.format_exception(exc))

            def log_detail() -> None:
                with open(claimed.directory / STDERR, "a") as log:
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

    def _revoked(self, claimed: Claimed) -> bool:
        """Whether the log, read now, no longer shows ``claimed`` as the job's current attempt."""
        store = self.store
        assert store is not None
        self._absorb(store.refresh())
        state = store.board.state(claimed.job_id)
        return state.status != Status.RUNNING or state.token != claimed.token

    # -- waiting ------------------------------------------------------------------------

    def _next_timer(self, now: float) -> float | None:
        times = []
        wait = self.index.next_wait()
        if wait is not None:
            times.append(wait)
        if self.spec is not None:
            board = self.store.board  # type: ignore[union-attr]
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
        if self.heartbeat is not None and not self.once:
            times.append(self.heartbeat.last + HEARTBEAT_INTERVAL)
        return min(times) if times else None

    def idle(self, now: float) -> bool:
        """Nothing running, nothing to record, nothing ready, no retry of ours pending."""
        if self.tasks or self.finished or self.progress or self.inbox.unsettled():
            return False
        board = self.store.board  # type: ignore[union-attr]
        self.index.update(board, now)
        if self.index.ready and not self.stopping:
            return False
        for job_id in self.ran:
            state = board.state(job_id)
            if state.status == Status.BACKLOG and state.not_before is not None:
                return False
        if self._inbox_waiting and not self.stopping and self.spec is not None:
            for root in self._inbox_waiting:  # a deferred inbox file can fire now
                targets = downstream([root], self.spec.dependencies)
                if not trigger_pending(board.state(root)) and \
                        not any(board.state(t).status == Status.RUNNING for t in targets):
                    return False
        return True

    def _start_watcher(self) -> None:
        inboxes = []
        if self.spec is not None:
            for workspace in sorted({job.workspace for job in self.spec.jobs if job.trigger}):
                inbox = self.deck.inbox_dir(workspace)
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
                now = self.clock()
                if self.once and self.idle(now):
                    return
                if self.stopping and not self.tasks and not self.finished:
                    return
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

    async def shutdown(self, grace: float | None = None) -> None:
        """Stop claiming; let attempts finish within the grace period, then stop them."""
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
        if self.store is not None:
            await self._settle(self.clock())
        self.close()

    def request_stop(self) -> None:
        """First signal: stop claiming and wind down."""
        self.stopping = True
        self.wake.set()

    def cancel_all(self) -> None:
        """Second signal: stop every attempt now."""
        self.stopping = True
        self.grace = 0.0
        for job_id, task in self.tasks.items():
            self.cancel_why.setdefault(job_id, "runner stopped")
            task.cancel()
        self.wake.set()


