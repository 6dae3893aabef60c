"""docs/jobs-json.md cannot go stale: its generated parts match the code, its examples load."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import pytest

from conftest import ROOT
from jobdeck.state.loader import parse_spec

DOC = ROOT / "docs" / "jobs-json.md"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs" / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_parts_match_the_code() -> None:
    """Run `python docs/gen_reference.py` after changing the spec model or the corpus."""
    current = DOC.read_text()
    assert generator().render(current) == current


def test_every_model_and_the_error_list_are_generated() -> None:
    regions = re.findall(r"<!-- generated: ([^>]*?) -->", DOC.read_text())
    assert set(regions) == {"fields Spec", "fields Job", "fields Timeout", "fields Retry", "fields Validate",
                            "fields AgentSpec", "fields Limits", "fields Retention", "fields JobRetention", "fields EnvRef",
                            "fields Notify", "fields NotifyTarget", "fields NotifyRule", "fields Metrics",
                            "errors"}


def test_the_job_table_names_every_field() -> None:
    from jobdeck.state.spec import Job

    text = DOC.read_text()
    for name, field in Job.model_fields.items():
        assert f"| `{field.alias or name}` |" in text, name


@pytest.mark.parametrize("block", re.findall(r"```json\n(.*?)```", DOC.read_text(), re.S),
                         ids=lambda block: block.split("\n")[0][:30])
def test_json_examples_are_valid_jobs_json(block: str) -> None:
    """Blocks fenced ```json are complete files (fragments are fenced ```jsonc)."""
    loaded = parse_spec(block.encode(), "docs/jobs-json.md")
    assert loaded.spec.jobs
