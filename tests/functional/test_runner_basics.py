"""The runner end to end with real processes: outcomes, timeouts, retries, DAGs, review."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.functional.runner_kit import board, events, jobdeck, make_deck, output_of, status


def test_once_runs_dag_with_parallel_branches_and_blocks_dependents_of_a_failure(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "load", "command": ["sh", "-c", "echo leads"]},
        {"id": "score", "command": ["sh", "-c", "cat \"$JOBDECK_INPUT_LOAD\"; echo scored"], "depends_on": ["load"]},
        {"id": "research", "command": ["sh", "-c", "exit 4"], "depends_on": ["load"]},
        {"id": "write", "command": ["echo", "written"], "depends_on": ["score", "research"]},
    ])
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 1, result.stderr
    states = board(deck)
    assert states["load"].status.value == "done"
    assert states["score"].status.value == "done"
    assert states["research"].status.value == "failed"
    assert "write" not in states  # never started
    assert output_of(deck, "score") == "leads\nscored\n"
    ls = json.loads(jobdeck(deck, "ls", "--json", check=True).stdout)
    write = next(card for card in ls if card["id"] == "write")
    assert "blocked by research (failed)" in write["flags"]
    # score and research ran side by side: both claimed before either finished
    types = [(e["type"], e.get("job")) for e in events(deck)]
    first_end = min(i for i, t in enumerate(types) if t[0] in ("succeeded", "failed") and t[1] in ("score", "research"))
    assert types.index(("claimed", "score")) < first_end and types.index(("claimed", "research")) < first_end


def test_idle_timeout_and_hard_timeout_are_distinct_and_keep_partial_output(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "stall", "command": ["sh", "-c", "echo partial; sleep 30"], "timeout": {"idle": 0.5, "grace": 0.5}},
        {"id": "chatty", "command": ["sh", "-c", "while true; do echo tick; sleep 0.05; done"],
         "timeout": {"idle": 0.9, "hard": 1, "grace": 0.5}},
    ])
    started = time.monotonic()
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 1
    assert time.monotonic() - started < 15
    states = board(deck)
    assert states["stall"].attempts[0].reason == "idle_timeout"
    assert states["chatty"].attempts[0].reason == "hard_timeout"
    said = {line.split()[1]: line.split(" ", 1)[1] for line in result.stdout.splitlines() if " failed" in line}
    assert said == {"stall": "stall failed: idle timeout: no output for 0.5s; stopped",  # which limit, in words
                    "chatty": "chatty failed: hard timeout: running for 1s; stopped"}
    assert output_of(deck, "stall") == "partial\n"
    assert output_of(deck, "chatty").count("tick") >= 5


def test_transient_failure_retries_with_backoff_then_succeeds(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "flaky", "command": ["sh", "-c", "echo try $JOBDECK_ATTEMPT; [ \"$JOBDECK_ATTEMPT\" -ge 3 ] || exit 75"],
         "retry": {"max_attempts": 3, "backoff": "exponential", "delay": 0.2, "jitter": 0, "retryable_exit_codes": [75]}},
    ])
    assert jobdeck(deck, "run", "--once").returncode == 0
    fails = [e for e in events(deck) if e["type"] == "failed"]
    claims = [e for e in events(deck) if e["type"] == "claimed"]
    assert len(fails) == 2 and len(claims) == 3
    # exponential: retry 0.2 s, then 0.4 s after each failed attempt ended; never claimed early
    assert fails[0]["retry_at"] - claims[0]["ts"] >= 0.2
    assert fails[1]["retry_at"] - claims[1]["ts"] >= 0.4
    assert claims[1]["ts"] >= fails[0]["retry_at"] and claims[2]["ts"] >= fails[1]["retry_at"]
    assert status(deck, "flaky") == "done"
    assert output_of(deck, "flaky", 3) == "try 3\n"


def test_persistent_failure_is_not_retried(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "broken", "command": ["sh", "-c", "exit 2"], "retry": {"max_attempts": 5, "retryable_exit_codes": [75]}},
        {"id": "missing", "command": ["/nonexistent/tool"]},
    ])
    assert jobdeck(deck, "run", "--once").returncode == 1
    states = board(deck)
    assert states["broken"].status.value == "failed" and len(states["broken"].attempts) == 1
    assert states["missing"].status.value == "failed"
    assert "command not found" in states["missing"].reason


def test_review_policy_and_high_risk_approval(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "draft", "command": ["echo", "draft"], "risk": "medium"},
        {"id": "crm", "command": ["echo", "written"], "risk": "high", "depends_on": ["draft"]},
    ])
    assert jobdeck(deck, "run", "--once").returncode == 1
    assert status(deck, "draft") == "review"
    jobdeck(deck, "approve", "draft", "--reason", "reads well", check=True)
    assert jobdeck(deck, "run", "--once").returncode == 0  # crm still awaits approval: nothing ran
    assert status(deck, "crm") == "backlog"
    assert "crm" not in {e.get("job") for e in events(deck) if e["type"] == "claimed"}
    jobdeck(deck, "approve", "crm", check=True)
    assert jobdeck(deck, "run", "--once").returncode == 0
    assert status(deck, "crm") == "done"
    approvals = [e for e in events(deck) if e["type"] == "approved"]
    assert [a["job"] for a in approvals] == ["draft", "crm"] and all(a["via"] == "cli" for a in approvals)


def test_run_job_runs_missing_upstream_and_exits_with_its_outcome(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "a", "command": ["echo", "a"]},
        {"id": "b", "command": ["echo", "b"], "depends_on": ["a"]},
        {"id": "other", "command": ["echo", "other"]},
        {"id": "bad", "command": ["false"]},
    ])
    assert jobdeck(deck, "run", "--job", "b").returncode == 0
    states = board(deck)
    assert states["a"].status.value == "done" and states["b"].status.value == "done"
    assert "other" not in states
    result = jobdeck(deck, "run", "--job", "bad")
    assert result.returncode == 1 and "bad" in result.stderr
    # running a done job again starts a new attempt
    assert jobdeck(deck, "run", "--job", "b").returncode == 0
    assert len(board(deck)["b"].attempts) == 2


def test_secret_from_env_ref_is_redacted_everywhere(tmp_path: Path) -> None:
    canary = "sk-canary-runner-0123456789"
    deck = make_deck(tmp_path, [
        {"id": "leaky", "command": ["sh", "-c", "echo key=$API_KEY; echo $API_KEY >&2; exit 3"],
         "env": {"API_KEY": {"env": "JOBDECK_CANARY"}}},
    ])
    from tests.functional.runner_kit import env_for

    jobdeck(deck, "run", "--once", env=env_for(deck, JOBDECK_CANARY=canary))
    for path in deck.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path
    assert "[REDACTED:JOBDECK_CANARY]" in output_of(deck, "leaky")


def test_invalid_spec_at_start_of_once_is_one_clear_error(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}])
    (deck / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["true"],}]}')
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 1
    assert "jobs.json:1:" in result.stderr and "Traceback" not in result.stderr


def test_invalid_output_goes_to_review_with_reasons_and_never_reaches_dependents(tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["score"], "properties": {"score": {"type": "integer"}}}
    deck = make_deck(tmp_path, [
        {"id": "score", "command": ["echo", '{"score": "high"}'], "output": "json",
         "validate": {"json_schema": schema}},
        {"id": "use", "command": ["sh", "-c", "cat \"$JOBDECK_INPUT_SCORE\""], "depends_on": ["score"]},
        {"id": "tagged", "command": ["echo", "no ticket here"], "validate": {"regex": "TICKET-[0-9]+"}},
        {"id": "strict", "command": ["echo", "nope"], "validate": {"regex": "^ok"}, "review": "never"},
    ])
    assert jobdeck(deck, "run", "--once").returncode == 1
    states = board(deck)
    assert states["score"].status.value == "review" and states["score"].reason == "invalid output"
    assert any("score" in reason for reason in states["score"].reasons), states["score"].reasons
    assert "use" not in states  # the dependent never started
    assert states["tagged"].status.value == "review" and states["tagged"].reasons
    assert states["strict"].status.value == "failed"
    # an operator who accepts the output lets the dependent run on it
    jobdeck(deck, "approve", "score", check=True)
    assert jobdeck(deck, "run", "--once").returncode == 0
    assert output_of(deck, "use") == '{"score": "high"}\n'


def test_run_once_counts_the_attempts_of_a_job_run_more_than_once(tmp_path: Path) -> None:
    """Two inbox files run one job twice: the summary says 1 job and 2 attempts, not just "ran 1 job"."""
    deck = make_deck(tmp_path, [{"id": "ingest", "command": ["cat", "{{inputs.input}}"], "trigger": "*.csv"},
                                {"id": "plain", "command": ["true"]}])
    inbox = deck / "workspaces" / "default" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    for name in ("a.csv", "b.csv"):
        (inbox / name).write_text(name + "\n")
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "ran 2 jobs (3 attempts): 2 done"


def test_a_validator_runs_in_the_workspace_as_the_job_does(tmp_path: Path) -> None:
    """A relative path means the same in `validate.command` as in `command` (docs/jobs-json.md's own example)."""
    deck = make_deck(tmp_path, [{"id": "t", "command": ["sh", "scripts/make.sh"],
                                 "validate": {"command": ["sh", "scripts/check.sh"]}}])
    scripts = deck / "workspaces" / "default" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "make.sh").write_text("echo rows: 3\n")
    (scripts / "check.sh").write_text('grep -q "rows: 3" "$1" || { echo "no rows in $1" >&2; exit 1; }\n')
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert status(deck, "t") == "done"


