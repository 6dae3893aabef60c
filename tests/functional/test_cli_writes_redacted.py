"""What an operator types into an action (a trigger's input, a reason) reaches the log redacted, as a job's output
does: the CLI's writes are redacted with the secrets jobs.json references and the well-known names, which only
the runner's writes were. Real `jobdeck` processes, real files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.runner_kit import env_for, jobdeck, make_deck

GITHUB = "ghp_R3alisticT0kenValue1234567890abcdEF"  # a well-known name: redacted whether or not jobs.json names it
TEAM = "team-Secret-0123456789-abcdefXYZ"  # a name only jobs.json makes a secret
EVERYDAY = {"TOKEN_TYPE": "bearer", "PASSWORD_POLICY": "strict"}  # secret-looking names, everyday values


def deck_files(deck: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted((deck / ".jobdeck").rglob("*")) if path.is_file())


def test_a_trigger_input_and_the_reasons_of_actions_are_recorded_redacted(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "fetch", "command": ["sh", "-c", 'printf "%s" "$JOBDECK_VAR_INPUT" > got'],
         "env": {"TEAM_SECRET": {"env": "TEAM_SECRET"}}},
        {"id": "publish", "command": ["true"], "depends_on": ["fetch"], "risk": "high"},
    ])
    env = env_for(deck, GITHUB_TOKEN=GITHUB, TEAM_SECRET=TEAM, **EVERYDAY)
    triggered = jobdeck(deck, "trigger", "fetch", "--input", f"input={GITHUB}", "--reason", f"rotate {TEAM}",
                        env=env, check=True)
    assert "input 'input' holds a secret's value" in triggered.stderr and GITHUB not in triggered.stderr
    jobdeck(deck, "approve", "publish", "--reason", f"ok with {GITHUB}; policy strict, type bearer", env=env,
            check=True)
    kept = deck_files(deck)
    assert GITHUB.encode() not in kept and TEAM.encode() not in kept
    records = [json.loads(line) for line in (deck / ".jobdeck" / "events.jsonl").read_text().splitlines()]
    trigger = next(record for record in records if record["type"] == "triggered")
    assert trigger["inputs"] == {"input": "[REDACTED:GITHUB_TOKEN]"} and trigger["reason"] == \
        "rotate [REDACTED:TEAM_SECRET]"
    approved = next(record for record in records if record["type"] == "approved")
    assert approved["reason"] == "ok with [REDACTED:GITHUB_TOKEN]; policy strict, type bearer", \
        "everyday values of secret-looking names are left alone"
    shown = jobdeck(deck, "show", "publish", env=env, check=True).stdout
    assert GITHUB not in shown and TEAM not in shown
    jobdeck(deck, "run", "--once", "--quiet", env=env, check=True)
    assert (deck / "workspaces" / "default" / "got").read_text() == "[REDACTED:GITHUB_TOKEN]", \
        "the job is given what the log keeps"


def test_a_long_lived_store_redacts_what_jobs_json_came_to_reference_since(tmp_path: Path, monkeypatch) -> None:
    """The cockpit keeps one store for its actions: a variable jobs.json references after its first action is
    redacted in the next, as the runner's redactor follows the spec it adopts."""
    from jobdeck.state.board import open_store
    from jobdeck.state.deck import Deck

    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}])
    monkeypatch.setenv("TEAM_SECRET", TEAM)
    with open_store(Deck(deck)) as store:
        store.commit([{"type": "paused", "job": "a", "by": "op", "reason": f"before {TEAM}"}])
        spec = json.loads((deck / "jobs.json").read_text())
        spec["jobs"][0]["env"] = {"T": {"env": "TEAM_SECRET"}}
        (deck / "jobs.json").write_text(json.dumps(spec))
        store.commit([{"type": "resumed", "job": "a", "by": "op", "reason": f"after {TEAM}"}])
    reasons = [json.loads(line).get("reason") for line in (deck / ".jobdeck" / "events.jsonl").read_text().splitlines()]
    assert reasons[-2:] == [f"before {TEAM}", "after [REDACTED:TEAM_SECRET]"]
