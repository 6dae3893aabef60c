"""Run a child process in its own process group, stream its output, enforce timeouts.

The child's stdout goes to the attempt's OutputSink as it arrives; stderr goes to
stderr.log, redacted. The idle timeout is measured from the last byte on either
stream; the hard timeout from the start. On expiry, cancellation or output
past the sink's limit the whole process group gets SIGTERM, then SIGKILL after
the grace period.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jobdeck.agents.base import AttemptContext
from jobdeck.agents.child import PIPE, Child
from jobdeck.agents.output_sink import OutputSink
from jobdeck.state.errors import AgentError, NotStarted


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How the process ended."""

    returncode: int | None
    timed_out: str | None  # None, "idle_timeout", "hard_timeout" or "output_limit" (why it was stopped)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def stop_group(child: Child, grace: float) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds if still alive."""
    _signal_group(child.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(child.wait(), grace)
    except TimeoutError:
        pass
    # Kill stragglers in the group even if the leader exited on SIGTERM.
    _signal_group(child.pid, signal.SIGKILL)
    await child.wait()


async def run_process(argv: Sequence[str], ctx: AttemptContext, *, stdin: bytes | None = None,
                      cwd: Path | None = None) -> ProcessResult:
    """Run ``argv`` (no shell) for one attempt; return its exit status or timeout kind.

    When the child's environment holds no known secret, it writes stdout and
    stderr straight into the attempt's files (nothing to redact, nothing to
    relay); otherwise its output is piped through the redacting sinks.
    """
    stderr_sink = OutputSink(ctx.stderr_path, ctx.redactor, clock=ctx.output.clock, lazy=True,
                             dir_fd=ctx.attempt_dir_fd)
    direct = not ctx.redactor.exposed_in({**ctx.env, "argv": "\0".join(argv), "stdin": (stdin or b"").decode("utf-8", "replace")})
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
            on_stderr=None if direct else stderr_sink.write)
    except FileNotFoundError:
        stderr_sink.close()
        raise AgentError(f"command not found: {argv[0]}", hint="check the job's command and PATH") from None
    except PermissionError:
        stderr_sink.close()
        raise AgentError(f"command not executable: {argv[0]}") from None
    ctx.pid = child.pid
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
        if timed_out:
            await stop_group(child, ctx.grace)
        elif _group_alive(child.pid):
            # The leader exited; a grandchild left in its group would hold the pipes open.
            _signal_group(child.pid, signal.SIGKILL)
        await child.streams_closed()
    except asyncio.CancelledError:
        await asyncio.shield(stop_group(child, ctx.grace))
        child.close_streams()
        raise
    finally:
        stderr_sink.close()
    return ProcessResult(child.returncode, timed_out)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _next_deadline(ctx: AttemptContext, started: float, stderr_sink: OutputSink) -> tuple[float, str] | None:
    deadlines = []
    if ctx.hard_timeout is not None:
        deadlines.append((started + ctx.hard_timeout, "hard_timeout"))
    if ctx.idle_timeout is not None:
        last = max(ctx.output.last_activity, stderr_sink.last_activity, started)
        deadlines.append((last + ctx.idle_timeout, "idle_timeout"))
    return min(deadlines) if deadlines else None