def test_logs_of_an_attempt_that_failed_with_no_output_says_how_it_ended(tmp_path: Path) -> None:
    """It printed nothing and exited 0: an llm job's provider error, say, is in its record, not its output."""
    deck = make_deck(tmp_path, [{"id": "quiet", "command": ["false"]}, {"id": "said", "command": ["echo", "hi"]}])
    jobdeck(deck, "run", "--once")
    told = jobdeck(deck, "logs", "quiet")
    assert (told.returncode, told.stdout) == (0, "")
    assert told.stderr == ("jobdeck: quiet: attempt 1 wrote nothing to its output; it ended failed (exited with code 1) "
                           "(hint: `jobdeck show quiet` has the whole story)\n")
    done = jobdeck(deck, "logs", "said")
    assert (done.stdout, done.stderr) == ("hi\n", "")  # a success with output: the output alone


def test_a_job_taken_out_of_jobs_json_while_it_runs_can_still_be_cancelled(tmp_path: Path) -> None:
    """`rm` refuses a running job, but a hand edit does not: its attempt ran to the end, `cancel` saying there was
    no such job."""
    from tests.functional.runner_kit import start_runner, wait_for

    deck = make_deck(tmp_path, [{"id": "long", "command": ["sleep", "60"]}, {"id": "stays", "command": ["true"]}])
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "long") == "running", what="long to run")
        (deck / "jobs.json").write_text(json.dumps({"jobs": [{"id": "stays", "command": ["true"]}]}))
        cancelled = jobdeck(deck, "cancel", "long")
        assert cancelled.returncode == 0, cancelled.stderr
        assert "no longer in jobs.json: its running attempt is stopped" in cancelled.stderr
        wait_for(lambda: any(e["type"] == "failed" and e["job"] == "long" for e in events(deck)),
                 what="the attempt's end")
        assert status(deck, "long") == "cancelled"
        other = jobdeck(deck, "cancel", "nope")
        assert other.returncode == 1 and "no job 'nope'" in other.stderr
    finally:
        runner.terminate()
        runner.communicate(timeout=30)
