"""The registry resolves every way a job names its agent, and loads plugins lazily."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.agents.llm import LLMAgent
from jobdeck.agents.presets import PresetAgent
from jobdeck.agents.registry import Registry, agent_type
from jobdeck.agents.shell import ShellAgent
from jobdeck.state.errors import AgentError
from jobdeck.state.spec import Spec


def resolve(registry: Registry, job: dict[str, Any], agents: dict[str, Any] | None = None) -> tuple[Any, Any]:
    spec = Spec.model_validate({"agents": agents or {}, "jobs": [job]})
    return registry.agent_for(spec.jobs[0], spec)


def test_terse_forms() -> None:
    registry = Registry()
    agent, named = resolve(registry, {"id": "a", "command": ["true"]})
    assert isinstance(agent, ShellAgent) and not isinstance(agent, PresetAgent) and named is None
    agent, named = resolve(registry, {"id": "b", "model": "openai/gpt-4o-mini", "prompt": "hi"})
    assert isinstance(agent, LLMAgent) and agent.breaker is registry.breaker and named is None


@pytest.mark.parametrize("tool", ["claude", "codex", "aider", "gemini"])
def test_builtin_presets_by_name(tool: str) -> None:
    agent, named = resolve(Registry(), {"id": "a", "agent": tool, "prompt": "hi"})
    assert isinstance(agent, PresetAgent) and agent.type == tool and named is None


def test_named_agents_use_their_type_and_come_back_with_their_spec() -> None:
    agents = {"writer": {"type": "llm", "model": "openai/x"}, "coder": {"type": "codex"}}
    agent, named = resolve(Registry(), {"id": "a", "agent": "writer", "prompt": "hi"}, agents)
    assert isinstance(agent, LLMAgent) and named.model == "openai/x"
    agent, named = resolve(Registry(), {"id": "a", "agent": "coder", "prompt": "hi"}, agents)
    assert isinstance(agent, PresetAgent) and agent.preset.name == "codex" and named.type == "codex"


def test_one_instance_per_type_shares_the_breaker() -> None:
    registry = Registry()
    first, _ = resolve(registry, {"id": "a", "model": "openai/x", "prompt": "hi"})
    second, _ = resolve(registry, {"id": "b", "agent": "w", "prompt": "hi"}, {"w": {"type": "llm", "model": "m"}})
    assert first is second


def test_unknown_type_names_the_fix() -> None:
    with pytest.raises(AgentError, match="unknown agent type 'nope'") as caught:
        resolve(Registry(), {"id": "a", "agent": "x", "prompt": "hi"}, {"x": {"type": "nope"}})
    assert "jobdeck.agents" in str(caught.value)


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str, str], None]]:
    """Install a throwaway distribution with a jobdeck.agents entry point (real importlib.metadata)."""
    modules: list[str] = []

    def install(name: str, module: str, source: str) -> None:
        (tmp_path / f"{module}.py").write_text(source)
        dist = tmp_path / f"{module}-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
        (dist / "entry_points.txt").write_text(f"[jobdeck.agents]\n{name} = {module}:PROVIDED\n")
        modules.append(module)

    monkeypatch.syspath_prepend(str(tmp_path))
    yield install
    for module in modules:
        sys.modules.pop(module, None)


def test_plugins_load_through_the_entry_point_group(plugin: Callable[[str, str, str], None]) -> None:
    plugin("echo", "jobdeck_echo_plugin", (
        "from jobdeck.agents.base import Agent, Outcome\n"
        "class PROVIDED(Agent):\n"
        "    type = 'echo'\n"
        "    async def run(self, ctx):\n"
        "        return Outcome.success()\n"
    ))
    assert "jobdeck_echo_plugin" not in sys.modules
    agent, named = resolve(Registry(), {"id": "a", "agent": "e", "prompt": "hi"}, {"e": {"type": "echo"}})
    assert type(agent).__module__ == "jobdeck_echo_plugin" and named.type == "echo"


def test_a_plugin_that_is_not_an_agent_is_refused(plugin: Callable[[str, str, str], None]) -> None:
    plugin("bogus", "jobdeck_bogus_plugin", "PROVIDED = 42\n")
    with pytest.raises(AgentError, match="did not provide"):
        resolve(Registry(), {"id": "a", "agent": "bogus", "prompt": "hi"})


def test_builtin_types_never_scan_entry_points(plugin: Callable[[str, str, str], None]) -> None:
    plugin("claude", "jobdeck_shadow_plugin", "raise RuntimeError('must not be imported')\n")
    agent, _ = resolve(Registry(), {"id": "a", "agent": "claude", "prompt": "hi"})
    assert isinstance(agent, PresetAgent) and "jobdeck_shadow_plugin" not in sys.modules


def test_agent_type() -> None:
    spec = Spec.model_validate({"jobs": [{"id": "a", "agent": "claude", "model": "sonnet", "prompt": "p"}]})
    assert agent_type(spec.jobs[0], spec) == "claude"
