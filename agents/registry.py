"""Which Agent runs a job: terse ``command`` → shell, ``model`` → llm, ``agent`` → named/preset."""

from __future__ import annotations

from typing import Any

from agents.base import Agent
from agents.shell import ShellAgent
from state.errors import AgentError


def agent_type(job: Any, spec: Any) -> str:
    """The agent type name a job runs with."""
    if job.agent is not None:
        named = spec.agents.get(job.agent)
        return named.type if named is not None else job.agent
    if job.model is not None:
        return "llm"
    return "shell"


def agent_for(job: Any, spec: Any) -> tuple[Agent, Any | None]:
    """(Agent instance, the named AgentSpec or None) for ``job``."""
    kind = agent_type(job, spec)
    named = spec.agents.get(job.agent) if job.agent is not None else None
    if kind == "shell":
        return ShellAgent(), named
    raise AgentError(f"job '{job.id}': agent type '{kind}' is not available yet")
