"""The `decide` section refuses what cannot work, in words that say why; its reference shows the bounds."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ROOT
from jobdeck.state.errors import SpecError, SpecErrors
from jobdeck.state.loader import parse_spec


def load(decide: dict[str, object]) -> None:
    parse_spec(json.dumps({"decide": decide, "jobs": [{"id": "a", "command": ["true"]}]}).encode())


@pytest.mark.parametrize("capacity", [0, -1])
def test_a_review_capacity_below_one_is_refused_at_load(capacity: int) -> None:
    with pytest.raises((SpecError, SpecErrors)) as refused:
        load({"review_capacity": capacity})
    assert f"field 'decide.review_capacity': must be 1 or more (got {capacity}): with no room for a review" in \
        str(refused.value)
    load({"review_capacity": 1})
    load({})


def test_the_reference_shows_an_exclusive_bound() -> None:
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs" / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module._type({"anyOf": [{"exclusiveMinimum": 0, "type": "number"}, {"type": "null"}]}) == "number > 0"
    assert module._type({"minimum": 1, "type": "integer"}) == "integer 1.."
    table = (ROOT / "docs" / "jobs-json.md").read_text()
    assert "| `daily` | number > 0 |" in table and "| `review_capacity` | integer 1.. |" in table
