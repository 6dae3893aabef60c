"""Attempts whose process runs on a batch system (Slurm today): the executor seam.

The runner still decides and records everything; the batch system only hosts
the process. What runs there is a small POSIX shell wrapper written into the
attempt directory (``remote.sh``): it runs the job's argv (no shell, unless the
job asked for one), with its prompt from ``remote.stdin``, and records the exit
status in ``remote.result``. The batch system writes the command's stdout and
stderr to ``remote.out`` and ``remote.err``, and the runner copies what they
grow by into the attempt's output and stderr.log through the same redacting
sinks a local child's output goes through, so `logs -f`, the cockpit and the
idle timeout see it as it arrives. Every one of these files is in the attempt
directory: **the deck must be on a filesystem the compute nodes share, at the
same path.** The raw files, the script and the prompt are removed when the
attempt ends; they may hold what redaction takes out.

An ``Engine`` is one batch system. Adding another (Kubernetes Jobs, Nomad) is
one module that meets this interface:

- ``submit``: hand over the wrapper script, its environment (never on a command
  line), the output files and a time limit; return the engine's job id. The
  job's name (``remote_name``) names the deck, job, attempt and claim, so a
  submission can be found again.
- ``find``: the id of a job by that name, if the engine still knows it.
- ``look``: the state of many jobs in one call (queued with the engine's reason,
  running where, ended with an exit status, or gone).
- ``signal``: a signal to every process of the job; ``cancel``: end it.

Before submitting, the attempt directory gets ``remote.json`` naming the
executor and the job's name; the engine's id is added once ``submit`` returns.
A runner that died anywhere in between is followed by one that finds the
record, looks the job up by id or name, and takes the attempt over
(``ctx.resume``): it never submits an attempt twice. A submission it cannot
find, with no result, is interrupted, and retried or sent to review as a local
one is.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal as signals
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jobdeck.agents.output_sink import OutputSink
from jobdeck.agents.process import ProcessResult
from jobdeck.state.atomic import write_atomic
from jobdeck.state.attempt_dirs import open_in
from jobdeck.state.attempts import (
    REMOTE,
    REMOTE_ERR,
    REMOTE_OUT,
    REMOTE_RESULT,
    REMOTE_SCRATCH,
    REMOTE_SCRIPT,
    REMOTE_STDIN,
)
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.digest import sha256_hex
from jobdeck.state.errors import AgentError, NotStarted

if TYPE_CHECKING:
    from jobdeck.agents.base import AttemptContext
    from jobdeck.state.spec import Executor


TICK = 0.2
"""Seconds between two looks at the attempt's files (output growth, the wrapper's result)."""
RESULT_LAG = 5.0
"""Seconds to wait for the wrapper's result after the engine reports the job ended (a shared
filesystem's attribute cache may show the file late)."""
GONE_LOOKS = 2
"""Looks in a row that must miss a job before it counts as gone (not one slow answer)."""


class SubmitRefused(Exception):
    """The engine refused the job (bad partition, options, limits): one line, the engine's own words."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class NotTaken(AgentError):
    """The engine did not take the attempt's job: failed with the engine's reason, retried if it may pass."""

    reason = "not_submitted"

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class EngineUnreachable(Exception):
    """The engine did not answer (its controller is restarting, the network is down): try again later."""


class Vanished(Exception):
    """The engine no longer knows the attempt's job and it left no result: the attempt is interrupted."""


class Detached(Exception):
    """The runner stopped while the attempt's job runs on: it is left to run, for the next runner to take over."""


@dataclass(frozen=True, slots=True)
class RemoteState:
    """A job as the engine sees it."""

    phase: Literal["queued", "running", "ended", "gone"]
    why: str | None = None
    """Queued: the engine's reason (e.g. Resources, Priority)."""
    where: str | None = None
    """Running: the node(s)."""
    word: str | None = None
    """The engine's own word for the state (PENDING, RUNNING, TIMEOUT...)."""
    exit_code: int | None = None
    """Ended: the batch script's exit status, or minus the signal that killed it."""


@dataclass(frozen=True, slots=True)
class Submission:
    """What ``Engine.submit`` hands over."""

    name: str
    script: Path
    cwd: Path
    env: Mapping[str, str]
    stdout: Path
    stderr: Path
    time_limit: float | None
    """Seconds, or None for the engine's default."""


