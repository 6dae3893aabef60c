"""`jobdeck status --check`: exit 0 with a live runner and nothing stuck, else 1 and one line per problem."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.functional.runner_kit import board, jobdeck, make_deck, start_runner, wait_for


@contextmanager
def runner_on(deck: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A long-running runner, stopped (and continued first, if it was stopped) at the end."""
    runner = start_runner(deck, *args)
    try:
        wait_for(lambda: list((deck / ".jobdeck" / "runners").glob("*.json")), what="the runner's heartbeat")
        yield runner
    finally:
        runner.send_signal(signal.SIGCONT)
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)


def check(deck: Path, *extra: str) -> tuple[int, list[str]]:
    result = jobdeck(deck, "status", "--check", *extra)
    assert result.stderr == "", result.stderr
    return result.returncode, [line for line in result.stdout.splitlines() if line.startswith("problem:")]


def status_of(deck: Path, job: str) -> str | None:
    state = board(deck).get(job)
    return state.status.value if state else None


def test_healthy_with_a_live_runner_and_nothing_stuck(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "quick", "command": ["true"]}])
    with runner_on(deck):
        wait_for(lambda: status_of(deck, "quick") == "done", what="the job to end")
        code, problems = check(deck, "--review-age", "1s")
        assert (code, problems) == (0, [])
        report = json.loads(jobdeck(deck, "status", "--json").stdout)
        assert report["ok"] is True and report["jobs"] == {"done": 1}
        assert [r["alive"] for r in report["runners"]] == [True]


def test_no_runner_is_a_problem(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "quick", "command": ["true"]}])
    code, problems = check(deck)
    assert code == 1
    assert problems == ["problem: no runner: no heartbeat in .jobdeck/runners/ (hint: start `jobdeck run`)"]


def test_a_killed_runners_heartbeat_goes_stale_where_its_process_cannot_be_seen(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "quick", "command": ["true"]}])
    runner = start_runner(deck)
    beats = wait_for(lambda: list((deck / ".jobdeck" / "runners").glob("*.json")), what="the heartbeat")
    runner.kill()
    runner.wait(30)
    # As a reader on another machine sees it (test_heartbeat_liveness.py: this one knows at once).
    record = json.loads(beats[0].read_text())
    record["boot_id"] = "another-boot"
    beats[0].write_text(json.dumps(record))
    assert check(deck) == (0, [])  # the file a kill -9 left is fresh for STALE_AFTER seconds
    # The clock moves on a minute: age the real leftover instead of waiting for it.
    record["heartbeat"] -= 60
    beats[0].write_text(json.dumps(record))
    code, problems = check(deck)
    assert code == 1 and len(problems) == 1
    assert f"pid {runner.pid}" in problems[0] and "stale after 15s" in problems[0]
    report = json.loads(jobdeck(deck, "status", "--json").stdout)
    assert [p["kind"] for p in report["problems"]] == ["stale_heartbeat"]


def test_a_job_running_past_its_hard_timeout(tmp_path: Path) -> None:
    # A runner that hangs (SIGSTOP) cannot enforce the timeout; its heartbeat is still young.
    deck = make_deck(tmp_path, [{"id": "stuck", "command": ["sleep", "60"],
                                  "timeout": {"hard": "1s", "grace": "0.1s"}}])
    with runner_on(deck) as runner:
        wait_for(lambda: status_of(deck, "stuck") == "running", what="the job to start")
        os.kill(runner.pid, signal.SIGSTOP)
        found = wait_for(lambda: (lambda r: r if r[0] == 1 else None)(check(deck)), timeout=30,
                         what="status --check to see the overrun")
        assert len(found[1]) == 1 and found[1][0].startswith("problem: job stuck: running ")
        assert "past its hard timeout of 1.0s" in found[1][0]


def test_a_review_waiting_longer_than_review_age(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "pub", "command": ["echo", "draft"], "review": "always"}])
    with runner_on(deck):
        wait_for(lambda: status_of(deck, "pub") == "review", what="the output to wait for review")
        assert check(deck, "--review-age", "1h") == (0, [])
        code, problems = wait_for(lambda: (lambda r: r if r[0] == 1 else None)(check(deck, "--review-age", "1s")),
                                  timeout=30, what="the review to be older than 1s")
        assert problems == [p for p in problems if "job pub: output waiting for review" in p] and len(problems) == 1
        bad = jobdeck(deck, "status", "--check", "--review-age", "soon")
        assert bad.returncode == 2 and "'soon' is not a duration" in bad.stderr


def test_an_invalid_jobs_json_says_the_jobs_that_never_ran_are_not_counted(tmp_path: Path) -> None:
    """The runner keeps its last good spec, and so does status where this jobdeck accepted one here; without one, it
    knows only the jobs with history, and says so rather than "jobs: none" or a backlog short by every job that never
    ran."""
    deck = make_deck(tmp_path, [{"id": "ran", "command": ["true"]}, {"id": "waits", "command": ["true"],
                                                                       "risk": "high"},
                                {"id": "never", "command": ["true"], "depends_on": ["waits"]}])
    assert jobdeck(deck, "run", "--once").returncode == 0
    assert json.loads(jobdeck(deck, "status", "--json").stdout)["jobs"] == {"backlog": 2, "done": 1}
    (deck / "jobs.json").write_text('{"jobs": [\n')
    kept = json.loads(jobdeck(deck, "status", "--json").stdout)
    assert kept["jobs"] == {"backlog": 2, "done": 1} and kept["jobs_complete"] is True
    [said] = [problem["message"] for problem in kept["problems"] if problem["kind"] == "spec_error"]
    assert said.endswith("deadlines and max_wait are checked against that version meanwhile"), said
    (deck / ".jobdeck" / "spec.kept.json").unlink()  # (no version kept: a deck last valid before one was kept)

    result = jobdeck(deck, "status")
    report = json.loads(jobdeck(deck, "status", "--json").stdout)

    assert result.stdout.splitlines()[0] == ("jobs with history: 1 done "
                                             "(jobs.json is invalid: those that never ran are not known)")
    assert report["jobs"] == {"done": 1} and report["jobs_complete"] is False
    assert "spec_error" in [problem["kind"] for problem in report["problems"]]


def test_jobs_no_longer_in_jobs_json_are_not_counted(tmp_path: Path) -> None:
    """After jobs.json is replaced by other jobs, status counts the jobs it declares, as `ls` lists them, and says
    apart how many past jobs (with history, no longer declared) it leaves out."""
    deck = make_deck(tmp_path, [{"id": f"old-{n}", "command": ["true"]} for n in range(3)])
    assert jobdeck(deck, "run", "--once").returncode == 0
    (deck / "jobs.json").write_text(json.dumps({"jobs": [{"id": "new-0", "command": ["true"]},
                                                         {"id": "new-1", "command": ["false"]}]}))
    assert jobdeck(deck, "run", "--once").returncode == 1  # (new-1 failed)

    result = jobdeck(deck, "status")
    report = json.loads(jobdeck(deck, "status", "--json").stdout)

    assert result.stdout.splitlines()[0] == "jobs: 1 done, 1 failed (3 no longer in jobs.json, not counted)"
    assert report["jobs"] == {"done": 1, "failed": 1} and report["jobs_complete"] is True
    assert report["jobs_past"] == 3
