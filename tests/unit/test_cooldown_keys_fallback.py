"""Each model of an llm agent's chain cools with the key it is really called with.

An agent with its own ``api_key`` sends it only to models of its first model's provider (``Settings.key_for``):
a fallback at another provider goes with that provider's default key, so a 429 on it says nothing about the
agent's key. Its cooldown used to be tagged with the agent's key all the same: kept apart from the cooldown every
other caller of the default key shares. The key a call is sent with and the key it cools are now one decision.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from jobdeck.agents.llm import Settings  # noqa: E402
from jobdeck.state.cooldowns import cooldown_key, cooldown_label, key_name_for, provider_named  # noqa: E402
from tests.fixtures.attempts import make_attempt  # noqa: E402

KEY_VAR, KEY = "OPENAI_TEAM_KEY", "sk-team-unit-123456"
FIRST, OTHER_PROVIDER, SAME_PROVIDER = "openai/gpt-4o-mini", "anthropic/claude-3-haiku", "openai/gpt-4o"
AGENT = {"type": "llm", "model": FIRST, "fallbacks": [OTHER_PROVIDER, SAME_PROVIDER], "api_key": {"env": KEY_VAR}}


def settings(tmp_path: Path, agent: dict[str, Any] | None = None, route: str | None = None) -> Settings:
    record = make_attempt(tmp_path, {"id": "j", "agent": "w", "prompt": "hi"}, agents={"w": agent or AGENT},
                          env={KEY_VAR: KEY})
    try:
        ctx = record.ctx if route is None else dataclasses.replace(record.ctx, route=route)
        return Settings.for_attempt(ctx)
    finally:
        record.close()


def test_a_fallback_at_another_provider_cools_with_that_providers_default_key(tmp_path: Path) -> None:
    got = settings(tmp_path)
    assert got.key_for(OTHER_PROVIDER) is None  # litellm sends it with ANTHROPIC_API_KEY
    assert got.cooldown_key(OTHER_PROVIDER) == OTHER_PROVIDER == cooldown_key(OTHER_PROVIDER), \
        "a 429 from Anthropic was kept under the OpenAI key's tag"
    assert got.label(OTHER_PROVIDER) == OTHER_PROVIDER  # no "with $OPENAI_TEAM_KEY": it is not sent that key
    # The models the team key goes with still cool apart from the provider's default key.
    for model in (FIRST, SAME_PROVIDER):
        assert got.key_for(model) == KEY
        assert got.cooldown_key(model) == cooldown_key(model, None, KEY_VAR) != model
        assert got.label(model) == f"{model} with ${KEY_VAR}"


def test_a_route_past_the_first_model_sends_the_key_to_no_other_provider(tmp_path: Path) -> None:
    """In live mode the decision service may route past a cooling first model: the route is called first, but the
    key stays the written first model's provider's."""
    got = settings(tmp_path, route=OTHER_PROVIDER)
    assert got.models[0] == OTHER_PROVIDER
    assert got.key_for(OTHER_PROVIDER) is None, "the OpenAI team key was sent to Anthropic"
    assert got.cooldown_key(OTHER_PROVIDER) == OTHER_PROVIDER
    assert got.key_for(FIRST) == KEY and got.cooldown_key(FIRST) == cooldown_key(FIRST, None, KEY_VAR)


def test_at_the_agents_own_endpoint_every_model_goes_and_cools_with_its_key(tmp_path: Path) -> None:
    base = "http://127.0.0.1:9/v1"
    got = settings(tmp_path, {**AGENT, "api_base": base})
    for model in got.models:
        assert got.key_for(model) == KEY
        assert got.cooldown_key(model) == cooldown_key(model, base, KEY_VAR)


@pytest.mark.parametrize("first", [FIRST, "gpt-4o", "claude-3-5-sonnet-20240620", "my-local-model"])
def test_a_call_carries_the_agents_key_exactly_when_it_cools_with_its_tag(tmp_path: Path, first: str) -> None:
    """One answer for both: a key sent where the cooldown is keyed as the default's would defer the default key's
    healthy jobs; a tag where the default key was sent would hide its 429 from them."""
    fallbacks = [OTHER_PROVIDER, SAME_PROVIDER, "gpt-4o-mini", "o3-mini", "claude-3-haiku-20240307",
                 "no-such-model-xyz", "meta-llama/Llama-3-8b", "openrouter/openai/gpt-4o", "azure/gpt-4o"]
    got = settings(tmp_path, {**AGENT, "model": first, "fallbacks": [m for m in fallbacks if m != first],
                              "context_model": "anthropic/claude-3-opus"})
    carried = {}
    for model in (*got.models, "anthropic/claude-3-opus"):
        carried[model] = got.key_for(model) is not None
        assert carried[model] == (got.cooldown_key(model) != model), model
    assert carried[first]
    if provider_named(first) == "openai":
        assert carried["gpt-4o-mini"] and carried["o3-mini"] and not carried["claude-3-haiku-20240307"]
    assert not carried["no-such-model-xyz"] and not carried["azure/gpt-4o"]


def test_key_name_for_names_the_variable_a_call_goes_with() -> None:
    assert key_name_for(OTHER_PROVIDER, FIRST, None, KEY_VAR) is None
    assert key_name_for(SAME_PROVIDER, FIRST, None, KEY_VAR) == KEY_VAR
    assert key_name_for("claude-3-haiku-20240307", FIRST, None, KEY_VAR) is None  # of Anthropic's family
    assert key_name_for("gpt-4o", FIRST, None, KEY_VAR) == KEY_VAR  # of OpenAI's
    assert key_name_for("my-local-model", FIRST, None, KEY_VAR) is None  # of none known: the default key's
    assert key_name_for(OTHER_PROVIDER, FIRST, "http://127.0.0.1:9/v1", KEY_VAR) == KEY_VAR
    assert key_name_for(OTHER_PROVIDER, OTHER_PROVIDER, None, KEY_VAR) == KEY_VAR  # the key's own model
    assert key_name_for(OTHER_PROVIDER, FIRST, None, None) is None
    assert [provider_named(m) for m in ("openai/gpt-4o", "gpt-4o", "/x", "openrouter/a/b", "claude-3-opus",
                                        "mistral-large")] == ["openai", "openai", None, "openrouter", "anthropic", None]
    assert cooldown_label(OTHER_PROVIDER, None, key_name_for(OTHER_PROVIDER, FIRST, None, KEY_VAR)) == OTHER_PROVIDER


def test_the_decision_service_looks_for_each_models_cooldown_where_the_agent_records_it(tmp_path: Path) -> None:
    """decide/ reads the cooldowns the llm agent writes: a key it works out otherwise finds no cooldown (a job it
    would defer starts and calls nothing) or finds another key's."""
    from jobdeck.decide.policy import policy_of
    from tests.fixtures.attempts import make_spec

    job = {"id": "j", "agent": "w", "prompt": "hi"}
    for agent in (AGENT, {**AGENT, "api_base": "http://127.0.0.1:9/v1"}):
        got = settings(tmp_path / str(len(agent)), agent)
        policy = policy_of(make_spec(job, {"w": agent})).jobs["j"]
        assert policy.models == tuple(got.models)
        assert policy.cooldown_keys == tuple(got.cooldown_key(model) for model in got.models)
        assert [policy.label(model) for model in policy.models] == [got.label(model) for model in got.models]
