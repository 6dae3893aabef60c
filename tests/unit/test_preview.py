"""The preview of jobs.json gives the same cards as the validated spec, or gives up.

The cockpit paints a big deck's first screen from ``state.preview`` before
validating it; a card that differed would flicker, a job shown with an unchecked
id could write to the terminal. So: for every jobs.json the loader accepts, the
preview's cards equal the validated cards (on a board with jobs in every state),
and for anything the preview accepts, every id is valid and unique.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jobdeck.state.board import Board
from jobdeck.state.errors import SpecError
from jobdeck.state.ids import ID_RE
from jobdeck.state.loader import parse_spec
from jobdeck.state.machine import JobState, transition
from jobdeck.state.preview import preview_jobs
from jobdeck.state.views import card

NOW = 1_750_000_000.0
CORPUS = Path(__file__).resolve().parents[1] / "corpus"
EXAMPLES = Path(__file__).resolve().parents[2] / "cli" / "examples"


def _states(job: str) -> list[JobState]:
    """The job in each kind of state a card tells apart."""
    backlog = JobState(job)
    running = transition(backlog, {"type": "claimed", "attempt": 1, "seq": 1}, NOW - 60)
    return [
        backlog,
        running,
        transition(running, {"type": "succeeded", "token": 1}, NOW - 50),
        transition(running, {"type": "succeeded", "token": 1, "review": True, "reasons": ["odd"]}, NOW - 50),
        transition(running, {"type": "failed", "token": 1, "reason": "exit 1"}, NOW - 50),
        transition(running, {"type": "failed", "token": 1, "reason": "503", "retry_at": NOW + 30}, NOW - 50),
        transition(running, {"type": "interrupted", "token": 1}, NOW - 50),
        transition(backlog, {"type": "paused"}, NOW - 40),
        transition(backlog, {"type": "approved"}, NOW - 40),
        transition(backlog, {"type": "triggered", "inputs": {"input": "a.csv"}}, NOW - 40),
        transition(backlog, {"type": "cancelled"}, NOW - 40),
    ]


def same_cards(raw: bytes) -> None:
    """The preview of ``raw`` exists and gives the validated spec's cards, in every state."""
    spec = parse_spec(raw).spec
    previewed = preview_jobs(raw)
    assert previewed is not None
    assert [job.id for job in previewed] == [job.id for job in spec.jobs]
    for shift in range(len(_states("x"))):
        board = Board()
        for i, job in enumerate(spec.jobs):
            states = _states(job.id)
            board.jobs[job.id] = states[(i + shift) % len(states)]
        expected = [card(job, board.state(job.id), board, NOW) for job in spec.jobs]
        assert [card(job, board.state(job.id), board, NOW) for job in previewed] == expected


# -- what the loader accepts, the preview reads the same ---------------------------------------

IDS = ["fetch", "sum", "publish", "a.b", "x_1", "Z-9"]
plain_text = st.text(max_size=8)
valid_jobs = st.fixed_dictionaries(
    {"command": st.one_of(st.lists(plain_text, min_size=1, max_size=3), st.just(["true"]))},
    optional={
        "title": st.one_of(st.none(), plain_text),
        "workspace": st.sampled_from(["default", "reports", "w.1"]),
        "schedule": st.sampled_from(["0 2 * * *", "@hourly", "*/5 * * * *"]),
        "timezone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]),
        "trigger": st.sampled_from(["*.csv", "in-*"]),
        "risk": st.sampled_from(["low", "medium", "high"]),
        "priority": st.integers(-1000, 1000),
        "labels": st.lists(plain_text, max_size=3),
        "paused": st.booleans(),
        "retry": st.fixed_dictionaries({}, optional={"max_attempts": st.integers(1, 100), "delay": st.just("5s")}),
        "//": plain_text,
        "description": plain_text,
        "idempotent": st.booleans(),
    },
)


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=len(IDS), unique=True))
    jobs = []
    for i, job_id in enumerate(ids):
        job = {"id": job_id, **draw(valid_jobs)}
        way = draw(st.sampled_from(["command", "model", "agent", "shell"]))
        if way == "model":
            job.pop("command")
            job.update(model="openai/gpt-4o-mini", prompt="hi")
        elif way == "agent":
            job.pop("command")
            job["agent"] = draw(st.sampled_from(["claude", "writer"]))
        elif way == "shell":
            job.update(command=draw(st.sampled_from(["echo hi", "  ", "ls -l | wc"])), shell=True)
        job["depends_on"] = draw(st.lists(st.sampled_from(ids[:i]), unique=True)) if i else []
        jobs.append(job)
    return {"agents": {"writer": {"type": "llm", "model": "openai/gpt-4o"}}, "jobs": jobs}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_documents(), st.booleans())
