"""Two runners on one deck (cron's overlapping `run --once`): each prints its own work, not the other's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.functional.runner_kit import board, jobdeck, make_deck, start_runner, wait_for


@pytest.mark.parametrize("json_lines", [False, True])
def test_a_runner_prints_another_runners_attempt_as_theirs(tmp_path: Path, json_lines: bool) -> None:
    go = tmp_path / "go"
    deck = make_deck(tmp_path, [
        {"id": "mine", "command": ["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done"]},
        {"id": "theirs", "command": ["true"], "trigger": "*.csv"},  # ready only once `run --job` triggers it
    ])
    # Its one slot taken by "mine", the first runner cannot claim "theirs": the second one does.
    first = start_runner(deck, "--once", "--parallel", "1", *(["--json"] if json_lines else []))
    wait_for(lambda: "mine" in board(deck) and board(deck)["mine"].status.value == "running",
             what="the first runner to start its job")
    second = jobdeck(deck, "run", "--job", "theirs", "--json")
    assert second.returncode == 0, second.stderr
    theirs = [json.loads(line) for line in second.stdout.splitlines()]
    other_runner = next(record["runner"] for record in theirs if record["type"] == "claimed")
    go.touch()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    if json_lines:
        records = [json.loads(line) for line in out.splitlines()]
        about_theirs = [record for record in records if record.get("job") == "theirs"]
        assert [record["type"] for record in about_theirs if record["type"] != "triggered"] == ["claimed_elsewhere"]
        assert about_theirs[-1]["runner"] == other_runner and about_theirs[-1]["attempt"] == 1
        assert [record["job"] for record in records if record["type"] == "claimed"] == ["mine"]
    else:
        lines = [line.split(" ", 1)[1] for line in out.splitlines()]
        assert f"theirs started by another runner, {other_runner} (attempt 1)" in lines, out
        assert "theirs started (attempt 1)" not in lines and "theirs done" not in lines, out
        assert "mine done" in lines and err.splitlines()[-1] == "ran 1 job: 1 done", err


def test_a_once_run_that_started_nothing_names_the_jobs_another_runner_is_running(tmp_path: Path) -> None:
    go = tmp_path / "go"
    deck = make_deck(tmp_path, [{"id": "long", "command": ["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done"]}])
    first = start_runner(deck, "--once")
    wait_for(lambda: "long" in board(deck) and board(deck)["long"].status.value == "running",
             what="the first runner to start the job")
    second = jobdeck(deck, "run", "--once")
    go.touch()
    first.communicate(timeout=60)
    assert second.returncode == 0, second.stderr
    assert second.stderr.splitlines()[-1] == "ran 0 jobs: 0 done; running under another runner: long", second.stderr
    assert "long started" not in second.stdout and "long done" not in second.stdout, second.stdout
