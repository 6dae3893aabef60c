"""JSON output in a Markdown fence, through the real runner: once valid, the output file holds the JSON alone.

Models wrap JSON in ```json fences even when told not to; the checks tolerate one
wrapping fence, so a dependent reading the file with ``jq`` must not find one.
Outputs that are not fenced, or fail their checks, are kept byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.runner_kit import board, events, jobdeck, make_deck

FENCED = '```json\n{"total": 3}\n```\n'
JQ_TOTAL = 'jq -e .total "$JOBDECK_INPUT_F2" > "$JOBDECK_OUTPUT"'


def output_bytes(deck: Path, job: str, attempt: int = 1) -> bytes:
    return (deck / "workspaces" / "default" / "runs" / job / str(attempt) / "output").read_bytes()


def succeeded(deck: Path, job: str) -> dict:
    [event] = [e for e in events(deck) if e.get("type") == "succeeded" and e.get("job") == job]
    return event


def test_a_fenced_json_answer_is_unwrapped_for_its_dependents(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "f2", "model": "openai/gpt-4o-mini", "prompt": "count", "output": "json", "mock_response": FENCED},
        {"id": "tool", "command": ["printf", "```\\n[1, 2]\\n```"], "validate": {"json_schema": {"type": "array"}}},
        {"id": "use", "depends_on": ["f2"], "command": JQ_TOTAL, "shell": True},
    ])
    result = jobdeck(deck, "run", "--once", timeout=120)
    states = board(deck)
    assert {job: states[job].status.value for job in ("f2", "tool", "use")} == \
        {"f2": "done", "tool": "done", "use": "done"}, result.stdout + result.stderr
    assert output_bytes(deck, "f2") == b'{"total": 3}'
    assert output_bytes(deck, "tool") == b"[1, 2]"
    assert output_bytes(deck, "use") == b"3\n"
    for job in ("f2", "tool"):
        assert succeeded(deck, job)["output_bytes"] == len(output_bytes(deck, job))
        result_json = json.loads((deck / "workspaces/default/runs" / job / "1" / "result.json").read_text())
        assert result_json["output_bytes"] == len(output_bytes(deck, job))
    leftovers = [p.name for p in (deck / "workspaces/default/runs/f2/1").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_outputs_not_fenced_or_failing_their_checks_are_kept_as_written(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "plain", "command": ["printf", '  {"total": 3}\\n\\n'], "output": "json"},
        {"id": "text", "command": ["printf", FENCED.replace("\n", "\\n")]},  # not a JSON job: a fence is content
        {"id": "bad", "model": "openai/gpt-4o-mini", "prompt": "count", "output": "json",
         "validate": {"required": ["missing"]}, "mock_response": FENCED},
        {"id": "prose", "command": ["printf", "here:\\n" + FENCED.replace("\n", "\\n")], "output": "json"},
    ])
    result = jobdeck(deck, "run", "--once", timeout=120)
    states = board(deck)
    assert {job: st.status.value for job, st in states.items()} == \
        {"plain": "done", "text": "done", "bad": "review", "prose": "review"}, result.stdout + result.stderr
    assert output_bytes(deck, "plain") == b'  {"total": 3}\n\n'
    assert output_bytes(deck, "text") == FENCED.encode()
    assert output_bytes(deck, "bad") == FENCED.encode()
    assert output_bytes(deck, "prose") == b"here:\n" + FENCED.encode()
    assert succeeded(deck, "bad")["output_bytes"] == len(FENCED)
