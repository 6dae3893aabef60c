"""A key written in jobs.json where its variable's name belongs is named as the mistake, never repeated: the error
reaches `validate`, `status --check` (mailed from cron), the runner's log and notify targets."""

from __future__ import annotations

import json

import pytest

from jobdeck.state.errors import SpecError, SpecErrors
from jobdeck.state.loader import parse_spec

KEY = "sk-proj-LiveKey0123456789abcdef"


def errors_of(document: dict[str, object]) -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as raised:
        parse_spec(json.dumps(document).encode(), "jobs.json")
    found = raised.value
    return list(found.errors) if isinstance(found, SpecErrors) else [found]


@pytest.mark.parametrize(("document", "field", "variable"), [
    ({"agents": {"w": {"type": "llm", "model": "openai/x", "api_key": KEY}},
      "jobs": [{"id": "a", "agent": "w", "prompt": "hi"}]}, "agents.w.api_key", "W_API_KEY"),
    ({"notify": {"targets": {"ops": {"url": KEY}}}, "jobs": [{"id": "a", "command": ["true"]}]},
     "notify.targets.ops.url", "OPS_URL"),
])
def test_a_secret_written_in_place_of_its_reference_is_not_repeated(document: dict[str, object], field: str,
                                                                    variable: str) -> None:
    (error,) = errors_of(document)
    said = str(error)
    assert KEY not in said and KEY[:12] not in said
    assert error.field == field and '{"env": "NAME"}' in said and f"export {variable}=" in said


def test_a_secret_written_as_another_json_type_is_not_repeated_either() -> None:
    (error,) = errors_of({"agents": {"w": {"type": "llm", "model": "openai/x", "api_key": [KEY]}},
                          "jobs": [{"id": "a", "agent": "w", "prompt": "hi"}]})
    assert KEY[:12] not in str(error) and "a JSON list" in str(error)


def test_other_wrong_types_still_say_what_was_given() -> None:
    (error,) = errors_of({"jobs": [{"id": "a", "command": ["true"], "priority": "high"}]})
    assert "(got 'high')" in str(error)
