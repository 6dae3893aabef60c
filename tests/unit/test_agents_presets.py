"""CLI presets build the documented headless argv with the prompt as one element."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from jobdeck.agents.presets import MAX_ARG_BYTES, PRESETS, PresetAgent  # noqa: E402
from jobdeck.state.errors import AgentError  # noqa: E402
from tests.fixtures.attempts import make_attempt  # noqa: E402

PROMPT = "--help; rm -rf / $(id) `id` 'quoted' \"double\"\nsecond line"


def invocation(tmp_path: Path, tool: str, agents: dict[str, Any] | None = None, **job: Any) -> tuple[list[str], Any]:
    spec = {"id": "j", "agent": tool, "prompt": PROMPT, **job}
    record = make_attempt(tmp_path, spec, agents=agents, env={})
    named = record.ctx.agent_spec
    kind = named.type if named is not None else tool
    try:
        return PresetAgent(PRESETS[kind]).invocation(record.ctx)
    finally:
        record.close()


@pytest.mark.parametrize(("tool", "argv"), [
    ("claude", ["claude", "-p", "--", PROMPT]),
    ("codex", ["codex", "exec", "--skip-git-repo-check", "--", PROMPT]),
    ("aider", ["aider", "--yes-always", "--no-pretty", f"--message={PROMPT}"]),
    ("gemini", ["gemini", f"--prompt={PROMPT}"]),
])
def test_prompt_is_one_argument_and_stdin_is_empty(tmp_path: Path, tool: str, argv: list[str]) -> None:
    assert invocation(tmp_path, tool) == (argv, None)


def test_model_and_extra_args_come_before_the_prompt(tmp_path: Path) -> None:
    agents = {"coder": {"type": "claude", "model": "sonnet", "options": {"args": ["--permission-mode", "acceptEdits"]}}}
    argv, _ = invocation(tmp_path, "coder", agents)
    assert argv == ["claude", "-p", "--model", "sonnet", "--permission-mode", "acceptEdits", "--", PROMPT]


def test_the_jobs_model_wins(tmp_path: Path) -> None:
    agents = {"coder": {"type": "codex", "model": "o3"}}
    argv, _ = invocation(tmp_path, "coder", agents, model="gpt-5")
    assert argv[3:5] == ["--model", "gpt-5"]


def test_a_named_command_replaces_the_template(tmp_path: Path) -> None:
    agents = {"coder": {"type": "claude", "command": ["claude", "-p", "--output-format", "json", "{{prompt}}"]}}
    argv, stdin = invocation(tmp_path, "coder", agents)
    assert argv == ["claude", "-p", "--output-format", "json", PROMPT] and stdin is None


def test_bad_args_option_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="args"):
        invocation(tmp_path, "coder", {"coder": {"type": "gemini", "options": {"args": "--yolo"}}})


def test_a_prompt_too_long_for_argv_goes_on_stdin_or_in_a_file(tmp_path: Path) -> None:
    long = "x" * (MAX_ARG_BYTES + 1)
    for tool, tail in (("claude", ["-p"]), ("codex", ["--", "-"]), ("gemini", ["gemini"])):
        (tmp_path / tool).mkdir()
        argv, stdin = invocation(tmp_path / tool, tool, prompt=long)
        assert argv[-len(tail):] == tail and stdin == long.encode()
    argv, stdin = invocation(tmp_path, "aider", prompt=long)
    assert stdin is None and argv[-1].startswith("--message-file=")
    assert Path(argv[-1].split("=", 1)[1]).read_text() == long


def test_a_preset_job_needs_a_prompt(tmp_path: Path) -> None:
    record = make_attempt(tmp_path, {"id": "j", "agent": "claude"}, env={})
    with pytest.raises(AgentError, match="no prompt"):
        PresetAgent(PRESETS["claude"]).invocation(record.ctx)
    record.close()
