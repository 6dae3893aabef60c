"""Which Agent runs a job: terse ``command`` → shell, ``model`` → llm, ``agent`` → named/preset/plugin.

Agents are stateless per attempt, so one instance per type serves every job; the
llm agent's circuit breaker is therefore shared by all jobs of the registry. The
module-level ``agent_for`` uses one process-wide ``Registry`` (the runner's);
tests and embedders can build their own. Third-party agent types come from the
``jobdeck.agents`` entry point group, looked up only when a job asks for a type
jobdeck does not ship. Nothing here imports litellm: the llm agent imports it
inside its first call.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

from jobdeck.agents.base import Agent
from jobdeck.agents.breaker import Breaker
from jobdeck.state.errors import AgentError

if TYPE_CHECKING:
    from jobdeck.state.spec import AgentSpec, Job, Spec

ENTRY_POINT_GROUP = "jobdeck.agents"


def agent_type(job: Job, spec: Spec) -> str:
    """The agent type name a job runs with."""
    if job.agent is not None:
        named = spec.agents.get(job.agent)
        return named.type if named is not None else job.agent
    if job.model is not None:
        return "llm"
    return "shell"


class Registry:
    """Agent instances by type, built on first use; owns the breaker the llm agent shares."""

    def __init__(self, breaker: Breaker | None = None) -> None:
        self.breaker = breaker or Breaker()
        self._agents: dict[str, Agent] = {}

    def agent_for(self, job: Job, spec: Spec) -> tuple[Agent, AgentSpec | None]:
        """(Agent instance, the named AgentSpec or None) for ``job``.

        Raises:
            AgentError: the type is neither built in nor provided by an installed plugin.
        """
        kind = agent_type(job, spec)
        named = spec.agents.get(job.agent) if job.agent is not None else None
        agent = self._agents.get(kind)
        if agent is None:
            agent = self._agents[kind] = self._build(kind)
        return agent, named

    def _build(self, kind: str) -> Agent:
        if kind == "shell":
            from jobdeck.agents.shell import ShellAgent

            return ShellAgent()
        if kind == "llm":
            from jobdeck.agents.llm import LLMAgent

            return LLMAgent(self.breaker)
        from jobdeck.agents.presets import PRESETS, PresetAgent

        if kind in PRESETS:
            return PresetAgent(PRESETS[kind])
        return _plugin(kind)


def _plugin(kind: str) -> Agent:
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind]
    if not found:
        raise AgentError(
            f"unknown agent type '{kind}'",
            hint="use shell, llm, claude, codex, aider or gemini, or install a plugin that registers "
                 f"'{kind}' in the {ENTRY_POINT_GROUP} entry point group",
        )
    try:
        loaded = found[0].load()
    except (ImportError, AttributeError) as exc:
        raise AgentError(f"agent plugin '{kind}' ({found[0].value}) failed to load: {exc}") from None
    agent = loaded() if callable(loaded) and not isinstance(loaded, Agent) else loaded
    if not isinstance(agent, Agent):
        raise AgentError(f"agent plugin '{kind}' ({found[0].value}) did not provide a jobdeck.agents.base.Agent")
    return agent


#: The runner process's registry: every job it runs shares these agents and one breaker.
default_registry = Registry()


def agent_for(job: Job, spec: Spec) -> tuple[Agent, AgentSpec | None]:
    """(Agent instance, the named AgentSpec or None) for ``job``, from the process-wide registry."""
    return default_registry.agent_for(job, spec)
