"""A NUL anywhere in jobs.json is one located error, never a run that fails at exec with a traceback.

No argument, environment variable or file name can hold a NUL, and every string of
jobs.json may end up in one of them (a command, an env value, an input, a model name
a CLI agent is given, an sbatch option, the metrics file). Each error points at the
``\\u0000`` escape itself, names the job and field, and never prints the NUL.
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

words = st.sampled_from(["true", "a\x00b", "\x00", "x", "{{input}}", "é\x00", "\\u0000", "ok"])
values = st.recursive(st.one_of(words, st.integers(0, 3), st.booleans(), st.none()),
                      lambda inner: st.one_of(st.lists(inner, max_size=3),
                                              st.dictionaries(words, inner, max_size=3)), max_leaves=6)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    jobs = []
    for n in range(draw(st.integers(1, 3))):
        job: dict[str, Any] = {"id": draw(st.sampled_from([f"j{n}", f"j{n}\x00"])),
                               "command": draw(st.lists(words, min_size=1, max_size=3))}
        for field in draw(st.lists(st.sampled_from(["env", "inputs", "title", "prompt", "labels", "x\x00"]),
                                   max_size=3, unique=True)):
            job[field] = draw(values)
        jobs.append(job)
    return {"jobs": jobs, **draw(st.dictionaries(st.sampled_from(["agents", "metrics", "executors"]), values,
                                                 max_size=2))}


def holds_nul(value: Any) -> bool:
    """Whether a string in ``value``, key or value, holds a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    return isinstance(value, list) and any(holds_nul(item) for item in value)


@FUZZ
@given(documents(), st.sampled_from([None, 1]))
def test_each_nul_is_located_at_its_escape(document: dict[str, Any], indent: int | None) -> None:
    text = json.dumps(document, indent=indent)
    try:
        parse_spec(text.encode())
    except SpecError as exc:
        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
    else:
        assert not holds_nul(document)
        return
    lines = text.split("\n")
    for error in errors:
        assert "\x00" not in str(error), repr(str(error))
        if "NUL byte" in error.message:
            assert error.line is not None and error.column is not None, str(error)
            assert lines[error.line - 1][error.column - 1:].startswith("\\u0000"), str(error)
    assert any("NUL byte" in error.message for error in errors) == holds_nul(document)


def test_the_example_from_the_review() -> None:
    """A NUL in an argv item is refused at its escape, as the corpus file nul-in-command.json shows in the CLI."""
    try:
        parse_spec(b'{"jobs":[{"id":"a","command":["echo","a\\u0000b"]}]}')
    except SpecError as exc:
        assert exc.where() == "jobs.json:1:40: job 'a', field 'command.1'"
        assert exc.message == "contains a NUL byte"
    else:
        raise AssertionError("a NUL in a command was accepted")
