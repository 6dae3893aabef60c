"""Importing the agents layer never imports litellm (or textual); only an LLM call does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import jobdeck.agents, jobdeck.agents.base, jobdeck.agents.registry, jobdeck.agents.llm, jobdeck.agents.llm_call
import jobdeck.agents.presets, jobdeck.agents.validation, jobdeck.agents.breaker, jobdeck.agents.failures
import jobdeck.agents.shell
from jobdeck.state.spec import Spec
spec = Spec.model_validate({"jobs": [{"id": "a", "model": "openai/x", "prompt": "hi"}]})
agent, _ = jobdeck.agents.registry.agent_for(spec.jobs[0], spec)
assert type(agent).__name__ == "LLMAgent"
heavy = sorted(name for name in ("litellm", "openai", "textual", "jsonschema") if name in sys.modules)
print(",".join(heavy))
"""


def test_agents_import_without_litellm() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT.parent, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
