"""`run --once` from cron after a runner died: what it recorded of the dead runner's attempts is its news.

A cron script mails on exit 1 ("a job the run left in review, failed or
waiting"); a run that found a dead runner's attempt and sent it to review, or
recorded its failure, exited 0 and said "ran 0 jobs: 0 done".
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.functional.runner_kit import events, jobdeck, make_deck, process_gone, start_runner, wait_for


def test_a_run_that_recorded_a_dead_runners_attempt_not_done_exits_1_and_names_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "leader.pid"
    deck = make_deck(tmp_path, [{"id": "long", "command": ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 60"]},
                                {"id": "quick", "command": ["true"], "depends_on": ["long"]}])
    first = start_runner(deck, "--once")
    leader = 0
    try:
        leader = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=15,
                              what="the job to start"))
        first.kill()  # kill -9: its attempt runs on, with nobody to record its end
        first.communicate()

        still = jobdeck(deck, "run", "--once")
        assert still.returncode == 0, still.stderr  # it runs still: nothing to say of its end yet
        assert "still running, its runner gone: long (stopped at its timeout, or `jobdeck cancel`)" in still.stderr
        assert "running under another runner" not in still.stderr

        os.killpg(leader, signal.SIGKILL)  # the attempt ends while no runner looks: no result.json
        wait_for(lambda: process_gone(leader), timeout=15, what="the job to end")
        recovered = jobdeck(deck, "run", "--once")
    finally:
        if leader and not process_gone(leader):
            os.killpg(leader, signal.SIGKILL)
    assert [e["type"] for e in events(deck) if e.get("job") == "long"] == ["claimed", "interrupted"]
    assert recovered.returncode == 1, recovered.stderr
    assert "ran 0 jobs: 0 done; left by a runner that is gone, not done: long (review)" in recovered.stderr
    again = jobdeck(deck, "run", "--once")  # the next run has nothing of it to tell
    assert again.returncode == 0 and "left by a runner" not in again.stderr, again.stderr


def test_run_once_json_ends_with_its_summary(tmp_path: Path) -> None:
    """The `ran ...` line was for people only: with --json a script had to count the outcome records itself."""
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["false"]}])
    done = jobdeck(deck, "run", "--once", "--json")
    assert done.returncode == 1 and "ran " not in done.stderr, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary == {"type": "summary", "ran": ["a", "b"], "attempts": 2, "not_done": ["b"], "retry_later": {},
                       "cooling": {}, "left_not_done": [], "running_elsewhere": [], "orphaned": [], "stopped_by": None}
    assert '"summary"' not in jobdeck(deck, "run", "--once", "--json", "--quiet").stdout  # --quiet: no summary


def test_run_once_waits_for_a_retry_due_soon_and_leaves_a_later_one_to_the_next_run(tmp_path: Path) -> None:
    """A provider's Retry-After of 15 minutes held `run --once` that long: cron's next run overlapped it."""
    soon = {"max_attempts": 2, "retryable_exit_codes": [75], "delay": "1s"}
    later = {"max_attempts": 3, "retryable_exit_codes": [75], "delay": "10m"}
    deck = make_deck(tmp_path, [{"id": "soon", "command": ["sh", "-c", "exit 75"], "retry": soon},
                                {"id": "later", "command": ["sh", "-c", "exit 75"], "retry": later}])
    done = jobdeck(deck, "run", "--once", "--json", timeout=60)
    assert done.returncode == 1, done.stderr
    tries = [e["job"] for e in events(deck) if e["type"] == "claimed"]
    assert sorted(tries) == ["later", "soon", "soon"]  # soon's retry, a second away, ran in this run
    summary = json.loads(done.stdout.splitlines()[-1])
    assert list(summary["retry_later"]) == ["later"] and summary["retry_later"]["later"] > time.time() + 500
    again = jobdeck(deck, "run", "--once", timeout=60)  # the next run: later's retry is not due yet
    assert again.returncode == 0 and again.stderr.endswith("ran 0 jobs: 0 done\n"), again.stderr
    assert len([e for e in events(deck) if e["type"] == "claimed"]) == 3
