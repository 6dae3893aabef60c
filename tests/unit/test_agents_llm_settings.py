"""How an llm attempt's settings are put together from the job and its named agent."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from jobdeck.agents.llm import Settings  # noqa: E402
from jobdeck.state.errors import AgentError  # noqa: E402
from tests.fixtures.attempts import make_attempt  # noqa: E402

AGENT = {"type": "llm", "model": "openai/base", "fallbacks": ["openai/fb1"], "context_model": "openai/big",
         "api_base": "http://127.0.0.1:9/v1", "api_key": {"env": "UNIT_LLM_KEY"},
         "options": {"temperature": 0.2, "retries": 1, "system": "Be brief."}}


def settings(tmp_path: Path, job: dict[str, Any], agent: dict[str, Any] | None = None,
             env: dict[str, str] | None = None, attempt: int = 1) -> Settings:
    record = make_attempt(tmp_path, {"id": "j", "agent": "w", "prompt": "hi", **job}, agents={"w": agent or AGENT},
                          env={"UNIT_LLM_KEY": "sk-unit-123456"} if env is None else env, attempt=attempt)
    try:
        return Settings.for_attempt(record.ctx)
    finally:
        record.close()


def test_the_agent_supplies_defaults(tmp_path: Path) -> None:
    got = settings(tmp_path, {})
    assert got.models == ("openai/base", "openai/fb1") and got.context_model == "openai/big"
    assert got.api_key == "sk-unit-123456" and got.api_key_name == "UNIT_LLM_KEY"
    assert got.params == {"temperature": 0.2, "stream_options": {"include_usage": True}}
    assert (got.retries, got.retry_delay, got.system) == (1, 0.5, "Be brief.")
    assert "sk-unit" not in repr(got), "the key never shows in a repr (logs, tracebacks)"


def test_the_job_overrides_model_fallbacks_and_context_model(tmp_path: Path) -> None:
    got = settings(tmp_path, {"model": "openai/mine", "fallbacks": ["openai/base", "openai/mine"],
                              "context_model": "openai/huge"})
    assert got.models == ("openai/mine", "openai/base") and got.context_model == "openai/huge"


@pytest.mark.parametrize("option", ["api_key", "num_retries", "fallbacks", "max_retries", "mock_response"])
def test_options_jobdeck_controls_are_refused(tmp_path: Path, option: str) -> None:
    with pytest.raises(AgentError, match=option):
        settings(tmp_path, {}, {**AGENT, "options": {option: 1}})


def test_bad_retry_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="retries"):
        settings(tmp_path, {}, {**AGENT, "options": {"retries": "many"}})


def test_a_mock_job_needs_no_key(tmp_path: Path) -> None:
    got = settings(tmp_path, {"mock_response": "offline"}, env={})
    assert got.api_key is None and got.mock_for(1, 0) == "offline"


def test_mock_lists_are_indexed_by_attempt_and_the_repair_takes_the_next(tmp_path: Path) -> None:
    got = settings(tmp_path, {"mock_response": ["a", "b", "c"]}, env={})
    assert [got.mock_for(n, 0) for n in (1, 2, 3, 4)] == ["a", "b", "c", "c"]
    assert got.mock_for(1, 1) == "b" and got.mock_for(3, 1) == "c"


def test_a_missing_key_variable_names_it(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="UNIT_LLM_KEY"):
        settings(tmp_path, {}, env={})


def test_the_api_key_goes_only_to_models_of_its_provider(tmp_path: Path) -> None:
    """Without an api_base, a fallback at another provider must not get the first model's key."""
    direct = {**AGENT, "api_base": None, "model": "openai/gpt-4o-mini",
              "fallbacks": ["anthropic/claude-3-5-haiku-latest", "gpt-4o", "openai/gpt-4.1", "no-such-model-xyz"]}
    got = settings(tmp_path, {}, direct)
    assert [got.key_for(model) for model in got.models] == \
        ["sk-unit-123456", None, "sk-unit-123456", "sk-unit-123456", None]
    assert got.key_for("anthropic/claude-3-opus") is None  # the context model is a call like any other
    (tmp_path / "p").mkdir()
    proxied = settings(tmp_path / "p", {}, {**direct, "api_base": "http://127.0.0.1:9/v1"})
    assert {proxied.key_for(model) for model in proxied.models} == {"sk-unit-123456"}  # one endpoint serves them all


def test_an_empty_job_field_switches_the_agents_off(tmp_path: Path) -> None:
    """Given, a job's field replaces the agent's even when empty: ``"fallbacks": []`` means none."""
    got = settings(tmp_path, {"fallbacks": [], "context_model": None})
    assert got.models == ("openai/base",) and got.context_model is None


def test_a_job_field_left_out_takes_the_agents(tmp_path: Path) -> None:
    got = settings(tmp_path, {"fallbacks": []})
    assert got.models == ("openai/base",) and got.context_model == "openai/big"