class Engine(ABC):
    """One batch system, configured by one ``executors`` entry."""

    kind: str = ""

    def __init__(self, name: str, spec: Executor, env: Mapping[str, str]) -> None:
        self.name = name
        self.spec = spec
        self.env = dict(env)
        """The environment its client commands run with (e.g. SLURM_CONF)."""
        self._watched: dict[str, RemoteState | None] = {}
        self._misses: dict[str, int] = {}
        self._poller: asyncio.Task[None] | None = None

    @abstractmethod
    async def submit(self, submission: Submission) -> str:
        """Submit; the engine's job id. Raises SubmitRefused, or EngineUnreachable when the outcome is unknown."""

    @abstractmethod
    async def find(self, name: str) -> str | None:
        """The id of the job with this name, if the engine knows it. Raises EngineUnreachable."""

    @abstractmethod
    async def look(self, ids: Sequence[str]) -> dict[str, RemoteState]:
        """The state of each job in ``ids``; a job the engine does not know is ``gone``. Raises EngineUnreachable."""

    @abstractmethod
    async def signal(self, job_id: str, signum: int) -> None:
        """Send ``signum`` to every process of the job (no error if it has ended)."""

    @abstractmethod
    async def cancel(self, job_id: str) -> None:
        """End the job, queued or running (no error if it has ended)."""

    # -- one poller for every watched job -----------------------------------------

    def watch(self, job_id: str) -> None:
        self._watched.setdefault(job_id, None)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    def unwatch(self, job_id: str) -> None:
        self._watched.pop(job_id, None)
        self._misses.pop(job_id, None)

    def state(self, job_id: str) -> RemoteState | None:
        """The last state seen (None: not looked at yet, or the engine did not answer)."""
        return self._watched.get(job_id)

    async def _poll(self) -> None:
        while self._watched:
            ids = list(self._watched)
            try:
                seen = await self.look(ids)
            except EngineUnreachable:
                seen = {}
            else:
                for job_id in ids:
                    if job_id not in self._watched:
                        continue
                    state = seen.get(job_id, RemoteState("gone"))
                    if state.phase == "gone":  # one missing answer is not a vanished job
                        self._misses[job_id] = self._misses.get(job_id, 0) + 1
                        if self._misses[job_id] < GONE_LOOKS:
                            continue
                    else:
                        self._misses.pop(job_id, None)
                    self._watched[job_id] = state
            await asyncio.sleep(self.spec.poll)


_engines: dict[tuple[str, str], Engine] = {}


def engine_for(name: str, spec: Executor, env: Mapping[str, str]) -> Engine:
    """The runner's one engine for the executor ``name`` as configured now (shared by its attempts)."""
    key = (name, spec.model_dump_json())
    engine = _engines.get(key)
    if engine is None:
        if spec.type == "slurm":
            from jobdeck.agents.slurm import SlurmEngine

            engine = SlurmEngine(name, spec, client_env(env))
        else:
            raise AgentError(f"executor '{name}' has type '{spec.type}', which runs no remote jobs")
        _engines[key] = engine
    return engine


def client_env(env: Mapping[str, str]) -> dict[str, str]:
    """What a batch system's client commands need of an environment: its own settings, no job secrets."""
    keep = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ")
    return {k: v for k, v in env.items() if k in keep or k.startswith(("SLURM_", "SQUEUE_", "SBATCH_"))}


def remote_name(ctx: AttemptContext, token: int) -> str:
    """The engine job's name: deck, job, attempt and claim, so a submission can be found again."""
    deck = sha256_hex(str(ctx.state_dir or ctx.workspace_dir).encode())[:8]
    return f"jobdeck.{deck}.{ctx.job.id}.{ctx.attempt}.{token}"


def wrapper_script(argv: Sequence[str], cwd: Path, stdin: Path | None, result: Path, ctx: AttemptContext) -> str:
    """The batch script: run ``argv`` in ``cwd`` and record its exit status in ``result`` (atomically).

    Every value is one single-quoted word, so nothing in it is read by the shell.
    The wrapper catches TERM (with a handler, which the command does not inherit,
    unlike an ignored signal) so that it outlives a cancel long enough to record
    how the command ended. The command's status is the wrapper's own exit status
    too, which the engine reports.
    """
    q = shlex.quote
    tmp = result.with_name(result.name + ".tmp")
    return "\n".join([
        "#!/bin/sh",
        f"# jobdeck: attempt {ctx.attempt} of job {ctx.job.id}",
        "trap 'jobdeck_signalled=1' TERM INT HUP",
        f"jobdeck_end() {{ printf '{{\"exit\": %d}}\\n' \"$1\" > {q(str(tmp))} && "
        f"mv -f {q(str(tmp))} {q(str(result))}; exit \"$1\"; }}",
        f"cd -- {q(str(cwd))} || jobdeck_end 126",
        " ".join(q(part) for part in argv) + f" < {q(str(stdin)) if stdin is not None else '/dev/null'}",
        "jobdeck_end $?",
        "",
    ])


