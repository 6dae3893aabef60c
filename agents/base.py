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

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from jobdeck.state.redact import Redactor


class Failure(StrEnum):
    """How a failed attempt should be handled."""

    TRANSIENT = "transient"
    """Try again after a backoff (rate limit, connection, 5xx, timeout, retryable exit code)."""
    PERSISTENT = "persistent"
    """Trying the same thing again will fail the same way (auth, bad request, exit code)."""
    CONTEXT = "context"
    """The input is too long for the model; only a larger model helps."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended, as the agent saw it (output validation comes after)."""

    ok: bool
    reason: str = "succeeded"
    """Short machine-readable reason: succeeded, exit_code, idle_timeout, hard_timeout, rate_limit..."""
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


class OutputSink:
    """The attempt's output file: appended as data arrives, redacted, activity-stamped.

    Writes go straight to the file (no buffering in Python) so a reader tailing it
    sees partial output at once. A secret split across two writes is caught by
    holding back a few bytes until the next write or ``close``.
    """

    def __init__(self, path: Path, redactor: Redactor, *, clock: Callable[[], float] = time.monotonic,
                 lazy: bool = False, fd: int | None = None) -> None:
        self.path = path
        self.redactor = redactor
        self.clock = clock
        self.bytes_written = 0
        self.last_activity = clock()
        self._held = b""
        self._keep = redactor.tail_keep() if redactor else 0
        self.opened = False
        """Whether the file was created (a lazy sink creates it on the first write)."""
        if fd is not None:  # already open (O_APPEND), e.g. created along with the attempt's lease
            self._fd, self.opened = fd, True
        else:
            self._fd = -1 if lazy else self._open()
        self._closed = False

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.opened = True
        return fd

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.last_activity = self.clock()
        if self._keep:
            data, self._held = self.redactor.split(self._held + data, self._keep)
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self._fd < 0 and data:
            self._fd = self._open()
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            self.bytes_written += n
            view = view[n:]

    def touch(self) -> None:
        """Record activity without bytes (e.g. a keep-alive token)."""
        self.last_activity = self.clock()

    def direct_fd(self) -> int:
        """The file's descriptor, for a child that writes its output straight into it.

        Only for a child that cannot see any secret (nothing to redact): its bytes
        then skip the runner entirely. Call ``sync_activity`` to notice its writes.
        """
        if self._fd < 0:
            self._fd = self._open()
        self._direct = True
        return self._fd

    def sync_activity(self, wall_now: float | None = None) -> None:
        """For a direct child: take size and last write time from the file itself."""
        if not getattr(self, "_direct", False):
            return
        st = os.fstat(self._fd)
        if st.st_size != self.bytes_written:
            self.bytes_written = st.st_size
            wall_now = time.time() if wall_now is None else wall_now
            # the file's mtime is the child's last write; express it on our clock
            self.last_activity = max(self.last_activity, self.clock() - max(0.0, wall_now - st.st_mtime_ns / 1e9))

    def flush(self) -> None:
        """Write the bytes held back for redaction.

        Call only at a boundary no secret can span, such as the end of a model's
        reply; ``close`` does this too.
        """
        if self._held and not self._closed:
            held, self._held = self._held, b""
            self._write(self.redactor.data(held))

    def restart(self) -> None:
        """Empty the file so a replacement can be written (keep the old content elsewhere first).

        A reader tailing the file sees it shrink to zero and start again.
        """
        self.flush()
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
        self.bytes_written = 0
        self.last_activity = self.clock()

    def close(self) -> None:
        if self._closed:
            return
        self.sync_activity()
        self.flush()
        self._closed = True
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@dataclass
class AttemptContext:
    """Everything an agent needs to run one attempt. Built by the runner."""

    job: Any
    """The job's spec (state.spec.Job)."""
    agent_spec: Any | None
    """The named agent's spec (state.spec.AgentSpec), or None for terse jobs."""
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
            ``hard_timeout``), not exceptions.

        Raises:
            asyncio.CancelledError: after stopping all work, when the runner cancels.
            state.errors.AgentError: the agent cannot run at all (bad configuration).
        """
