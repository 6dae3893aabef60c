"""Reading litellm's streamed chunks: text, the finishing chunk, usage (pure, no litellm import)."""

from __future__ import annotations

from types import SimpleNamespace

from pydantic import BaseModel, ConfigDict

from jobdeck.agents.llm_call import _content, _field, usage_counts


class Loose(BaseModel):
    """Like litellm's StreamingChoices and Delta: fields kept as pydantic extras."""

    model_config = ConfigDict(extra="allow")


class Declared(BaseModel):
    content: str | None = None


def test_fields_are_read_from_pydantic_extras_declared_fields_and_plain_objects() -> None:
    assert _field(Loose(content="hi"), "content") == "hi"
    assert _field(Declared(content="hi"), "content") == "hi"
    assert _field(SimpleNamespace(content="hi"), "content") == "hi"
    assert _field(Loose(), "content") is None
    assert _field(Declared(), "missing") is None


def chunk(content: str | None, finish_reason: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(choices=[Loose(delta=Loose(content=content), finish_reason=finish_reason)])


def test_content_and_whether_the_chunk_may_carry_usage() -> None:
    assert _content(chunk("word ")) == ("word ", False)
    assert _content(chunk("last", finish_reason="stop")) == ("last", True)
    assert _content(chunk("")) == ("", True)
    assert _content(SimpleNamespace(choices=[])) == (None, True)
    assert _content(SimpleNamespace()) == (None, True)


def test_usage_is_what_the_provider_reported_and_nothing_when_it_reported_zeros() -> None:
    reported = SimpleNamespace(prompt_tokens=4, completion_tokens=50, total_tokens=54, cost=None)
    assert usage_counts(reported) == {"prompt_tokens": 4, "completion_tokens": 50, "total_tokens": 54}
    assert usage_counts(SimpleNamespace(prompt_tokens=0, completion_tokens=0, total_tokens=0)) == {}
    assert usage_counts(None) == {}
