"""Decks with a long, realistic history: ~100 jobs rerun in cycles until the log holds N events.

Used by bench/history.py (10k, 100k and 1M events) and bench/cli.py (a small
deck). The history is what a runner and its operators leave behind over months:
20 pipelines of five jobs (fetch -> parse -> enrich (LLM) -> summarise (LLM) ->
publish), four of them on cron schedules, the others triggered by hand; each
cycle triggers the five jobs, which are claimed and run in order. Attempts fail
now and then (transient failures retried after a backoff, persistent ones
ending the cycle), LLM attempts report usage and cost and sometimes a retry on
the way, medium-risk summaries wait for review (approved, sometimes rejected
or retried), high-risk publishes are approved before they run, and operators
pause, resume and cancel a job once in a while. Several pipelines run at once,
so their events interleave in the log as a runner's would.

Every event goes through ``Store.commit`` (in batches, one fsync each), so the
hash chain and the fold are the real ones, and every attempt leaves the
directory a runner makes (``workspaces/<ws>/runs/<job>/<n>/`` with ``output``,
``stderr.log`` and ``result.json``), so the disk holds what it would. The
simulated clock ends before the build starts, with no job running or ready.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobdeck.state.attempts import OUTPUT, RESULT, STDERR
from jobdeck.state.board import Store
from jobdeck.state.deck import Deck, init_deck
from jobdeck.state.segments import segment_bytes

PIPELINES = 20
STEPS = ("fetch", "parse", "enrich", "summarise", "publish")
WORKSPACES = ("default", "research", "ops")
SCHEDULES = {0: ("15 */6 * * *", "UTC"), 1: ("0 2 * * *", "Europe/Paris"), 2: ("30 4 * * 1", "UTC"),
             3: ("0 3 1 * *", "America/New_York")}
"""Pipelines whose fetch runs on a cron schedule (the rest are triggered by hand)."""
MODELS = {"enrich": "openai/gpt-4o-mini", "summarise": "anthropic/claude-3-5-haiku-latest"}
OPERATORS = ("alice@build-01", "bob@laptop-7", "carol@ops-2")
CONCURRENT = 4
"""Pipeline cycles under way at once (the deck's limits.parallel)."""
GAP = 30.0
"""Mean simulated seconds between two events of the deck."""
READY_ROOT = "p19-fetch"
"""A hand-triggered job with no dependencies, whose command is `printf`: triggered, it is the one ready job."""
SHOWN_JOB = "p05-enrich"
"""An LLM job with a typical history: the job `show`, `logs` and `pause` are timed on."""


def job_id(pipeline: int, step: str) -> str:
    return f"p{pipeline:02d}-{step}"


def spec_jobs() -> list[dict[str, Any]]:
    """The deck's jobs.json "jobs": 20 pipelines of five jobs."""
    jobs: list[dict[str, Any]] = []
    for p in range(PIPELINES):
        ws = WORKSPACES[p % len(WORKSPACES)]
        labels = [f"pipeline-{p:02d}", "nightly" if p in SCHEDULES else "adhoc"]
        fetch: dict[str, Any] = {
            "id": job_id(p, "fetch"), "title": f"Fetch feed {p}", "command": ["printf", "%s\\n", f"feed {p} fetched"],
            "workspace": ws, "labels": labels + ["ingest"], "idempotent": True,
            "retry": {"max_attempts": 3, "delay": "5s"}, "timeout": {"idle": "30s", "hard": "5m"}}
        if p in SCHEDULES:
            fetch["schedule"], fetch["timezone"] = SCHEDULES[p]
        summarise: dict[str, Any] = {
            "id": job_id(p, "summarise"), "title": f"Summarise feed {p}", "model": MODELS["summarise"],
            "prompt": f"Summarise in three lines for the weekly digest:\n{{{{deps.{job_id(p, 'enrich')}}}}}",
            "depends_on": [job_id(p, "enrich")], "workspace": ws, "labels": labels + ["llm"],
            "retry": {"max_attempts": 2, "delay": "5s"}}
        if p % 3 == 0:
            summarise["risk"] = "medium"  # every summary waits for review
        publish: dict[str, Any] = {
            "id": job_id(p, "publish"), "title": f"Publish digest {p}", "command": ["true"],
            "depends_on": [job_id(p, "summarise")], "workspace": ws, "labels": labels}
        if p % 4 == 1:
            publish["risk"] = "high"  # approved before it runs
        jobs += [
            fetch,
            {"id": job_id(p, "parse"), "title": f"Parse feed {p}", "command": ["printf", "%s\\n", "parsed"],
             "depends_on": [job_id(p, "fetch")], "workspace": ws, "labels": labels + ["ingest"]},
            {"id": job_id(p, "enrich"), "title": f"Enrich feed {p}", "model": MODELS["enrich"],
             "prompt": f"List the people, places and companies in:\n{{{{deps.{job_id(p, 'parse')}}}}}",
             "depends_on": [job_id(p, "parse")], "workspace": ws, "labels": labels + ["llm"],
             "retry": {"max_attempts": 3, "delay": "5s"}, "priority": 5},
            summarise,
            publish,
        ]
    return jobs


def spec_bytes() -> bytes:
    return (json.dumps({"limits": {"parallel": CONCURRENT}, "jobs": spec_jobs()}, indent=2) + "\n").encode()


WORDS = ("the quarterly figures show revenue up in three regions while costs held flat; analysts expect "
         "the board to confirm the merger after the audit, and the new plant in Lyon opens in spring; "
         "Acme Corp, Globex and Initech lead the list of suppliers named in the filings").split()


@dataclass
class Clock:
    """The simulated time, moved forward by the driver between events."""

    t: float


@dataclass
class Pipeline:
    """One pipeline's jobs and the attempt numbers they have used."""

    number: int
    jobs: list[dict[str, Any]]
    attempts: dict[str, int] = field(default_factory=dict)


class History:
    """Generates the events of pipeline cycles and writes the attempts' directories."""

    def __init__(self, deck: Deck, rng: random.Random, clock: Clock) -> None:
        self.deck = deck
        self.rng = rng
        self.clock = clock
        self.runner = "runner-0000"
        self.output: dict[tuple[str, int], bytes] = {}
        """The output of each attempt whose outcome is made and whose directory is not yet queued, by (job, n):
        pipelines interleave, so another attempt's outcome may come between the two."""
        self.attempt_dirs = 0
        self.unwritten: list[tuple[str, list[tuple[str, bytes]]]] = []
        """Attempt directories to write: (path, [(file name, content)])."""
        self.outputs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 320))).encode() + b"\n"
                        for _ in range(64)]

    # -- one cycle ---------------------------------------------------------------------

    def cycle(self, pipe: Pipeline) -> Generator[dict[str, Any], int, None]:
        """The events of one cycle of ``pipe``, in order; the driver sends back each event's seq."""
        rng, root = self.rng, pipe.jobs[0]
        cron = "schedule" in root
        if cron and not pipe.attempts:
            yield self._event("progress", root["id"], what="schedule_armed", fire=self.clock.t)
        who = rng.choice(OPERATORS)
        for job in pipe.jobs:
            event = self._event("triggered", job["id"], root=root["id"])
            if cron:
                event.update(source="cron", by=self.runner)
                if job is root:
                    event.update(fire=self.clock.t, missed=0)
            else:
                event.update(source=f"cli:{who}", by=who, via="cli")
            yield event
        for job in pipe.jobs:
            if rng.random() < 0.01:  # someone holds a job back for a while
                yield self._event("paused", job["id"], by=rng.choice(OPERATORS), via="cockpit")
                yield self._event("resumed", job["id"], by=rng.choice(OPERATORS), via="cockpit")
            if job.get("risk") == "high":
                yield self._event("approved", job["id"], by=rng.choice(OPERATORS), via=rng.choice(("cli", "cockpit")))
            ended = yield from self._run_job(pipe, job)
            while ended == "review":
                decision = rng.random()
                who = rng.choice(OPERATORS)
                if decision < 0.9:
                    yield self._event("approved", job["id"], by=who, via="cockpit")
                    ended = "done"
                elif decision < 0.95:
                    yield self._event("rejected", job["id"], by=who, via="cockpit",
                                      reason="the summary leaves out the totals")
                    return
                else:
                    yield self._event("retried", job["id"], by=who, via="cli")
                    ended = yield from self._run_job(pipe, job)
            if ended != "done":
                return  # a failure, or a cancel, ends the cycle; its dependents stay blocked

    def _run_job(self, pipe: Pipeline, job: dict[str, Any]) -> Generator[dict[str, Any], int, str]:
        """Attempts of one job until it is done, in review, failed for good or cancelled."""
        rng, jid = self.rng, job["id"]
        llm = "model" in job
        max_attempts = job.get("retry", {}).get("max_attempts", 1)
        tries, not_before = 0, 0.0
        while True:
            n = pipe.attempts.get(jid, 0) + 1
            pipe.attempts[jid] = n
            tries += 1
            pid = rng.randint(1000, 4_000_000)
            claim = self._event("claimed", jid, attempt=n, runner=self.runner, workspace=job["workspace"], pid=pid)
            claim["ts"] = started = max(self.clock.t, not_before)
            token = yield claim
            calls = 1
            if llm and rng.random() < 0.05:
                calls = 2
                yield self._event("progress", jid, token=token, what="retry", model=job["model"],
                                  reason="RateLimitError: 429 Too Many Requests; retrying in 2.0s")
            if rng.random() < 0.002:
                yield self._event("cancelled", jid, by=rng.choice(OPERATORS), via="cockpit",
                                  reason="wrong feed")
                outcome = self._outcome(job, token, n, pid, "failed", calls, exit_code=-15, reason="cancelled")
                yield outcome
                self._write_attempt(job, n, token, started, outcome, b"terminated\n")
                return "cancelled"
            if rng.random() < 0.002:  # the runner stopped mid-attempt: no result.json
                retry_now = job.get("idempotent", False)
                event = self._event("interrupted", jid, token=token, reason="runner stopped")
                if retry_now:
                    event["retry_at"] = self.clock.t
                yield event
                self._write_attempt(job, n, token, started, None, b"")
                self.runner = f"runner-{rng.randrange(16 ** 4):04x}"
                if retry_now:
                    tries -= 1
                    continue
                return "review"
            roll = rng.random()
            if roll < 0.90:
                outcome = self._outcome(job, token, n, pid, "succeeded", calls)
                if job.get("risk") == "medium":
                    outcome.update(review=True, reason="review required (risk medium)", reasons=[])
                stderr = b""
            elif roll < 0.97 and tries < max_attempts:
                delay = 5.0 * 2 ** (tries - 1)
                why = ({"reason": "server_error", "message": "litellm.ServiceUnavailableError: 503 overloaded"}
                       if llm else {"exit_code": 75, "reason": "exit_code", "message": "exited with code 75"})
                outcome = self._outcome(job, token, n, pid, "failed", calls, **why, failure="transient",
                                        retry_at=self.clock.t + delay)
                not_before = outcome["retry_at"]
                stderr = b"" if llm else b"upstream busy, try again later\n"
            else:
                why = ({"reason": "context", "message": "litellm.ContextWindowExceededError: context length exceeded"}
                       if llm else {"exit_code": 1, "reason": "exit_code", "message": "exited with code 1"})
                outcome = self._outcome(job, token, n, pid, "failed", calls, **why, failure="persistent")
                stderr = b"" if llm else b"error: malformed record at line 17\n"
            yield outcome
            self._write_attempt(job, n, token, started, outcome, stderr)
            if outcome["type"] == "succeeded":
                return "review" if outcome.get("review") else "done"
            if "retry_at" not in outcome:
                return "failed"

    def _outcome(self, job: dict[str, Any], token: int, n: int, pid: int, kind: str, calls: int,
                 **fields: Any) -> dict[str, Any]:
        """A succeeded or failed event as the runner's verdict writes it (usage and cost for an LLM)."""
        event = self._event(kind, job["id"], token=token, attempt=n)
        if "model" in job:
            prompt, completion = self.rng.randint(300, 3000), self.rng.randint(50, 800)
            event["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                              "total_tokens": prompt + completion, "calls": calls}
            event["cost"] = round(prompt * 0.15e-6 + completion * 0.6e-6, 8)
            event["model"] = job["model"]
        elif kind == "succeeded":
            event["exit_code"] = 0
        if kind == "succeeded":
            event["review"] = False
        event.update(fields)
        output = self.rng.choice(self.outputs) if "model" in job else f"{job['title']}: ok\n".encode()
        self.output[job["id"], n] = output
        event["output_bytes"] = len(output)
        event["pid"] = pid
        return event

    def _event(self, kind: str, job: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "job": job, "ts": self.clock.t, **fields}

    # -- the attempt's directory ------------------------------------------------------

    def _write_attempt(self, job: dict[str, Any], n: int, token: int, started: float,
                       outcome: dict[str, Any] | None, stderr: bytes) -> None:
        """Queue workspaces/<ws>/runs/<job>/<n>/ as the runner leaves it (result.json only when it saw the end)."""
        directory = f"{self.deck.workspaces_dir}/{job['workspace']}/runs/{job['id']}/{n}"
        output = self.output.pop((job["id"], n), b"") if outcome is not None else b""
        files = [(STDERR, stderr), (OUTPUT, output)]
        if outcome is not None:
            event = {k: v for k, v in outcome.items() if k != "ts"}
            files.append((RESULT, json.dumps({
                "job": job["id"], "attempt": n, "token": token, "started": started, "ended": outcome["ts"],
                "output_bytes": len(output), "event": event}).encode()))
        self.unwritten.append((directory, files))
        self.attempt_dirs += 1


def write_attempts(attempts: list[tuple[str, list[tuple[str, bytes]]]]) -> float:
    """Create attempt directories and their files; return the seconds it took."""
    begun = time.perf_counter()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for directory, files in attempts:
        os.mkdir(directory, 0o700)
        for name, data in files:
            fd = os.open(f"{directory}/{name}", flags, 0o600)
            try:
                if data:
                    os.write(fd, data)
            finally:
                os.close(fd)
    return time.perf_counter() - begun


@dataclass
class Built:
    """What build_deck made and how long it took."""

    events: int
    attempts: int
    types: dict[str, int]
    seconds: float
    commit_seconds: float
    disk_seconds: float
    """Summed over the writer threads, which overlap the commits."""
    log_bytes: int
    seq: int
    last_hash: str


def build_deck(root: Path, events: int, *, seed: int = 15, end: float | None = None,
               old_board: Path | None = None, progress: Callable[[int], None] | None = None) -> Built:
    """Build at ``root`` a deck whose log holds about ``events`` events (a few more: cycles run to their end).

    Writes board.json at the end, as a runner leaves it; with ``old_board``, also
    a copy of board.json as it was at 90% of the log there.
    """
    begun = time.perf_counter()
    deck = init_deck(root, spec_bytes())
    jobs = spec_jobs()
    for job in jobs:
        os.makedirs(deck.job_runs_dir(job["workspace"], job["id"]), mode=0o700)
    pipelines = [Pipeline(p, jobs[p * len(STEPS):(p + 1) * len(STEPS)]) for p in range(PIPELINES)]
    rng = random.Random(seed)
    end = time.time() - 3600 if end is None else end
    clock = Clock(end - events * 1.05 * GAP - 3600)
    history = History(deck, rng, clock)
    batch_size = min(5000, max(100, events // 20))
    batch: list[dict[str, Any]] = []
    types: Counter[str] = Counter()
    active: list[list[Any]] = []  # [cycle generator, seq of its last event]
    idle = list(pipelines)
    emitted = commit_seconds = 0
    seq = 0
    writers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="attempt-dirs")  # the disk waits, not the CPU
    written: list[Future[float]] = []
    with writers, Store(deck, from_snapshot=False) as store:
        def commit() -> None:
            nonlocal commit_seconds, seq
            started = time.perf_counter()
            records, _ = store.commit(batch)
            commit_seconds += time.perf_counter() - started
            # after the commit, as a runner makes them: a directory beside an empty log is a lost history
            written.append(writers.submit(write_attempts, history.unwritten))
            history.unwritten = []
            if records[-1]["seq"] != seq:
                raise RuntimeError(f"expected seq {seq}, the log says {records[-1]['seq']}")
            batch.clear()
            if store.log.offset >= segment_bytes():  # as a runner rotates (and leaves a checkpoint)
                store.rotate()
                seq += 1  # the new live file's segment record
            if progress is not None:
                progress(emitted)
            if old_board is not None and not old_board.exists() and emitted >= 0.9 * events:
                store.write_snapshot()
                os.replace(deck.board_path, old_board)

        while active or emitted < events:
            while emitted < events and idle and len(active) < CONCURRENT:
                pipe = idle.pop(rng.randrange(len(idle)))
                active.append([history.cycle(pipe), None, pipe])
            entry = active[rng.randrange(len(active))]
            step = rng.uniform(0.2, 2 * GAP - 0.2)
            clock.t += step
            try:
                event = entry[0].send(entry[1])
            except StopIteration:
                clock.t -= step
                active.remove(entry)
                idle.append(entry[2])
                continue
            clock.t = max(clock.t, event["ts"])
            seq += 1
            entry[1] = seq
            emitted += 1
            types[event["type"]] += 1
            batch.append(event)
            if len(batch) >= batch_size:
                commit()
        if batch:
            commit()
        store.write_snapshot()
        log_bytes, last_hash = store.log.offset, store.log.last_hash
        disk_seconds = sum(future.result() for future in written)
    if clock.t > time.time():
        raise RuntimeError("the simulated history ran past the present")
    return Built(events=emitted, attempts=history.attempt_dirs, types=dict(types),
                 seconds=time.perf_counter() - begun, commit_seconds=commit_seconds,
                 disk_seconds=disk_seconds, log_bytes=log_bytes, seq=seq, last_hash=last_hash)