def test_for_any_valid_jobs_json_the_preview_gives_the_validated_cards(document: dict[str, Any],
                                                                      indent: bool) -> None:
    raw = json.dumps(document, indent=2 if indent else None, ensure_ascii=False).encode()
    try:
        parse_spec(raw)
    except SpecError:
        assume(False)  # the strategy aims at valid files; the few it misses say nothing here
    same_cards(raw)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*-ok.json")) + sorted(EXAMPLES.glob("*.json")),
                         ids=lambda p: p.name)
def test_the_valid_files_of_the_corpus_and_the_examples_preview_to_the_same_cards(path: Path) -> None:
    same_cards(path.read_bytes())


# -- anything unusual is left to the loader ----------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"",
    b"not json",
    b'{"jobs": {}}',
    b"[]",
    b'{"jobs": [{"id": "a", "command": ["x"]}, {"id": "a", "command": ["y"]}]}',  # repeated id
    b'{"jobs": [{"id": "../up", "command": ["x"]}]}',
    b'{"jobs": [{"id": "a\\u001b[2J", "command": ["x"]}]}',  # a control sequence in an id
    b'{"jobs": [{"id": "a\\n", "command": ["x"]}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "priority": "5"}]}',  # pydantic would coerce these
    b'{"jobs": [{"id": "a", "command": ["x"], "priority": 5.0}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "priority": true}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "priority": 5000}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "paused": "yes"}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "labels": "x"}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "retry": null}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "retry": {"max_attempts": 0}}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "timezone": null}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "risk": "extreme"}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "risk": ["high"]}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "depends_on": ["../b"]}]}',
    b'{"jobs": [{"id": "a", "command": [1]}]}',
    b'{"jobs": [{"id": "a", "command": ["x"], "workspace": "a/b"}]}',
    b'{"jobs": [' + b"[" * 100_000 + b"]}",
], ids=lambda raw: raw[:60].decode(errors="replace"))
def test_the_preview_gives_up_on_anything_unusual(raw: bytes) -> None:
    assert preview_jobs(raw) is None


def test_a_byte_order_mark_is_read_like_the_loader_reads_it() -> None:
    same_cards(b'\xef\xbb\xbf{"jobs": [{"id": "a", "command": ["x"]}]}')


odd_values = st.one_of(st.none(), st.booleans(), st.integers(-2000, 2000), st.floats(), plain_text,
                       st.lists(plain_text, max_size=2), st.lists(st.integers(), max_size=2),
                       st.dictionaries(plain_text, st.integers(), max_size=2))
odd_jobs = st.fixed_dictionaries(
    {"id": st.one_of(st.sampled_from(IDS), st.text(max_size=6))},
    optional={key: odd_values for key in ("title", "command", "model", "agent", "depends_on", "workspace",
                                          "schedule", "timezone", "trigger", "risk", "priority", "labels",
                                          "paused", "retry")},
)


@settings(max_examples=300, deadline=None)
@given(st.lists(odd_jobs, max_size=4))
def test_whatever_the_preview_accepts_has_valid_unique_ids_and_the_loaders_cards(jobs: list[Any]) -> None:
    raw = json.dumps({"jobs": jobs}).encode()
    previewed = preview_jobs(raw)
    if previewed is None:
        return
    ids = [job.id for job in previewed]
    assert len(set(ids)) == len(ids)
    assert all(ID_RE.fullmatch(job_id) for job_id in ids)
    assert all(ID_RE.fullmatch(dep) for job in previewed for dep in job.depends_on)
    try:
        parse_spec(raw)
    except SpecError:
        return  # the cockpit shows the banner once the full read is done
    same_cards(raw)
