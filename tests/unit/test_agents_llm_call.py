"""Reading litellm's streamed chunks: text, finish_reason, usage (pure, no litellm import)."""

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


def test_content_finish_reason_and_whether_the_chunk_may_carry_usage() -> None:
    assert _content(chunk("word ")) == ("word ", None, False)
    assert _content(chunk("last", finish_reason="stop")) == ("last", "stop", True)
    assert _content(chunk("")) == ("", None, True)
    assert _content(chunk(None, finish_reason="length")) == (None, "length", True)
    assert _content(SimpleNamespace(choices=[])) == (None, None, True)
    assert _content(SimpleNamespace()) == (None, None, True)


def test_usage_is_what_the_provider_reported_and_nothing_when_it_reported_zeros() -> None:
    reported = SimpleNamespace(prompt_tokens=4, completion_tokens=50, total_tokens=54, cost=None)
    assert usage_counts(reported) == {"prompt_tokens": 4, "completion_tokens": 50, "total_tokens": 54}
    assert usage_counts(SimpleNamespace(prompt_tokens=0, completion_tokens=0, total_tokens=0)) == {}
    assert usage_counts(None) == {}
