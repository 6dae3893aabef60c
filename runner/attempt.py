"""One attempt, from claimed to result: its directory, lease, environment, agent, verdict.

The attempt directory and its lease are created while the claim's lock is held
(see ``open_attempt``), so another runner's recovery can never see a claimed
attempt without a held lease unless its runner really died. The lease is a
flock on the attempt's ``stderr.log``, which therefore always exists; its
descriptor is inherited by the child (``pass_fds``): an orphaned child keeps
the lease after its runner is killed, and no one re-runs the attempt meanwhile.
``result.json`` is written last, atomically; it carries the outcome event so
recovery can record it if the runner died before appending it.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobdeck.agents.base import AttemptContext, Failure, Outcome, OutputSink
from jobdeck.runner.backoff import retry_delay
from jobdeck.state.atomic import FILE_MODE, make_private_dir
from jobdeck.state.attempts import LEASE, LEGACY_LEASE, OUTPUT, RESULT, STDERR
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AgentError, JobdeckError, NotStarted
from jobdeck.state.machine import EventType, JobState, Status
from jobdeck.state.redact import Redactor

@dataclass
class Claimed:
    """A claim this runner holds: the attempt's identity and its lease descriptor."""

    job_id: str
    attempt: int
    token: int
    workspace: str
    tries: int
    directory: Path
    lease_fd: int
    started: float
    output_fd: int = -1
    """The attempt's output file, created with the lease; the attempt's OutputSink takes it over."""

    def take_output(self) -> int:
        fd, self.output_fd = self.output_fd, -1
        return fd

    def release(self) -> None:
        """Drop the lease (closing our descriptor; a child's inherited one closes with it)."""
        if self.output_fd >= 0:
            os.close(self.take_output())
        if self.lease_fd >= 0:
            os.close(self.lease_fd)
            self.lease_fd = -1


