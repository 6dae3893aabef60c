"""CLI presets run real processes: stand-in executables on PATH report the argv they received."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the repo root, for tests.fixtures

from jobdeck.agents.base import Failure, Outcome  # noqa: E402
from jobdeck.agents.presets import PRESETS, PresetAgent  # noqa: E402
from jobdeck.agents.registry import Registry  # noqa: E402
from tests.fixtures.attempts import Attempt, make_attempt  # noqa: E402

STAND_INS = ROOT / "tests" / "fixtures" / "bin"
PROMPT = "Fix the bug in {{inputs.file}}; don't run $(rm -rf ~) or `id`.\n--help"
RENDERED = "Fix the bug in src/app.py; don't run $(rm -rf ~) or `id`.\n--help"


def env(**extra: str) -> dict[str, str]:
    return {"PATH": f"{STAND_INS}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/"), **extra}


def job(tool: str, **fields: Any) -> dict[str, Any]:
    return {"id": f"fix-{tool}", "agent": tool, "prompt": PROMPT, "inputs": {"file": "src/app.py"}, **fields}


def run(record: Attempt) -> Outcome:
    agent, _ = Registry().agent_for(record.ctx.job, record.spec)
    assert isinstance(agent, PresetAgent)
    try:
        return asyncio.run(agent.run(record.ctx))
    finally:
        record.close()


def report(record: Attempt) -> dict[str, Any]:
    return json.loads(record.ctx.output.path.read_text().splitlines()[-1])


@pytest.mark.parametrize("tool", sorted(PRESETS))
def test_each_preset_passes_the_rendered_prompt_as_one_argument(tmp_path: Path, tool: str) -> None:
    record = make_attempt(tmp_path, job(tool), env=env())
    outcome = run(record)
    assert outcome.ok
    seen = report(record)
    assert seen["tool"] == tool and seen["stdin"] == ""
    assert seen["cwd"] == str(record.ctx.workspace_dir)
    expected = [arg.replace("{{prompt}}", RENDERED) for arg in (*PRESETS[tool].base[1:], *PRESETS[tool].prompt_arg)]
    assert seen["argv"] == expected
    assert (record.ctx.attempt_dir / "stderr.log").read_text() == "stand-in diagnostics\n"


def test_output_streams_while_the_tool_runs(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    record = make_attempt(tmp_path, job("claude"), env=env(STAND_IN_GATE=str(gate)))

    async def scenario() -> Outcome:
        task = asyncio.create_task(PresetAgent(PRESETS["claude"]).run(record.ctx))
        deadline = time.monotonic() + 10
        while record.ctx.output.path.read_text() != "started\n":
            assert time.monotonic() < deadline, "no partial output"
            await asyncio.sleep(0.01)
        assert not task.done()
        gate.touch()
        return await task

    outcome = asyncio.run(scenario())
    record.close()
    assert outcome.ok and report(record)["argv"][-1] == RENDERED


def test_a_long_prompt_reaches_codex_on_stdin(tmp_path: Path) -> None:
    long = "y" * 150_000
    record = make_attempt(tmp_path, job("codex", prompt=long), env=env())
    assert run(record).ok
    seen = report(record)
    assert seen["argv"][-2:] == ["--", "-"] and seen["stdin"] == long


def test_a_long_prompt_reaches_aider_through_a_message_file(tmp_path: Path) -> None:
    long = "z" * 150_000
    record = make_attempt(tmp_path, job("aider", prompt=long), env=env())
    assert run(record).ok
    assert report(record)["message_file"] == long


def test_named_agent_model_args_and_env(tmp_path: Path) -> None:
    agents = {"coder": {"type": "gemini", "model": "gemini-2.5-pro", "options": {"args": ["--yolo"]},
                        "env": {"STAND_IN_ECHO": "AGENT_SETTING", "AGENT_SETTING": {"env": "FROM_RUNNER"}}}}
    record = make_attempt(tmp_path, job("coder"), agents=agents, env=env(FROM_RUNNER="resolved"))
    assert run(record).ok
    assert record.ctx.pid is not None  # the runner records the child's pid from this context
    seen = report(record)
    assert seen["argv"] == ["--model", "gemini-2.5-pro", "--yolo", f"--prompt={RENDERED}"]
    assert seen["echo"] == "resolved"


def test_a_failing_tool_maps_to_the_jobs_retry_policy(tmp_path: Path) -> None:
    record = make_attempt(tmp_path, job("aider", retry={"retryable_exit_codes": [75]}), env=env(STAND_IN_EXIT="75"))
    outcome = run(record)
    assert (outcome.reason, outcome.exit_code, outcome.failure) == ("exit_code", 75, Failure.TRANSIENT)
    record = make_attempt(tmp_path / "again", job("aider"), env=env(STAND_IN_EXIT="2"))
    assert run(record).failure is Failure.PERSISTENT
