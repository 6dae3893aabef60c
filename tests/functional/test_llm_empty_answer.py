"""A provider answering 200 with no text fails the attempt as transient, in a real runner, with one reason.

A real HTTP server on 127.0.0.1 stands in for the provider; `jobdeck run --once` runs as a subprocess. The
first attempt's every call gets an answer with no content (an empty stream, then a finish_reason "stop" and
no text); the job's retry policy then runs a second attempt, which gets a real answer. The failed event and
`jobdeck show` must say `empty_answer` (the attempt was recorded `succeeded` with an empty output).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from conftest import RunCli, records  # noqa: E402
from jobdeck.state.deck import init_deck  # noqa: E402
from tests.fixtures.llm_server import Cut, LLMServer, Reply  # noqa: E402

MODEL, WIRE = "openai/gpt-4o-mini", "gpt-4o-mini"  # WIRE: the name the server sees
KEY_VAR = "JOBDECK_TEST_EMPTY_ANSWER_KEY"
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", KEY_VAR: "sk-empty-answer-test"}
SAID = f"{MODEL}: answered 200 with no content"


def test_an_empty_answer_fails_the_attempt_transient_and_the_retry_policy_runs_the_next(
        tmp_path: Path, cli: RunCli, server: LLMServer) -> None:
    server.script(WIRE, Cut(role=False), Reply([]))  # attempt 1: a call and its one retry, both empty
    agent = {"type": "llm", "model": MODEL, "api_base": server.base_url, "api_key": {"env": KEY_VAR},
             "options": {"retries": 1, "retry_delay": 0.01}}
    job = {"id": "summary", "agent": "ai", "prompt": "say hi", "retry": {"max_attempts": 2, "delay": 0.1}}
    deck = init_deck(tmp_path / "deck", json.dumps({"agents": {"ai": agent}, "jobs": [job]}).encode())

    done = cli("run", "--once", "--quiet", cwd=deck.root, env=ENV)
    assert done.returncode == 0, done.stderr
    assert len(server.calls(WIRE)) == 3

    ends = [e for e in records(deck) if e["type"] in ("succeeded", "failed")]
    assert [(e["type"], e["attempt"]) for e in ends] == [("failed", 1), ("succeeded", 2)]
    failed = ends[0]
    assert (failed["reason"], failed["failure"], failed["message"]) == ("empty_answer", "transient", SAID)
    assert failed["output_bytes"] == 0 and "retry_at" in failed
    [retry] = [e for e in records(deck) if e["type"] == "progress" and e["what"] == "retry"]
    assert retry["reason"] == "empty_answer: answered 200 with no content"
    assert (deck.root / "workspaces/default/runs/summary/2/output").read_text() == "Hello, world."

    shown = cli("show", "summary", cwd=deck.root)
    assert shown.returncode == 0, shown.stderr
    [first_row] = [line for line in shown.stdout.splitlines() if line.startswith("1  failed")]
    assert first_row.split()[2] == "empty_answer"
    assert f'reason="empty_answer" failure="transient" message="{SAID}"' in shown.stdout
