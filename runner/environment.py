"""What an attempt's agent is given: its environment, inputs, dependency outputs and limits.

The environment is the runner's own, then the named agent's and the job's
``env`` (``{"env": NAME}`` references read from the runner's environment, so a
secret is named in jobs.json, never written there), then the ``JOBDECK_*``
variables that tell the program where its attempt, output and inputs are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.agents.base import AttemptContext
from jobdeck.agents.output_sink import OutputSink
from jobdeck.runner.attempt import Claimed
from jobdeck.state.attempts import OUTPUT, STDERR
from jobdeck.state.ids import env_suffix
from jobdeck.state.deck import Deck
from jobdeck.state.errors import AgentError
from jobdeck.state.machine import JobState
from jobdeck.state.redact import Redactor

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.spec import AgentSpec, EnvValue, Job, Spec


def resolve_env(values: Mapping[str, EnvValue], environ: Mapping[str, str], where: str) -> dict[str, str]:
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
    """Output of the job's latest successful attempt (retention keeps it: state/retention.py)."""
    attempt = state.last_success
    if attempt is None:
        return None
    return deck.attempt_dir(attempt.workspace, job_id, attempt.n) / OUTPUT


def build_context(deck: Deck, spec: Spec, job: Job, agent_spec: AgentSpec | None, claimed: Claimed,
                  board: Board, redactor: Redactor, emit: Callable[[Mapping[str, Any]], None],
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
    output = OutputSink(claimed.directory / OUTPUT, redactor, fd=claimed.take_output() if claimed.output_fd >= 0 else None,
                        limit=spec.output_limit(job)[0])
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
    if claimed.boundary is not None:
        env.update(claimed.boundary.env)
    if previous is not None:
        env["JOBDECK_PREVIOUS_OUTPUT"] = str(previous)
    if "input" in inputs:
        env["JOBDECK_INPUT"] = inputs["input"]
    for name, value in inputs.items():
        env[f"JOBDECK_VAR_{env_suffix(name)}"] = value
    for dep, path in dep_outputs.items():
        env[f"JOBDECK_INPUT_{env_suffix(dep)}"] = str(path)
    return AttemptContext(
        job=job, agent_spec=agent_spec, attempt=claimed.attempt, attempt_dir=claimed.directory,
        workspace_dir=workspace_dir, output=output, stderr_path=claimed.directory / STDERR,
        env=env, inputs=inputs, dep_outputs=dep_outputs, previous_output=previous,
        idle_timeout=job.timeout.idle, hard_timeout=job.timeout.hard, grace=job.timeout.grace,
        pass_fds=(claimed.lease_fd,), redactor=redactor, emit=emit,
        state_dir=deck.state_dir,  # model cooldowns are shared with every runner on the deck
        attempt_dir_fd=claimed.dir_fd if claimed.dir_fd >= 0 else None,
        boundary=claimed.boundary,
        route=claimed.route,
        executor=spec.executor_of(job),
        token=claimed.token,
        resume=claimed.resume,
    )