def open_attempt(deck: Deck, job_id: str, workspace: str, attempt: int) -> tuple[Path, int, int]:
    """Create the attempt directory, take its lease and create its output file.

    Returns (directory, lease descriptor, output descriptor). Call with the deck
    lock held. The lease descriptor is read-only: the child inherits it, and
    must not get a way around the redaction of its stderr through it.
    """
    runs = deck.job_runs_dir(workspace, job_id)
    directory = runs / str(attempt)
    path = str(directory)
    try:
        if attempt == 1:  # the job's first attempt: its runs directory is new too (usually)
            os.mkdir(runs, 0o700)
        os.mkdir(path, 0o700)
    except FileNotFoundError:
        make_private_dir(runs)
        directory.mkdir(mode=0o700, exist_ok=True)
    except FileExistsError:
        make_private_dir(directory)
    fd = os.open(path + "/" + LEASE, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        output = os.open(path + "/" + OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
    except BlockingIOError:
        os.close(fd)
        raise JobdeckError(f"lease of {directory} is held by another process") from None
    except BaseException:
        os.close(fd)
        raise
    return directory, fd, output


def lease_held(directory: Path) -> bool:
    """Whether some live process holds the attempt's lease.

    An attempt made by an older jobdeck has a ``lease`` file, and perhaps a
    ``stderr.log`` nobody locks: its lease file decides.
    """
    for name in (LEGACY_LEASE, LEASE):
        try:
            fd = os.open(directory / name, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False
    return False


def env_name(job_id: str) -> str:
    """JOBDECK_INPUT_<ID>: a job id made into an environment variable suffix."""
    return re.sub(r"[^A-Za-z0-9]", "_", job_id).upper()


def resolve_env(values: Mapping[str, Any], environ: Mapping[str, str], where: str) -> dict[str, str]:
    """Plain values as they are; {"env": NAME} references read from ``environ``."""
    out = {}
    for key, value in values.items():
        if isinstance(value, str):
            out[key] = value
        else:
            if value.env not in environ:
                raise AgentError(f"{where}: environment variable {value.env} is not set",
                                 hint=f"export {value.env}=... in the runner's environment")
            out[key] = environ[value.env]
    return out


def latest_output(deck: Deck, job_id: str, state: JobState) -> Path | None:
    """Output of the job's latest successful attempt."""
    for attempt in reversed(state.attempts):
        if attempt.outcome == "succeeded":
            return deck.attempt_dir(attempt.workspace, job_id, attempt.n) / OUTPUT
    return None


def build_context(deck: Deck, spec: Any, job: Any, agent_spec: Any, claimed: Claimed,
                  board: Any, redactor: Redactor, emit: Callable[[Mapping[str, Any]], None],
                  environ: Mapping[str, str]) -> AttemptContext:
    """Everything the agent needs: paths, inputs, dependency outputs, environment, limits."""
    state = board.state(job.id)
    inputs = {**job.inputs, **state.inputs}
    dep_outputs = {}
    for dep in job.depends_on:
        path = latest_output(deck, dep, board.state(dep))
        if path is not None:
            dep_outputs[dep] = path
    previous = None
    if len(state.attempts) >= 2:
        before = state.attempts[-2]
        candidate = deck.attempt_dir(before.workspace, job.id, before.n) / OUTPUT
        previous = candidate if candidate.exists() else None
    workspace_dir = deck.workspace_dir(job.workspace)
    output = OutputSink(claimed.directory / OUTPUT, redactor, fd=claimed.take_output() if claimed.output_fd >= 0 else None)
    env = dict(environ)
    if agent_spec is not None:
        env.update(resolve_env(agent_spec.env, environ, f"agent '{job.agent}'"))
    env.update(resolve_env(job.env, environ, f"job '{job.id}'"))
    env.update({
        "JOBDECK_DECK": str(deck.root),
        "JOBDECK_JOB": job.id,
        "JOBDECK_ATTEMPT": str(claimed.attempt),
        "JOBDECK_ATTEMPT_DIR": str(claimed.directory),
        "JOBDECK_OUTPUT": str(output.path),
        "JOBDECK_WORKSPACE": str(workspace_dir),
    })
    if previous is not None:
        env["JOBDECK_PREVIOUS_OUTPUT"] = str(previous)
    if "input" in inputs:
        env["JOBDECK_INPUT"] = inputs["input"]
    for name, value in inputs.items():
        env[f"JOBDECK_VAR_{env_name(name)}"] = value
    for dep, path in dep_outputs.items():
        env[f"JOBDECK_INPUT_{env_name(dep)}"] = str(path)
    return AttemptContext(
        job=job, agent_spec=agent_spec, attempt=claimed.attempt, attempt_dir=claimed.directory,
        workspace_dir=workspace_dir, output=output, stderr_path=claimed.directory / STDERR,
        env=env, inputs=inputs, dep_outputs=dep_outputs, previous_output=previous,
        idle_timeout=job.timeout.idle, hard_timeout=job.timeout.hard, grace=job.timeout.grace,
        pass_fds=(claimed.lease_fd,), redactor=redactor, emit=emit,
        state_dir=deck.state_dir,  # model cooldowns are shared with every runner on the deck
    )


def verdict(job: Any, claimed: Claimed, outcome: Outcome, reasons: list[str], now: float,
            *, retry_after_floor: float | None = None) -> dict[str, Any]:
    """The outcome event for an attempt: succeeded (done or review) or failed (retry or final)."""
    base: dict[str, Any] = {"job": job.id, "token": claimed.token, "attempt": claimed.attempt,
                            "exit_code": outcome.exit_code, "usage": outcome.usage, "cost": outcome.cost}
    if outcome.model:
        base["model"] = outcome.model
    base = {k: v for k, v in base.items() if v is not None}
    if outcome.ok:
        policy = job.review_policy
        if reasons and policy == "never":
            return {**base, "type": EventType.FAILED, "reason": "invalid_output", "reasons": reasons,
                    "message": "output failed validation and review is 'never'"}
        review = policy == "always" or bool(reasons)
        event = {**base, "type": EventType.SUCCEEDED, "review": review}
        if review:
            event["reason"] = "invalid output" if reasons else f"review required ({'risk ' + job.risk if job.review is None else 'review: always'})"
            event["reasons"] = reasons
        return event
    event = {**base, "type": EventType.FAILED, "reason": outcome.reason, "failure": outcome.failure.value if outcome.failure else None}
    if outcome.message:
        event["message"] = outcome.message
    if outcome.failure == Failure.TRANSIENT and claimed.tries < job.retry.max_attempts:
        delay = retry_delay(job.retry, claimed.tries, retry_after=outcome.retry_after)
        event["retry_at"] = now + delay
    return {k: v for k, v in event.items() if v is not None}


def write_result(claimed: Claimed, event: Mapping[str, Any], output_bytes: int, ended: float) -> None:
    """result.json, last: the completion marker with the outcome event inside.

    The file gets its name only once its content is written (an unnamed
    O_TMPFILE, then linked), so it is never seen empty or cut off, even when
    the deck turns full or read-only halfway. Not renamed over anything and not
    fsynced: the outcome event in the log is the durable record; result.json
    only lets recovery record an outcome whose event never reached the log.
    Where the file system has no O_TMPFILE it is written in place, and a reader
    treats a torn one as no result (the attempt is then "interrupted"), which is safe.
    """
    record = {"job": claimed.job_id, "attempt": claimed.attempt, "token": claimed.token,
              "started": claimed.started, "ended": ended, "output_bytes": output_bytes,
              "event": dict(event)}
    data = json.dumps(record).encode()
    path = claimed.directory / RESULT
    try:
        fd = os.open(claimed.directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            raise
        _write_in_place(path, data)
        return
    try:
        _write_all(fd, data, path)
        try:
            _link(fd, path)
        except FileExistsError:  # left by an attempt whose claim a crash took back: this one counts
            path.unlink()
            _link(fd, path)
    finally:
        os.close(fd)


def _link(fd: int, path: Path) -> None:
    """Give the unnamed file ``fd`` the name ``path`` (linkat with AT_SYMLINK_FOLLOW on its /proc link;
    a src_dir_fd makes os.link use linkat, which an absolute source path ignores)."""
    os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=fd, follow_symlinks=True)


def _write_in_place(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        _write_all(fd, data, path)
    except OSError:
        path.unlink(missing_ok=True)  # a full disk leaves an empty or cut-off file: no result is clearer
        raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, path: Path) -> None:
    if os.write(fd, data) != len(data):
        raise OSError(errno.ENOSPC, f"short write to {path}")


def read_result(directory: Path) -> dict[str, Any] | None:
    """The outcome event stored in result.json, if the file is complete."""
    try:
        record = json.loads((directory / RESULT).read_bytes())
    except (OSError, ValueError):
        return None
    event = record.get("event") if isinstance(record, dict) else None
    return event if isinstance(event, dict) else None


async def run_attempt(deck: Deck, spec: Any, job: Any, claimed: Claimed, board: Any,
                      redactor: Redactor, emit: Callable[[Mapping[str, Any]], None],
                      environ: Mapping[str, str] | None = None,
                      clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Run the attempt to its end and return its outcome event (result.json written)."""
    from jobdeck.agents.registry import agent_for

    environ = os.environ if environ is None else environ
    output_bytes = 0
    pid = None
    try:
        agent, agent_spec = agent_for(job, spec)
        try:
            ctx = build_context(deck, spec, job, agent_spec, claimed, board, redactor, emit, environ)
        except OSError as exc:  # e.g. the output file cannot be created on a full or read-only deck
            raise NotStarted(str(exc)) from exc
        try:
            outcome = await agent.run(ctx)
        finally:
            ctx.output.close()
            output_bytes, pid = ctx.output.bytes_written, ctx.pid
        reasons: list[str] = []
        if outcome.ok and (job.validate_ is not None or job.output == "json"):
            from jobdeck.agents.validation import check_output

            # a validator command may take a while: keep the event loop free
            reasons = await asyncio.to_thread(check_output, job, ctx.output.path, ctx.env)
    except AgentError as exc:
        outcome = Outcome.failed("agent_error", Failure.PERSISTENT, redactor.text(str(exc)))
        reasons = []
    except NotStarted as exc:
        return not_started_event(claimed, board.state(job.id), clock(), exc)
    event = verdict(job, claimed, outcome, reasons, clock())
    event["output_bytes"] = output_bytes
    if pid is not None:
        event["pid"] = pid
    _results().submit(_write_result_quietly, claimed, event, output_bytes, clock())
    return event


_results_pool: ThreadPoolExecutor | None = None


def _results() -> ThreadPoolExecutor:
    """The thread that writes result.json files, off the path from a child's exit to its outcome's commit.

    Safe in any order with the commit: once the outcome is in the log, recovery
    never looks at the attempt again; before, result.json either exists whole
    (O_TMPFILE) and is recorded, or not, and the attempt is `interrupted`, as if
    the runner had died a moment sooner. The pool's thread is joined at exit.
    """
    global _results_pool
    if _results_pool is None:
        _results_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobdeck-results")
    return _results_pool


def _write_result_quietly(claimed: Claimed, event: Mapping[str, Any], output_bytes: int, ended: float) -> None:
    try:
        write_result(claimed, event, output_bytes, ended)
    except OSError:
        return  # e.g. a full disk: the outcome still goes to the log, which is the durable record
    crash_point("complete.after_result")


RETRY_NOT_STARTED = 1.0
"""Seconds before an attempt that could not be set up is tried again (nothing ran)..."""
MAX_NOT_STARTED_WAIT = 60.0
"""...doubled for each such attempt in a row, up to this."""


def not_started_event(claimed: Claimed, state: JobState, now: float, exc: BaseException) -> dict[str, Any]:
    """Outcome of an attempt whose directory or files could not be set up: transient, retried soon.

    Nothing ran, so it does not use up one of the job's tries (the state machine
    gives it back), however long the deck refuses files; the waits grow instead,
    so a deck that stays read-only does not fill the log.
    """
    streak = 0
    for attempt in reversed(state.attempts[:-1]):  # the last one is this attempt
        if attempt.reason != "not_started":
            break
        streak += 1
    wait = min(RETRY_NOT_STARTED * 2 ** streak, MAX_NOT_STARTED_WAIT)
    return {"type": EventType.FAILED, "job": claimed.job_id, "token": claimed.token, "attempt": claimed.attempt,
            "reason": "not_started", "failure": "transient", "retry_at": now + wait,
            "message": f"the attempt could not be set up, nothing ran: {exc}"}


def interrupted_event(job: Any, state: JobState, token: int, now: float, why: str) -> dict[str, Any]:
    """Event for an attempt whose runner stopped: retried only when the job is idempotent."""
    event: dict[str, Any] = {"type": EventType.INTERRUPTED, "job": state.job, "token": token, "reason": why}
    if job is not None and job.idempotent and state.tries < job.retry.max_attempts:
        event["retry_at"] = now
    return event


def is_running(state: JobState) -> bool:
    return state.status == Status.RUNNING
