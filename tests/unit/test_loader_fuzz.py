"""Property: whatever bytes arrive, the loader returns a spec or raises SpecError.

Random bytes, random JSON-ish documents (NaN, huge numbers, deep nesting, odd
keys) and job-like documents with plausible and implausible field values are fed
to ``parse_spec``. Any other exception (a KeyError deep in a message builder, a
RecursionError, a croniter internal error) is a bug: the user would see a traceback.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jobdeck.state.errors import SpecError
from jobdeck.state.loader import LoadedSpec, parse_spec

#: FUZZ_EXAMPLES=5000 for a longer hunt; the default keeps the suite fast.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def check(raw: bytes) -> None:
    """parse_spec(raw) is a LoadedSpec or a SpecError with a located, non-empty message."""
    try:
        loaded = parse_spec(raw, "fuzz.json")
    except SpecError as exc:
        text = str(exc)
        assert text.startswith("fuzz.json"), text
        assert "Traceback" not in text
        return
    assert isinstance(loaded, LoadedSpec)
    assert loaded.raw == raw
    assert all(isinstance(job.id, str) for job in loaded.spec.jobs)


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**29, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=25,
)

job_ids = st.one_of(
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(["../x", ".hidden", "", "a" * 65, "a/b", "ok.id-1_2"]),
    st.text(max_size=6),
)
durations = st.one_of(
    st.integers(min_value=-5, max_value=10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["90s", "5m", "2h", "1h30m", "250ms", "0s", "5 minutes", "", "s", "1e3s", "400d"]),
    st.text(max_size=6), st.booleans(), st.none(),
)
schedules = st.one_of(
    st.sampled_from(["0 0 31 2 *", "@daily", "@fortnightly", "* * * *", "*/0 * * * *", "0 2 * * *",
                     "0 0 L * 5L", "0 0 29 2 *", "1-0 * * * *", "* * * * 1#6"]),
    st.lists(st.text(alphabet="0123456789*/-,LW#?MONJAN", min_size=1, max_size=4),
             min_size=5, max_size=5).map(" ".join),
    st.text(max_size=12),
)
commands = st.one_of(
    st.lists(st.text(max_size=8), max_size=3), st.text(max_size=10), st.integers(), st.none(),
)
job_fields: dict[str, st.SearchStrategy[Any]] = {
    "command": commands,
    "shell": st.one_of(st.booleans(), st.integers(0, 1)),
    "model": st.one_of(st.sampled_from(["openai/gpt-4o-mini"]), st.text(max_size=5)),
    "prompt": st.text(max_size=10),
    "agent": st.one_of(st.sampled_from(["writer", "claude", "nope"]), job_ids),
    "depends_on": st.one_of(st.lists(job_ids, max_size=3), job_ids),
    "workspace": job_ids,
    "timeout": st.one_of(st.fixed_dictionaries({}, optional={"idle": durations, "hard": durations,
                                                             "grace": durations}), json_values),
    "retry": st.one_of(st.fixed_dictionaries({}, optional={
        "max_attempts": st.integers(-2, 200), "backoff": st.sampled_from(["fixed", "linear", "exponential", "x"]),
        "delay": durations, "max_delay": durations, "jitter": st.floats(allow_nan=True)}), json_values),
    "schedule": schedules,
    "timezone": st.one_of(st.sampled_from(["UTC", "Europe/Paris", "Mars/Olympus", "America", "", "../x"]),
                          st.text(max_size=8)),
    "trigger": st.one_of(st.sampled_from(["*.csv", "../*.csv", "", ".."]), st.text(max_size=6)),
    "risk": st.sampled_from(["low", "medium", "high", "extreme"]),
    "review": st.sampled_from(["always", "never", "on_invalid", "sometimes"]),
    "validate": st.one_of(st.fixed_dictionaries({}, optional={
        "regex": st.sampled_from(["(", "ok", "[a-"]), "required": st.lists(st.text(max_size=4)),
        "json_schema": json_values, "command": commands}), json_values),
    "priority": st.one_of(st.integers(-2000, 2000), st.text(max_size=3)),
    "labels": st.one_of(st.lists(st.text(max_size=4), max_size=2), json_values),
    "env": st.dictionaries(st.text(max_size=5), st.one_of(
        st.text(max_size=5), st.fixed_dictionaries({"env": st.text(max_size=6)}), json_values), max_size=2),
    "idempotent": st.booleans(),
    "paused": json_values,
    "//": json_values,
    "comand": json_values,
}
jobs = st.fixed_dictionaries({"id": job_ids}, optional=job_fields)
agents = st.dictionaries(
    st.sampled_from(["writer", "../bad", "w"]),
    st.fixed_dictionaries({}, optional={"type": st.sampled_from(["shell", "llm", "gpt", ""]),
                                        "model": st.text(max_size=5), "api_key": json_values,
                                        "env": json_values}),
    max_size=2,
)
documents = st.fixed_dictionaries(
    {"jobs": st.one_of(st.lists(jobs, max_size=4), json_values)},
    optional={"agents": st.one_of(agents, json_values), "limits": json_values, "extra": json_values},
)


@FUZZ
@given(st.binary(max_size=400))
@example(b"[" * 100_000)
@example(b"\xef\xbb\xbf")
@example(b'{"jobs": []}\xff')
@example(b'{"jobs": [], "jobs": []}')
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(json_values, st.integers(min_value=0, max_value=400))
def test_random_json_documents_and_their_prefixes(value: Any, cut: int) -> None:
    """Any JSON value (NaN and huge numbers included), whole and cut off mid-save."""
    raw = json.dumps(value, allow_nan=True).encode()
    check(raw)
    check(raw[:cut])


@FUZZ
@given(documents, st.booleans())
@example({"jobs": [{"id": "a", "command": ["x"], "depends_on": ["b"]},
                   {"id": "b", "command": ["x"], "depends_on": ["a"]}]}, False)
@example({"jobs": [{"id": "a", "command": ["x"], "env": {"K": {"env": "1BAD"}}}]}, True)
def test_job_like_documents(document: dict[str, Any], indent: bool) -> None:
    """Documents shaped like jobs.json with good and bad field values."""
    check(json.dumps(document, allow_nan=True, indent=2 if indent else None, ensure_ascii=False).encode())
