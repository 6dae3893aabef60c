"""The loader refuses the llm agent options the agent would refuse at every attempt: its copy of the agent's
lists (state/ may not import agents/) must stay in step with them."""

from __future__ import annotations

from jobdeck.agents import llm
from jobdeck.state import loader


def test_the_loaders_reserved_and_numeric_options_are_the_llm_agents() -> None:
    assert set(loader.LLM_RESERVED_OPTIONS) == set(llm.RESERVED_OPTIONS)
    numeric = {name for name, default in llm.OWN_OPTIONS.items() if isinstance(default, int | float)}
    assert set(loader.LLM_NUMBER_OPTIONS) == numeric
