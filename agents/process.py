"""Run a child process inside the attempt's boundary, stream its output, enforce timeouts.

The child's stdout goes to the attempt's OutputSink as it arrives; stderr goes to
stderr.log, redacted. The idle timeout is measured from the last byte on either
stream; the hard timeout from the start. When the child exits, its time is up,
its output passes the sink's limit or the attempt is cancelled, everything in the
attempt's boundary (``agents/boundary.py``: its process group, and the setsid
daemons it left) gets SIGTERM, then SIGKILL after the grace period; only then
does the attempt end, so nothing the child started outlives it or writes into
it afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jobdeck.agents.base import AttemptContext
from jobdeck.agents.boundary import GroupBoundary
from jobdeck.agents.child import PIPE, Child
from jobdeck.agents.output_sink import OutputSink
from jobdeck.state.errors import AgentError, NotStarted
from jobdeck.state.machine import EventType


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How the process ended."""

    returncode: int | None
    timed_out: str | None  # None, "idle_timeout", "hard_timeout" or "output_limit" (why it was stopped)


LEFTOVER_NAMES = 5
"""Command names a ``leftovers_stopped`` record gives at most (the count is whole)."""
STRAY_PIPE_WAIT = 1.0
"""Seconds to wait for the pipes' end once the boundary is empty (a process outside it may hold them)."""


async def run_process(argv: Sequence[str], ctx: AttemptContext, *, stdin: bytes | None = None,
                      cwd: Path | None = None) -> ProcessResult:
    """Run ``argv`` (no shell) for one attempt; return its exit status or timeout kind.

    When the child's environment holds no known secret, it writes stdout and
    stderr straight into the attempt's files (nothing to redact, nothing to
    relay); otherwise its output is piped through the redacting sinks. A job
    placed on an executor runs there instead (``agents/remote.py``).
    """
    if ctx.executor is not None:
        from jobdeck.agents.remote import engine_for, run_remote

        engine = engine_for(ctx.executor[0], ctx.executor[1], ctx.env)
        return await run_remote(engine, argv, ctx, stdin=stdin, cwd=cwd, token=ctx.token)
    stderr_sink = OutputSink(ctx.stderr_path, ctx.redactor, clock=ctx.output.clock, lazy=True,
                             dir_fd=ctx.attempt_dir_fd)
    direct = not ctx.redactor.exposed_in({**ctx.env, "argv": "\0".join(argv), "stdin": (stdin or b"").decode("utf-8", "replace")})
    boundary = ctx.boundary if ctx.boundary is not None else GroupBoundary()
    boundary.prepare()
    try:
        stdout, stderr = (ctx.output.direct_fd(), stderr_sink.direct_fd()) if direct else (PIPE, PIPE)
    except OSError as exc:  # the attempt's files cannot be created (disk full, read-only deck)
        stderr_sink.close()
        raise NotStarted(str(exc)) from exc
    try:
        child = Child.spawn(
            argv, cwd=cwd or ctx.workspace_dir, env=ctx.env, stdin=stdin, pass_fds=ctx.pass_fds,
            stdout=stdout, stderr=stderr,
            on_stdout=None if direct else ctx.output.write,
            on_stderr=None if direct else stderr_sink.write, keep_zombie=boundary.keeps_leader, started=boundary.adopt)
    except FileNotFoundError:
        stderr_sink.close()
        raise AgentError(f"command not found: {argv[0]}", hint="check the job's command and PATH") from None
    except PermissionError:
        stderr_sink.close()
        raise AgentError(f"command not executable: {argv[0]}") from None
    except ValueError as exc:  # "embedded null byte": jobs.json holds none, so a placeholder brought it
        if "null byte" not in str(exc):
            raise
        stderr_sink.close()
        raise AgentError(f"cannot start {argv[0]}: an argument or environment variable holds a NUL byte, "
                         f"which no program can be given",
                         hint="a dependency's output put it there: read that output from its file "
                              "($JOBDECK_INPUT_<JOB>) rather than through {{deps.JOB}}") from None
    ctx.pid = child.pid
    cancelled = False
    started = time.monotonic()
    timed_out: str | None = None
    exited = child.exited
    try:
        while not exited.done():
            if direct and (ctx.idle_timeout is not None or ctx.output.limit is not None):
                ctx.output.sync_activity()
                stderr_sink.sync_activity()
            if ctx.output.over_limit:
                timed_out = "output_limit"
                break
            deadline = _next_deadline(ctx, started, stderr_sink)
            if deadline is not None and deadline[0] <= time.monotonic():
                timed_out = deadline[1]
                break
            timeout = None if deadline is None else max(0.0, deadline[0] - time.monotonic())
            await asyncio.wait([exited], timeout=ctx.output.next_look(timeout))
        # The child exited or its time is up: what it started goes too, daemons included.
        left = await boundary.stop(ctx.grace)
        if left and timed_out is None:  # the job ended and left these running: say so, or a service dies unseen
            ctx.emit({"type": EventType.PROGRESS, "what": "leftovers_stopped", "processes": len(left),
                      "names": sorted({name for _, name in left})[:LEFTOVER_NAMES]})
        await child.wait()
        await _drained(child)
    except asyncio.CancelledError:
        await asyncio.shield(boundary.stop(ctx.grace))
        child.close_streams()
        cancelled = True
        raise
    finally:
        child.release()
        boundary.release_leader()
        try:
            stderr_sink.close()
        except AgentError:  # stderr.log could not be written (a full disk)
            if not cancelled:
                raise  # the attempt's outcome; a cancel on its way says how it ended instead
    return ProcessResult(child.returncode, timed_out)


async def _drained(child: Child) -> None:
    """Until the pipes reach end of file; a holder outside the boundary does not hold the attempt up."""
    try:
        await asyncio.wait_for(child.streams_closed(), STRAY_PIPE_WAIT)
    except TimeoutError:
        child.close_streams()


def _next_deadline(ctx: AttemptContext, started: float, stderr_sink: OutputSink) -> tuple[float, str] | None:
    deadlines = []
    if ctx.hard_timeout is not None:
        deadlines.append((started + ctx.hard_timeout, "hard_timeout"))
    if ctx.idle_timeout is not None:
        last = max(ctx.output.last_activity, stderr_sink.last_activity, started)
        deadlines.append((last + ctx.idle_timeout, "idle_timeout"))
    return min(deadlines) if deadlines else None