def _write_record(ctx: AttemptContext, record: Mapping[str, Any], *, durable: bool = False) -> None:
    """Replace the attempt's ``remote.json``. Only the first write, before submitting, must survive a power
    cut: a record without the id is enough to find the job again by its name."""
    write_atomic(ctx.attempt_dir / REMOTE, json.dumps(record).encode(), mode=0o600, durable=durable)


def _read_result(path: Path) -> int | None:
    """The wrapper's recorded exit status (minus the signal for a shell's 128+N), or None if not there yet."""
    try:
        with open(open_in(path.parent, path.name, os.O_RDONLY), "rb") as file:
            data = json.loads(file.read())
        code = int(data["exit"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return -(code - 128) if 128 < code < 128 + 65 else code


class _Tail:
    """Copies what a file grows by into a sink (from where it was left)."""

    def __init__(self, path: Path, sink: OutputSink) -> None:
        self.path, self.sink, self.offset = path, sink, 0

    def pump(self) -> None:
        # Opened anew each time (a shared filesystem shows a file's growth on open), through no link.
        try:
            fd = open_in(self.path.parent, self.path.name, os.O_RDONLY)
        except OSError:  # not there yet, or a link a job put in its place: nothing of it is copied
            return
        with open(fd, "rb") as file:
            file.seek(self.offset)
            while chunk := file.read(1 << 16):
                self.offset += len(chunk)
                self.sink.write(chunk)


async def run_remote(engine: Engine, argv: Sequence[str], ctx: AttemptContext, *, stdin: bytes | None = None,
                     cwd: Path | None = None, token: int = 0) -> ProcessResult:
    """Run ``argv`` for one attempt on ``engine``; its exit status or timeout kind, as ``run_process`` gives.

    Raises ``Vanished`` when the job is lost, ``Detached`` when the runner stops
    while it runs on, ``AgentError`` when the engine refuses it.
    """
    directory = ctx.attempt_dir
    result_path = directory / REMOTE_RESULT
    resume = ctx.resume
    if resume is not None:  # a new runner takes over: its output is copied again from the start
        ctx.output.restart()
        _truncate(ctx.stderr_path)
    stderr_sink = OutputSink(ctx.stderr_path, ctx.redactor, clock=ctx.output.clock, lazy=True,
                             dir_fd=ctx.attempt_dir_fd)
    tails = (_Tail(directory / REMOTE_OUT, ctx.output), _Tail(directory / REMOTE_ERR, stderr_sink))
    record: dict[str, Any]
    job_id: str | None
    try:
        if resume is None:
            record, job_id = await _submit(engine, argv, ctx, stdin, cwd or ctx.workspace_dir, token)
        else:
            record, job_id = dict(resume), resume.get("id")
            if job_id is None:
                job_id = await _find_again(engine, record, result_path)
                if job_id is not None:
                    record["id"] = job_id
                    _write_record(ctx, record)
    except BaseException:
        stderr_sink.close()
        raise
    if job_id is not None:
        engine.watch(job_id)
    detached = False
    try:
        return await _follow(engine, job_id, record, ctx, tails, stderr_sink, result_path)
    except Detached:
        detached = True
        raise
    finally:
        if job_id is not None:
            engine.unwatch(job_id)
        stderr_sink.close()
        if not detached:
            clean_up(directory)


async def _submit(engine: Engine, argv: Sequence[str], ctx: AttemptContext, stdin: bytes | None, cwd: Path,
                  token: int) -> tuple[dict[str, Any], str]:
    directory = ctx.attempt_dir
    name = remote_name(ctx, token)
    try:
        stdin_path = None
        if stdin is not None:
            stdin_path = directory / REMOTE_STDIN
            write_atomic(stdin_path, stdin, mode=0o600, durable=False)
        script = directory / REMOTE_SCRIPT
        write_atomic(script, wrapper_script(argv, cwd, stdin_path, directory / REMOTE_RESULT, ctx).encode(), mode=0o600,
                     durable=False)
        record: dict[str, Any] = {"executor": engine.name, "engine": engine.kind, "name": name,
                                  "submitted": time.time()}
        # before submitting: a runner that dies from here on is followed by one that looks for the job
        _write_record(ctx, record, durable=True)
    except OSError as exc:
        raise NotStarted(str(exc)) from exc
    crash_point("remote.before_submit")
    hard = ctx.hard_timeout
    submission = Submission(name, script, cwd, ctx.env, directory / REMOTE_OUT, directory / REMOTE_ERR,
                            None if hard is None else hard + ctx.grace)
    try:
        job_id = await engine.submit(submission)
    except SubmitRefused as exc:
        raise NotTaken(f"{engine.name} refused the job: {exc}", transient=exc.transient) from None
    except EngineUnreachable as exc:  # perhaps submitted: look for it by name before saying no
        found = await _find_quietly(engine, name)
        if found is None:
            raise NotTaken(f"{engine.name} did not take the job: {exc}", transient=True) from None
        job_id = found
    crash_point("remote.submitted")  # (submitted, its id not recorded: found again by its name)
    record["id"] = job_id
    _write_record(ctx, record)
    crash_point("remote.after_submit")
    ctx.emit({"type": "progress", "remote": "submitted", "executor": engine.name, "remote_id": job_id})
    return record, job_id


async def _find_quietly(engine: Engine, name: str) -> str | None:
    try:
        return await engine.find(name)
    except EngineUnreachable:
        return None


async def _find_again(engine: Engine, record: Mapping[str, Any], result_path: Path) -> str | None:
    """After a crash between submitting and recording the id: the job by its name, if it was submitted."""
    if result_path.exists():
        return None  # it ran and ended: its result says how
    while True:
        try:
            found = await engine.find(str(record["name"]))
            break
        except EngineUnreachable:  # the controller is restarting, say: the attempt is ours, ask again
            await asyncio.sleep(engine.spec.poll * GONE_LOOKS)
    if found is None:
        raise Vanished(f"no job named {record['name']} on {engine.name}: it was never submitted, or is gone")
    return found


async def _follow(engine: Engine, job_id: str | None, record: dict[str, Any], ctx: AttemptContext,
                  tails: tuple[_Tail, _Tail], stderr_sink: OutputSink, result_path: Path) -> ProcessResult:
    """Copy output, watch the timeouts and the engine, until the job ends or must be stopped."""
    running_since: float | None = record.get("running_since")
    running_here = ctx.output.clock() if running_since is not None else None  # (the sinks' clock)
    last_said: tuple[str, str | None] | None = None
    ended_at: float | None = None
    timed_out: str | None = None
    try:
        while True:
            for tail in tails:
                tail.pump()
            code = _read_result(result_path)
            if code is not None:
                _cross_check(ctx, engine, job_id, code)
                return ProcessResult(code, None)
            state = engine.state(job_id) if job_id is not None else None
            if state is not None:
                said = (state.phase, state.why if state.phase == "queued" else state.where)
                if said != last_said:
                    last_said = said
                    _tell(ctx, engine, job_id, state)
                if state.phase == "running" and running_since is None:
                    running_since, running_here = time.time(), ctx.output.clock()
                    record["running_since"] = running_since
                    _write_record_quietly(ctx, record)
                if state.phase == "gone":
                    raise Vanished(f"job {job_id} on {engine.name} is gone and left no result")
                if state.phase == "ended":
                    ended_at = ended_at or time.monotonic()
                    if time.monotonic() - ended_at >= RESULT_LAG:  # the wrapper itself was stopped
                        for tail in tails:
                            tail.pump()
                        return _ended_without_result(engine, job_id, state)
            if ctx.output.over_limit:
                timed_out = "output_limit"
            elif running_since is not None and running_here is not None:
                timed_out = _timed_out(ctx, running_since, running_here, stderr_sink)
            if timed_out is not None:
                break
            # output comes only once the job runs: while it is queued, the engine's own looks suffice
            queued = state is not None and state.phase == "queued"
            await asyncio.sleep(engine.spec.poll if queued else TICK)
        assert job_id is not None  # (a job with no id never runs: it vanished above)
        code = await _stop(engine, job_id, ctx.grace, result_path, tails)
        return ProcessResult(code, timed_out)
    except asyncio.CancelledError:
        if job_id is not None:
            if ctx.detach():
                ctx.note(None)
                raise Detached(f"job {job_id} runs on on {engine.name}") from None
            await asyncio.shield(_stop(engine, job_id, ctx.grace, result_path, tails))
        raise
    finally:
        ctx.note(None)


def _cross_check(ctx: AttemptContext, engine: Engine, job_id: str | None, code: int) -> None:
    """When the engine has already reported the job's end, say so if its exit status is not the wrapper's.

    The wrapper's record stands (it is the command's own status); a disagreement
    means something stopped the batch script after the command ended, such as a
    memory limit, and is worth a line in the chain of work.
    """
    state = engine.state(job_id) if job_id is not None else None
    if state is None or state.phase != "ended" or state.exit_code is None or state.exit_code == code:
        return
    ctx.emit({"type": "progress", "remote": "disagrees", "executor": engine.name, "remote_id": job_id,
              "state": state.word, "engine_exit": state.exit_code, "exit_code": code})


def _ended_without_result(engine: Engine, job_id: str | None, state: RemoteState) -> ProcessResult:
    """How an attempt ended whose wrapper recorded nothing: only the engine's word is left.

    Slurm's time limit is a hard timeout. A job that ran to its end (COMPLETED,
    FAILED) has the batch script's exit status. Anything else (cancelled outside
    jobdeck, a node failure, preemption, out of memory) says nothing of the
    command: the attempt is interrupted, then retried or sent to review.
    """
    if state.word == "TIMEOUT":
        return ProcessResult(state.exit_code, "hard_timeout")
    if state.word in ("COMPLETED", "FAILED") and state.exit_code is not None:
        return ProcessResult(state.exit_code, None)
    raise Vanished(f"job {job_id} on {engine.name} ended {state.word or 'without a state'}, and left no result")


def _timed_out(ctx: AttemptContext, running_since: float, running_here: float,
               stderr_sink: OutputSink) -> str | None:
    """Which timeout has passed: hard from when the job started running (wall clock, kept in the
    record across runners), idle from its last output or from when this runner saw it run."""
    if ctx.hard_timeout is not None and time.time() - running_since >= ctx.hard_timeout:
        return "hard_timeout"
    if ctx.idle_timeout is not None:
        last = max(ctx.output.last_activity, stderr_sink.last_activity, running_here)
        if ctx.output.clock() - last >= ctx.idle_timeout:
            return "idle_timeout"
    return None


async def _stop(engine: Engine, job_id: str, grace: float, result_path: Path, tails: tuple[_Tail, _Tail]) -> int | None:
    """TERM to every process of the job, KILL after ``grace``, then end it; its exit status if recorded."""
    state = engine.state(job_id)
    if state is not None and state.phase == "queued":
        await engine.cancel(job_id)
        return None
    await engine.signal(job_id, signals.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for tail in tails:
            tail.pump()
        code = _read_result(result_path)
        if code is not None:
            await engine.cancel(job_id)
            return code
        await asyncio.sleep(TICK)
    await engine.signal(job_id, signals.SIGKILL)
    await engine.cancel(job_id)
    for tail in tails:
        tail.pump()
    return _read_result(result_path)


def _tell(ctx: AttemptContext, engine: Engine, job_id: str | None, state: RemoteState) -> None:
    """Say where the job is: a note on the card, and a progress event in the chain of work."""
    if state.phase == "queued":
        ctx.note(f"queued on {engine.name} ({state.word or 'PD'}: {state.why or 'waiting'})")
    elif state.phase == "running":
        ctx.note(f"running on {engine.name}" + (f" ({state.where})" if state.where else ""))
    else:
        ctx.note(None)
    event: dict[str, Any] = {"type": "progress", "remote": state.phase, "executor": engine.name,
                             "remote_id": job_id}
    if state.why and state.phase == "queued":
        event["why"] = state.why
    if state.where and state.phase == "running":
        event["node"] = state.where
    if state.phase == "running" or state.why:  # (a job queued for no reason yet is about to start)
        ctx.emit(event)


def _write_record_quietly(ctx: AttemptContext, record: Mapping[str, Any]) -> None:
    try:
        _write_record(ctx, record)
    except OSError:
        pass  # only a taken-over attempt's hard timeout reads it; it would count from the takeover


def _truncate(path: Path) -> None:
    try:
        os.close(open_in(path.parent, path.name, os.O_WRONLY | os.O_TRUNC))
    except OSError:
        pass


def clean_up(directory: Path) -> None:
    """Remove a finished remote attempt's scratch files (its raw output may hold what redaction hides)."""
    for name in REMOTE_SCRATCH:
        try:
            os.unlink(directory / name)
        except OSError:
            pass
