"""Redaction against an operator's real environment: everyday variables stay, referenced secrets go.

An operator's shell has variables whose names look secret and whose values are
ordinary (``AUTH_PROVIDER=github``, ``GIT_AUTHOR_NAME``, ``MAX_TOKENS=128000``).
They must not rewrite ids, names or JSON. A secret that a job added while the
runner is up references must be redacted from the first attempt on.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.runner_kit import (board, env_for, events, jobdeck, make_deck, output_of, start_runner,
                                         wait_for)


def test_everyday_values_of_secret_looking_variables_rewrite_nothing(tmp_path: Path) -> None:
    jobs = [
        {"id": "github-sync", "command": ["sh", "-c", "echo pushed to github by \"$GIT_AUTHOR_NAME\""]},
        {"id": "window", "command": ["echo", '{"context_window": 128000}'], "output": "json"},
    ]
    deck = make_deck(tmp_path, jobs)
    env = env_for(deck, AUTH_PROVIDER="github", GIT_AUTHOR_NAME="Ada Lovelace", MAX_TOKENS="128000")
    first = jobdeck(deck, "run", "--once", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert {e["job"] for e in events(deck) if "job" in e} == {"github-sync", "window"}
    assert output_of(deck, "github-sync") == "pushed to github by Ada Lovelace\n"
    assert json.loads(output_of(deck, "window")) == {"context_window": 128000}
    assert board(deck)["window"].status.value == "done"  # valid JSON, not sent to review
    # and the deck keeps working, with or without the variable
    for env in (env, env_for(deck)):
        assert jobdeck(deck, "retry", "github-sync", env=env).returncode == 0
        again = jobdeck(deck, "run", "--once", env=env)
        assert again.returncode == 0, again.stderr


def test_a_job_added_while_the_runner_is_up_has_its_referenced_secret_redacted(tmp_path: Path) -> None:
    secret = "s3cret-added-later-7731"
    deck = make_deck(tmp_path, [{"id": "first", "command": ["true"]}])
    runner = start_runner(deck, env=env_for(deck, ACCESS_CODE=secret))
    try:
        wait_for(lambda: board(deck).get("first") and board(deck)["first"].status.value == "done",
                 what="the first job to finish")
        spec = json.loads((deck / "jobs.json").read_text())
        spec["jobs"].append({"id": "leaky", "command": ["sh", "-c", "echo key=$K; echo err=$K >&2; exit 3"],
                             "env": {"K": {"env": "ACCESS_CODE"}}, "retry": {"max_attempts": 1}})
        (deck / "jobs.json.new").write_text(json.dumps(spec))
        (deck / "jobs.json.new").replace(deck / "jobs.json")  # an editor's save
        wait_for(lambda: board(deck).get("leaky") and board(deck)["leaky"].status.value == "failed",
                 what="the added job to fail")
    finally:
        runner.terminate()
        runner.wait(30)
    run_dir = deck / "workspaces" / "default" / "runs" / "leaky" / "1"
    assert "key=[REDACTED:ACCESS_CODE]" in (run_dir / "output").read_text()
    leaks = [str(p.relative_to(deck)) for p in deck.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaks == []


def test_a_log_holding_an_invalid_job_id_still_runs_the_deck(tmp_path: Path) -> None:
    """A record an older redactor rewrote ("[REDACTED:X]-sync") names no job: it is skipped, not fatal."""
    from jobdeck.state.board import open_store
    from jobdeck.state.deck import Deck

    deck = make_deck(tmp_path, [{"id": "github-sync", "command": ["true"]}])
    handle = Deck(deck)
    handle.ensure_state_dirs()
    with open_store(handle) as store:  # written as the older runner did, past today's checks
        store.log.seal([{"type": "claimed", "job": "[REDACTED:AUTH_PROVIDER]-sync", "runner": "r",
                         "workspace": "default", "attempt": 1, "pid": 1}], 1.0)
        store.log.flush()
    for _ in range(2):  # the second run starts from the board.json the first one wrote
        done = jobdeck(deck, "run", "--once")
        assert done.returncode == 0, done.stderr
        assert jobdeck(deck, "retry", "github-sync").returncode == 0
    assert board(deck)["github-sync"].status.value == "backlog"
    assert jobdeck(deck, "audit", "verify").returncode == 0


def test_a_reference_declared_not_secret_passes_its_value_through_and_the_others_stay_redacted(tmp_path: Path) -> None:
    """`{"env": NAME, "secret": false}` reads an ordinary value (a batch size) from the environment without
    redacting it from the job's JSON output; a plain reference beside it is still a secret."""
    jobs = [{"id": "batch", "output": "json", "env": {"BATCH": {"env": "BATCH_SIZE", "secret": False},
                                                      "KEY": {"env": "ACCESS_CODE"}},
             "command": ["sh", "-c", 'echo "{\\"rows\\": 300000, \\"batch\\": $BATCH, \\"key\\": \\"$KEY\\"}"']}]
    deck = make_deck(tmp_path, jobs)
    done = jobdeck(deck, "run", "--once", env=env_for(deck, BATCH_SIZE="100000", ACCESS_CODE="s3cret-ref-9912"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(output_of(deck, "batch")) == {"rows": 300000, "batch": 100000, "key": "[REDACTED:ACCESS_CODE]"}
    assert board(deck)["batch"].status.value == "done"


def test_a_referenced_variable_holding_a_plain_word_is_named_once_and_its_value_never(tmp_path: Path) -> None:
    """A setting referenced without "secret": false is redacted from every output it appears in
    ("[REDACTED:AUTH_PROVIDER].com"): the runner says which, and prints no value."""
    deck = make_deck(tmp_path, [
        {"id": "sync", "command": ["sh", "-c", "echo clone from $P.com"], "env": {"P": {"env": "AUTH_PROVIDER"}}},
        {"id": "sign", "command": ["true"], "env": {"K": {"env": "SIGNING_KEY"}, "T": {"env": "TOKEN_TYPE"}}},
        {"id": "plain", "command": ["true"], "env": {"R": {"env": "REGION", "secret": False}}},
    ])
    env = env_for(deck, AUTH_PROVIDER="github", SIGNING_KEY="k8Xw2Qz9Lm4pR7tV", TOKEN_TYPE="bearer", REGION="europe")
    ran = jobdeck(deck, "run", "--once", env=env)
    assert ran.returncode == 0, ran.stderr
    said = [line.split(" ", 1)[1] for line in ran.stdout.splitlines() if "plain word" in line]
    assert said == ["AUTH_PROVIDER, TOKEN_TYPE: referenced as secrets but each holds a short plain word, which is "
                    "redacted from every output it appears in (\"secret\": false in the reference if it is none)"]
    assert "github" not in ran.stdout and "bearer" not in ran.stdout
    assert output_of(deck, "sync") == "clone from [REDACTED:AUTH_PROVIDER].com\n"  # as documented: still redacted


def _without_well_known(env: dict[str, str]) -> dict[str, str]:
    from jobdeck.state.redact import WELL_KNOWN

    return {name: value for name, value in env.items() if name not in WELL_KNOWN}


def test_well_known_variables_holding_a_plain_word_rewrite_no_output_and_real_keys_stay_redacted(
        tmp_path: Path) -> None:
    """`OPENAI_API_KEY=ollama` (a local server's usual setting) and `GITLAB_TOKEN=default` are no keys:
    a job's JSON that holds those words stays valid; a real key in a well-known variable is still redacted."""
    real_key = "sk-ant-api03-Xk29fQ7LmZp4Rt8WvB1nY6cD"
    deck = make_deck(tmp_path, [
        {"id": "p", "command": ["echo", '{"mode": "default", "backend": "ollama"}'],
         "validate": {"json_schema": {"type": "object",
                                      "properties": {"mode": {"enum": ["default", "custom"]}}}}},
        {"id": "keys", "command": ["sh", "-c", 'echo "key=$ANTHROPIC_API_KEY via ollama"; '
                                               'echo "err=$ANTHROPIC_API_KEY mode default" >&2']},
        {"id": "strict", "command": ["echo", '{"mode": "default"}'],
         "validate": {"json_schema": {"properties": {"mode": {"enum": ["custom"]}}}}},
    ])
    env = {**_without_well_known(env_for(deck)), "OPENAI_API_KEY": "ollama", "GITLAB_TOKEN": "default",
           "ANTHROPIC_API_KEY": real_key}
    ran = jobdeck(deck, "run", "--once", env=env)
    assert ran.returncode == 1 and ran.stderr.endswith("not done: strict\n"), ran.stdout + ran.stderr
    assert json.loads(output_of(deck, "p")) == {"mode": "default", "backend": "ollama"}
    assert board(deck)["p"].status.value == "done"  # valid against its schema, not sent to review
    run_dir = deck / "workspaces" / "default" / "runs" / "keys" / "1"
    assert (run_dir / "output").read_text() == "key=[REDACTED:ANTHROPIC_API_KEY] via ollama\n"
    assert (run_dir / "stderr.log").read_text() == "err=[REDACTED:ANTHROPIC_API_KEY] mode default\n"
    leaks = [str(p.relative_to(deck)) for p in deck.rglob("*") if p.is_file() and real_key.encode() in p.read_bytes()]
    assert leaks == []
    said = [line.split(" ", 1)[1] for line in ran.stdout.splitlines() if "plain word" in line]
    assert said == ["GITLAB_TOKEN, OPENAI_API_KEY: well-known credentials holding a plain word, not a key, "
                    "so not redacted"]
    assert "ollama" not in ran.stdout  # the names, never the values
    assert real_key not in ran.stdout + ran.stderr
    reasons = [str(e) for e in events(deck) if e.get("job") == "strict" and "REDACTED" not in str(e)
               and "'default' is not one of ['custom']" in str(e)]
    assert reasons, "the validator's message names the word as the job wrote it"
    assert jobdeck(deck, "logs", "p", env=env).stdout == '{"mode": "default", "backend": "ollama"}\n'


def test_a_referenced_well_known_variable_holding_a_plain_word_is_still_redacted(tmp_path: Path) -> None:
    """A reference is the deck saying "this is a secret": `{"env": "OPENAI_API_KEY"}` holding `ollama` is redacted."""
    deck = make_deck(tmp_path, [{"id": "ref", "command": ["sh", "-c", "echo backend $K"],
                                 "env": {"K": {"env": "OPENAI_API_KEY"}}}])
    ran = jobdeck(deck, "run", "--once", env={**_without_well_known(env_for(deck)), "OPENAI_API_KEY": "ollama"})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert output_of(deck, "ref") == "backend [REDACTED:OPENAI_API_KEY]\n"
    said = [line.split(" ", 1)[1] for line in ran.stdout.splitlines() if "plain word" in line]
    assert said == ["OPENAI_API_KEY: referenced as secret but holds a short plain word, which is redacted from "
                    "every output it appears in (\"secret\": false in the reference if it is none)"]


def test_an_agents_api_key_holding_a_plain_word_is_redacted_and_said_with_what_to_do(tmp_path: Path) -> None:
    """An api_key is a secret whatever it holds; a local server's "ollama" there is cut out of every output, so the
    runner says so, and how to do without one. "secret": false on it was accepted and did nothing: refused."""
    agents = {"local": {"type": "llm", "model": "openai/llama3", "api_key": {"env": "OPENAI_API_KEY"}}}
    deck = make_deck(tmp_path, [{"id": "say", "command": ["echo", "ollama is the backend"]}], agents=agents)
    ran = jobdeck(deck, "run", "--once", env={**_without_well_known(env_for(deck)), "OPENAI_API_KEY": "ollama"})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert output_of(deck, "say") == "[REDACTED:OPENAI_API_KEY] is the backend\n"
    said = [line.split(" ", 1)[1] for line in ran.stdout.splitlines() if "plain word" in line]
    assert said == ["OPENAI_API_KEY: an agent's api_key holding a plain word, redacted from every output it appears "
                    "in; for a server that takes any key, leave api_key out: the provider's SDK reads the variable "
                    "itself"]
    spec = json.loads((deck / "jobs.json").read_text())
    spec["agents"]["local"]["api_key"]["secret"] = False
    (deck / "jobs.json").write_text(json.dumps(spec, indent=1))
    refused = jobdeck(deck, "validate")
    assert refused.returncode == 1
    assert "agent 'local': an api_key is a secret whatever \"secret\" says (hint: remove \"secret\": false;" \
        in refused.stdout + refused.stderr
