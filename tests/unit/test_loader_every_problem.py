"""Property: one `validate` lists every problem; fixing the field errors reveals none it hid.

A model checks how its fields go together (a job's way to run, an agent's shell
command, a notify target, the targets rules send to, the scorer's agent) only
once its fields are valid; the loader asks the same checks of the JSON as
written when they were not. Each document here mixes such combinations with
field errors that no combination reads (a priority, a retry, labels); the
problems of the document with those fields fixed must be exactly the others.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobdeck.state.errors import SpecError, SpecErrors
from jobdeck.state.loader import parse_spec

FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

ABSENT = object()
RUNS = {"command": [ABSENT, ["true"], "echo hi", [], ["a", "b"], ["a", 1]], "shell": [ABSENT, True, False, "yes"],
        "model": [ABSENT, "openai/gpt-4o-mini"], "prompt": [ABSENT, "hi"], "agent": [ABSENT, "claude", "../x"]}
#: Field errors no check of several fields reads, and a valid value for each.
UNRELATED = {"priority": ("high", 5), "retry": ({"max_attempts": 0}, {"max_attempts": 2}), "labels": ("x", ["x"])}


def problems(document: dict[str, Any]) -> set[tuple[str | None, str | None, str]]:
    """(job, field, message) of each problem the loader finds in ``document``."""
    try:
        parse_spec(json.dumps(document, indent=1).encode())
    except SpecError as exc:
        return {(e.job, e.field, e.message) for e in (exc.errors if isinstance(exc, SpecErrors) else [exc])}
    return set()


def job_fields(draw: st.DrawFn, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A job with a draw of run fields and unrelated fields: as drawn, and with the unrelated ones fixed."""
    job: dict[str, Any] = {"id": f"j{n}"}
    for name, values in RUNS.items():
        value = draw(st.sampled_from(values))
        if value is not ABSENT:
            job[name] = value
    fixed = dict(job)
    for name, (bad, good) in UNRELATED.items():
        if draw(st.booleans()):
            job[name], fixed[name] = bad, good
    return job, fixed


@st.composite
def documents(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    pairs = [job_fields(draw, n) for n in range(draw(st.integers(1, 3)))]
    broken: dict[str, Any] = {"jobs": [job for job, _ in pairs]}
    fixed: dict[str, Any] = {"jobs": [job for _, job in pairs]}
    agent = {"command": draw(st.sampled_from([["sh", "-c"], "echo {{input}}", "true"])), "shell": True,
             "type": draw(st.sampled_from(["shell", "llm"]))}
    if agent["type"] == "llm":
        agent["model"] = "m"
    broken["agents"] = {"tool": {**agent, "max_concurrent": 0}}
    fixed["agents"] = {"tool": {**agent, "max_concurrent": 1}}
    if draw(st.booleans()):
        broken["decide"] = fixed["decide"] = {"scorer": {"agent": draw(st.sampled_from(["tool", "ghost"]))}}
    target = draw(st.sampled_from([{}, {"command": ["true"]}, {"command": ["true"], "url": {"env": "U"}}]))
    rules = [{"to": draw(st.sampled_from([["hook"], ["pager"], ["hook", "pager"]]))}]
    broken["notify"] = {"targets": {"hook": {**target, "retries": -1}}, "rules": rules}
    fixed["notify"] = {"targets": {"hook": {**target, "retries": 1}}, "rules": rules}
    return broken, fixed


@FUZZ
@given(documents())
def test_fixing_field_errors_reveals_no_hidden_problem(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    broken, fixed = pair
    unrelated = {"priority", "retry.max_attempts", "labels", "agents.tool.max_concurrent",
                 "notify.targets.hook.retries"}
    said = {problem for problem in problems(broken) if problem[1] not in unrelated}
    assert said == problems(fixed)
