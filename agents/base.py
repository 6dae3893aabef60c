"""The agent interface: how one attempt of a job is executed.

The runner builds an ``AttemptContext`` (paths, environment, limits, an output
sink) and awaits ``Agent.run(ctx)``, which returns an ``Outcome``. An agent
enforces the job's idle and hard timeouts itself because only it knows how to
stop its work (kill a process group, cancel a request); if the runner cancels
the task (operator cancel, shutdown) the agent stops its work before the
CancelledError propagates. The bundled agents (shell, CLI presets, llm) are the
reference implementations; third parties register more through the
``jobdeck.agents`` entry point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.agents.output_sink import OutputSink
from jobdeck.state.redact import Redactor
from jobdeck.state.sizes import format_size

if TYPE_CHECKING:
    from jobdeck.state.spec import AgentSpec, Executor, Job

if TYPE_CHECKING:
    from jobdeck.agents.boundary import Boundary


class Failure(StrEnum):
    """How a failed attempt should be handled."""

    TRANSIENT = "transient"
    """Try again after a backoff (rate limit, connection, 5xx, timeout, an empty answer, retryable exit code)."""
    PERSISTENT = "persistent"
    """Trying the same thing again will fail the same way (auth, bad request, exit code)."""
    CONTEXT = "context"
    """The input is too long for the model; only a larger model helps."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended, as the agent saw it (output validation comes after)."""

    ok: bool
    reason: str = "succeeded"
    """Short machine-readable reason: succeeded, exit_code, idle_timeout, hard_timeout, output_limit, rate_limit..."""
    failure: Failure | None = None
    message: str | None = None
    """One line for people, already redacted."""
    exit_code: int | None = None
    retry_after: float | None = None
    """Seconds the provider asked us to wait (Retry-After), if any."""
    usage: Mapping[str, Any] | None = None
    cost: float | None = None
    model: str | None = None

    @classmethod
    def success(cls, **kwargs: Any) -> Outcome:
        return cls(ok=True, **kwargs)

    @classmethod
    def failed(cls, reason: str, failure: Failure, message: str | None = None, **kwargs: Any) -> Outcome:
        return cls(ok=False, reason=reason, failure=failure, message=message, **kwargs)


@dataclass
class AttemptContext:
    """Everything an agent needs to run one attempt. Built by the runner."""

    job: Job
    """The job's spec."""
    agent_spec: AgentSpec | None
    """The named agent's spec, or None for terse jobs."""
    attempt: int
    attempt_dir: Path
    workspace_dir: Path
    output: OutputSink
    stderr_path: Path
    env: dict[str, str]
    """Complete environment for child processes (runner env + job env + JOBDECK_* vars)."""
    inputs: dict[str, str] = field(default_factory=dict)
    """Named inputs: the job's, the trigger's (``input`` is the trigger file's path)."""
    dep_outputs: dict[str, Path] = field(default_factory=dict)
    """Output file of each dependency's latest successful attempt."""
    previous_output: Path | None = None
    """Output of this job's previous attempt, for resuming."""
    idle_timeout: float | None = None
    hard_timeout: float | None = None
    grace: float = 5.0
    pass_fds: tuple[int, ...] = ()
    """Descriptors the child must inherit (the attempt's lease)."""
    redactor: Redactor = field(default_factory=lambda: Redactor({}))
    emit: Callable[[Mapping[str, Any]], None] = lambda event: None
    """Report a progress event (retry, model switch) for the chain of work."""
    pid: int | None = None
    """The child process's pid once started (set by ``run_process``); recorded in the outcome."""
    state_dir: Path | None = None
    """The deck's ``.jobdeck`` directory. When set, LLM model cooldowns are shared
    with other runner processes through ``cooldowns.json`` in it."""
    attempt_dir_fd: int | None = None
    """``attempt_dir``, open. Files an agent creates there are opened relative to it
    (``state.attempt_dirs.open_in``), so no link a job put in the workspace is followed."""

    boundary: Boundary | None = None
    """What holds every process the attempt starts (``agents/boundary.py``); None: the
    child's process group only. ``run_process`` puts its child inside: agents start
    processes through it."""
    route: str | None = None
    """For llm agents: the model to try first, chosen by the decision service from the job's own
    model and fallbacks (the others follow in their written order); None: the written order."""
    executor: tuple[str, Executor] | None = None
    """Where the process runs when not here: the ``executors`` entry, by name (``agents/remote.py``)."""
    token: int = 0
    """The claim's token (the remote job's name carries it)."""
    resume: Mapping[str, Any] | None = None
    """A remote attempt this runner takes over from a dead one: its record (``remote.json``)."""
    note: Callable[[str | None], None] = lambda text: None
    """Say where the attempt is now, for its card (e.g. "queued on gpu (PD: Resources)"); None clears it."""
    detach: Callable[[], bool] = lambda: False
    """Whether a cancelled remote attempt should be left running (the runner is stopping, not the operator)."""


def timeout_words(kind: str, limit: float | None, silent: str = "no output") -> str:
    """What a timed-out attempt's reason begins with: "hard timeout: running for 5s", "idle timeout: no output for
    3s" (``silent``: what went missing for an idle one, e.g. "no tokens from MODEL")."""
    if kind == "idle_timeout":
        return f"idle timeout: {silent} for {limit or 0:g}s"
    return f"hard timeout: running for {limit or 0:g}s"


def output_limit_outcome(ctx: AttemptContext, exit_code: int | None = None) -> Outcome:
    """The outcome of an attempt whose output passed its size limit: a failure retrying would repeat."""
    limit = ctx.output.limit or 0
    field = "output_limit" if getattr(ctx.job, "output_limit", None) is not None else "limits.output"
    return Outcome.failed("output_limit", Failure.PERSISTENT, f"output passed {format_size(limit)} ({field})",
                          exit_code=exit_code)


class Agent(ABC):
    """Executes attempts of jobs. One instance may run many attempts concurrently."""

    #: Name used in jobs.json ``agents.<name>.type``.
    type: str = ""

    @abstractmethod
    async def run(self, ctx: AttemptContext) -> Outcome:
        """Run one attempt to its end.

        Args:
            ctx: the attempt's paths, environment, limits and output sink.

        Returns:
            The Outcome. Timeouts are outcomes (reason ``idle_timeout`` /
            ``hard_timeout``), not exceptions. Output written past
            ``ctx.output.limit`` is not kept, and the runner records the
            attempt as an ``output_limit`` failure whatever this returns;
            an agent should stop its work once ``ctx.output.over_limit``.

        Raises:
            asyncio.CancelledError: after stopping all work, when the runner cancels.
            state.errors.AgentError: the agent cannot run at all (bad configuration).
        """
