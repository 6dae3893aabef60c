"""Run a child process in its own process group, stream its output, enforce timeouts.

The child's stdout goes to the attempt's OutputSink as it arrives; stderr goes to
stderr.log, redacted. The idle timeout is measured from the last byte on either
stream; the hard timeout from the start. On expiry or cancellation the whole
process group gets SIGTERM, then SIGKILL after the grace period.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.base import AttemptContext, OutputSink
from state.errors import AgentError

CHUNK = 65536


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """How the process ended."""

    returncode: int | None
    timed_out: str | None  # None, "idle_timeout" or "hard_timeout"


async def _pump(stream: asyncio.StreamReader, sink: OutputSink) -> None:
    while chunk := await stream.read(CHUNK):
        sink.write(chunk)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def stop_group(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds if still alive."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        pass
    # Kill stragglers in the group even if the leader exited on SIGTERM.
    _signal_group(proc.pid, signal.SIGKILL)
    await proc.wait()


async def run_process(argv: Sequence[str], ctx: AttemptContext, *, stdin: bytes | None = None,
                      cwd: Path | None = None) -> ProcessResult:
    """Run ``argv`` (no shell) for one attempt; return its exit status or timeout kind.

    When the child's environment holds no known secret, it writes stdout and
    stderr straight into the attempt's files (nothing to redact, nothing to
    relay); otherwise its output is piped through the redacting sinks.
    """
    stderr_sink = OutputSink(ctx.stderr_path, ctx.redactor, clock=ctx.output.clock, lazy=True)
    direct = not ctx.redactor.exposed_in({**ctx.env, "argv": "\0".join(argv), "stdin": (stdin or b"").decode("utf-8", "replace")})
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=ctx.output.direct_fd() if direct else asyncio.subprocess.PIPE,
            stderr=stderr_sink.direct_fd() if direct else asyncio.subprocess.PIPE,
            cwd=cwd or ctx.workspace_dir,
            env=ctx.env,
            start_new_session=True,
            pass_fds=ctx.pass_fds,
        )
    except FileNotFoundError:
        stderr_sink.close()
        raise AgentError(f"command not found: {argv[0]}", hint="check the job's command and PATH") from None
    except PermissionError:
        stderr_sink.close()
        raise AgentError(f"command not executable: {argv[0]}") from None
    ctx.emit({"type": "progress", "what": "started", "pid": proc.pid})
    pumps = [] if direct else [
        asyncio.create_task(_pump(proc.stdout, ctx.output)),  # type: ignore[arg-type]
        asyncio.create_task(_pump(proc.stderr, stderr_sink)),  # type: ignore[arg-type]
    ]
    if stdin is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        proc.stdin.close()
    started = time.monotonic()
    timed_out: str | None = None
    waiter = asyncio.create_task(proc.wait())
    try:
        while not waiter.done():
            if direct and ctx.idle_timeout is not None:
                ctx.output.sync_activity()
                stderr_sink.sync_activity()
            deadline = _next_deadline(ctx, started, stderr_sink)
            if deadline is not None and deadline[0] <= time.monotonic():
                timed_out = deadline[1]
                break
            timeout = None if deadline is None else max(0.0, deadline[0] - time.monotonic())
            await asyncio.wait([waiter], timeout=timeout)
        if timed_out:
            await stop_group(proc, ctx.grace)
        elif _group_alive(proc.pid):
            # The leader exited; a grandchild left in its group would hold the pipes open.
            _signal_group(proc.pid, signal.SIGKILL)
        await asyncio.gather(*pumps)
    except asyncio.CancelledError:
        await asyncio.shield(stop_group(proc, ctx.grace))
        for pump in pumps:
            pump.cancel()
        raise
    finally:
        stderr_sink.close()
        if stderr_sink.bytes_written == 0:
            ctx.stderr_path.unlink(missing_ok=True)
    return ProcessResult(proc.returncode, timed_out)


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
