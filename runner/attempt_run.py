"""One attempt run to its end: context, agent, output validation, verdict, result.json.

The runner awaits ``run_attempt`` in a task of its own per attempt; every step
that is not the agent's own work lives in the module it names (``environment``,
``verdict``, ``attempt_events``), so this one reads as the attempt's timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jobdeck.agents.base import Failure, Outcome, output_limit_outcome
from jobdeck.agents.remote import Vanished
from jobdeck.runner.attempt import Claimed
from jobdeck.runner.attempt_events import interrupted_event, not_started_event, write_result
from jobdeck.runner.environment import build_context
from jobdeck.runner.verdict import verdict
from jobdeck.state.atomic import temp_name
from jobdeck.state.attempt_dirs import DIR_FLAGS, open_in
from jobdeck.state.attempts import OUTPUT
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AgentError, NotStarted
from jobdeck.state.redact import Redactor
from jobdeck.state.space import full_note

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.spec import Job, Spec


async def run_attempt(deck: Deck, spec: Spec, job: Job, claimed: Claimed, board: Board,
                      redactor: Redactor, emit: Callable[[Mapping[str, Any]], None],
                      environ: Mapping[str, str] | None = None,
                      clock: Callable[[], float] = time.time, *,
                      note: Callable[[str | None], None] | None = None,
                      detach: Callable[[], bool] | None = None) -> dict[str, Any]:
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
        if note is not None:
            ctx.note = note
        if detach is not None:
            ctx.detach = detach
        ran = False
        try:
            outcome = await agent.run(ctx)
            ran = True
        finally:
            try:
                if claimed.boundary is not None:  # nothing the attempt started outlives it
                    await asyncio.shield(claimed.boundary.stop(ctx.grace))
            finally:
                if claimed.boundary is not None:
                    claimed.boundary.close()
                try:
                    ctx.output.close()
                    # what the job wrote into its output file itself passed no redaction: looked at off the loop
                    await asyncio.to_thread(ctx.output.redact_written)
                except AgentError as exc:  # an output that could not be written (a full disk)
                    if ran:
                        if exc.spent is None:  # what the attempt's calls cost counts all the same
                            exc.spent = {"usage": outcome.usage, "cost": outcome.cost}
                        raise  # the attempt's outcome
                    # else a cancel (or another error) is on its way: it says how the attempt ended
                output_bytes, pid = ctx.output.bytes_written, ctx.pid
        if ctx.output.over_limit and outcome.reason != "output_limit":  # whatever the agent made of it
            outcome = output_limit_outcome(ctx, outcome.exit_code)
        if not outcome.ok:  # ENOSPC reaches the job, which often says only "exit 1": say why, if it is that
            full = full_note(claimed.directory)
            if full is not None:
                outcome = replace(outcome, message=f"{outcome.message}; {full}" if outcome.message else full)
        reasons: list[str] = []
        if outcome.ok and (job.validate_ is not None or job.output == "json"):
            from jobdeck.agents.validation import check_output, wants_json

            # a validator command may take a while: keep the event loop free
            reasons = await asyncio.to_thread(check_output, job, ctx.output.path, ctx.env, ctx.redactor,
                                            ctx.workspace_dir)
            if not reasons and wants_json(job):  # before the outcome is recorded: no dependent sees the fence
                unwrapped_bytes = await asyncio.to_thread(_unwrap_json_output, claimed)
                if unwrapped_bytes is not None:
                    output_bytes = unwrapped_bytes
    except AgentError as exc:  # (a batch system's refusal may pass: it says so)
        failure = Failure.TRANSIENT if getattr(exc, "transient", False) else Failure.PERSISTENT
        outcome = Outcome.failed(getattr(exc, "reason", "agent_error"), failure, redactor.text(str(exc)),
                                 **(exc.spent or {}))
        reasons = []
    except NotStarted as exc:
        return not_started_event(claimed, board.state(job.id), clock(), exc)
    except Vanished as exc:  # the batch system lost the attempt's job: as if its runner had died
        event = interrupted_event(job, board.state(job.id), claimed.token, clock(), redactor.text(str(exc)))
        _keep_result(claimed, event, output_bytes, clock())
        return event
    event = verdict(job, claimed, outcome, reasons, clock())
    event["output_bytes"] = output_bytes
    if pid is not None:
        event["pid"] = pid
    _keep_result(claimed, event, output_bytes, clock())
    return event


def _unwrap_json_output(claimed: Claimed) -> int | None:
    """Replace the attempt's output, if it is one fenced JSON document, by the JSON alone; return its new size.

    Call only once the output has passed its JSON checks. The JSON is written to a
    temp file renamed over the output, so a reader opens the old file or the new one,
    whole. None: the output is left as it was (not fenced, or it cannot be rewritten
    on a full or read-only deck: it passed its checks as written).
    """
    from jobdeck.agents.validation import MAX_CHECKED_BYTES, fenced_json_body

    own = None
    dir_fd = claimed.dir_fd
    try:
        if dir_fd < 0:
            dir_fd = own = os.open(claimed.directory, DIR_FLAGS)
        with open(open_in(dir_fd, OUTPUT, os.O_RDONLY), "rb") as output:
            written = os.fstat(output.fileno())
            if not stat.S_ISREG(written.st_mode) or written.st_size > MAX_CHECKED_BYTES:
                return None
            body = fenced_json_body(output.read(MAX_CHECKED_BYTES + 1))
        if body is None:
            return None
        temp = temp_name(claimed.directory / OUTPUT).name
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         stat.S_IMODE(written.st_mode), dir_fd=dir_fd)
            try:
                with open(fd, "wb", closefd=False) as unwrapped:
                    unwrapped.write(body)
                os.fsync(fd)  # the rename must not be durable before the bytes it names
            finally:
                os.close(fd)
            os.replace(temp, OUTPUT, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            raise
        return len(body)
    except OSError:
        return None
    finally:
        if own is not None:
            os.close(own)


def _keep_result(claimed: Claimed, event: dict[str, Any], output_bytes: int, ended: float) -> None:
    """Write the attempt's result.json off the loop."""
    # The claim's directory descriptor closes when its outcome is stored, maybe before the
    # result is written: the writer gets a descriptor of its own.
    dir_fd = os.dup(claimed.dir_fd) if claimed.dir_fd >= 0 else None
    _results().submit(_write_result_quietly, claimed, event, output_bytes, ended, dir_fd)


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


def _write_result_quietly(claimed: Claimed, event: Mapping[str, Any], output_bytes: int, ended: float,
                          dir_fd: int | None) -> None:
    try:
        write_result(claimed, event, output_bytes, ended, dir_fd=dir_fd)
    except OSError:
        return  # e.g. a full disk: the outcome still goes to the log, which is the durable record
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    crash_point("complete.after_result")
