"""`plainly_valid` (state/lightspec.py) never accepts a job the loader would refuse.

`jobdeck add` installs a plainly valid job without building the models, so a
wrong True here would put a jobs.json on disk that every command then refuses.
Each case is a job appended to an accepted jobs.json; for every one the light
judgement must be narrower than the loader's, and the everyday shapes must pass.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from jobdeck.state.errors import SpecError
from jobdeck.state.lightspec import PLAIN_FIELDS, plainly_valid
from jobdeck.state.loader import parse_spec

BASE = {"jobs": [{"id": "fetch", "command": ["true"]}, {"id": "news-signals", "command": ["true"]},
                 {"id": "news_signals", "command": ["true"]}]}
KNOWN = {job["id"] for job in BASE["jobs"]}

VALUES: dict[str, list[Any]] = {
    "id": ["added", "a" * 64, "a" * 65, "-x", "x/y", "x\n", "", 7, None, "fetch", "é"],
    "title": ["A title", "", None, 3, ["x"], "caf\u00e9", "\ud800", "a\udcff", "\x00"],
    "command": [["true"], ["echo", "hi"], [], ["a", 1], "echo hi", "", None, [None], ["printf", "\udcff"],
                "echo \ud800", ["\x00"], ["echo", "{{deps.fetch}}"], ["echo", "{{inptu}}"], ["echo", "{{attempt}}"]],
    "shell": [True, False, 1, "true", None],
    "workspace": ["default", "research", "../x", "a b", "", 5, None],
    "depends_on": [[], ["fetch"], ["missing"], ["added"], ["news-signals", "news_signals"], ["fetch", "fetch"],
                   "fetch", [3], None],
    "labels": [[], ["nightly"], "nightly", [1], None, ["\ud800"], ["\u00e9t\u00e9"]],
    "risk": ["low", "medium", "high", "HIGH", None, 1],
    "priority": [0, 5, -1000, 1000, 1001, -1001, True, 1.5, "5", None],
    "paused": [True, False, 0, "no", None],
    "idempotent": [True, False, 1, None],
}


def loader_accepts(job: dict[str, Any]) -> bool:
    document = {"jobs": [*BASE["jobs"], job]}
    try:
        parse_spec(json.dumps(document).encode())
    except SpecError:
        return False
    return True


def cases() -> list[dict[str, Any]]:
    """Every field's values one at a time on a plain job, and pairs of fields that interact."""
    plain = {"id": "added", "command": ["true"]}
    found = [dict(plain)]
    for field, values in VALUES.items():
        for value in values:
            job = {**plain, field: value}
            found.append(job)
            if field == "command":
                found.append({**job, "shell": True})
    found.append({**plain, "command": ["cat", "{{deps.fetch}}"], "depends_on": ["fetch"]})
    for (a, va), (b, vb) in itertools.combinations([(f, v) for f in ("shell", "command") for v in VALUES[f]], 2):
        if a != b:
            found.append({"id": "added", a: va, b: vb})
    found += [{"id": "added", "model": "openai/gpt-4o-mini", "prompt": "hi"}, {"id": "added", "agent": "claude"},
              {"id": "added", "command": ["true"], "schedule": "0 2 * * *"}, {"id": "added"}]
    return found


@pytest.mark.parametrize("job", cases(), ids=lambda job: json.dumps(job)[:60])
def test_a_plainly_valid_job_is_one_the_loader_accepts(job: dict[str, Any]) -> None:
    if plainly_valid(job, KNOWN):
        assert loader_accepts(job), f"plainly_valid said yes to a job the loader refuses: {job}"


def test_the_shapes_add_writes_are_plainly_valid() -> None:
    everyday = [{"id": "added", "command": ["true"]},
                {"id": "report", "title": "Nightly report", "command": "make report | tee out", "shell": True},
                {"id": "step-2", "command": ["./step", "--fast"], "depends_on": ["fetch", "news-signals"],
                 "workspace": "research", "labels": ["nightly", "etl"], "risk": "medium", "priority": -5,
                 "idempotent": True, "paused": False}]
    for job in everyday:
        assert loader_accepts(job)
        assert plainly_valid(job, KNOWN), job
    assert not plainly_valid({"id": "added", "command": ["true"], "schedule": "@daily"}, KNOWN)  # left to the loader
    assert set(VALUES) == PLAIN_FIELDS  # every field it judges is tried above


def test_spec_ok_keeps_the_last_accepted_versions_of_this_code_only(tmp_path) -> None:
    from jobdeck.state.cardcache import spec_digest
    from jobdeck.state.deck import init_deck
    from jobdeck.state.lightspec import KEPT_MARKERS, VALID_NAME, _marker, accepted, mark_accepted

    deck = init_deck(tmp_path / "deck", b'{"jobs": []}\n')
    versions = [json.dumps({"jobs": [{"id": f"v{n}", "command": ["true"]}]}).encode() for n in range(KEPT_MARKERS + 2)]
    (deck.state_dir / VALID_NAME).write_text("0" * 64 + " stamp-of-an-older-jobdeck\n")
    for raw in versions:
        mark_accepted(deck, raw)
    assert not any(accepted(deck, raw) for raw in versions[:2])  # the oldest fell out
    assert all(accepted(deck, raw) for raw in versions[2:])
    lines = (deck.state_dir / VALID_NAME).read_text().splitlines(keepends=True)
    assert len(lines) == KEPT_MARKERS and "older-jobdeck" not in "".join(lines)
    mark_accepted(deck, versions[3])  # going back to a kept version makes it the newest, nothing else changes
    assert (deck.state_dir / VALID_NAME).read_text().splitlines(keepends=True)[-1] == _marker(spec_digest(versions[3]))
    assert all(accepted(deck, raw) for raw in versions[2:])
    assert not accepted(deck, b'{"jobs": []}\n')
