"""Stopping a runner: --grace is honoured, the exit code says it was stopped, idempotent jobs re-run."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.functional.runner_kit import board, env_for, jobdeck, make_deck, start_runner, wait_for


def running(deck: Path, job: str) -> bool:
    state = board(deck).get(job)
    return state is not None and state.status.value == "running"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_gives_running_attempts_the_grace_then_stops_them(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGHUP too (a terminal closing, an SSH session dropped): by default it killed the runner on the spot, its
    attempt left running with no runner, and no line said why."""
    deck = make_deck(tmp_path, [{"id": "long", "command": ["sleep", "40"]}])
    runner = start_runner(deck, "--once", "--grace", "1")
    wait_for(lambda: running(deck, "long"), what="the job to start")
    stopped_at = time.monotonic()
    runner.send_signal(sig)
    code = runner.wait(30)
    took = time.monotonic() - stopped_at
    stderr = runner.stderr.read()
    assert code == 128 + sig, stderr
    assert took < 10, f"the runner took {took:.1f}s to stop with --grace 1"
    assert f"stopped by {sig.name}" in stderr and f"stopping on {sig.name}: waiting up to 1s" in stderr, stderr
    state = board(deck)["long"]
    assert state.status.value == "review" and state.attempts[-1].outcome == "interrupted"


def test_sigint_exits_130_even_when_the_attempt_then_ends_done(tmp_path: Path) -> None:
    marker = tmp_path / "go"
    deck = make_deck(tmp_path, [{"id": "short", "command": ["sh", "-c", f"while [ ! -e {marker} ]; do sleep 0.05; done"]}])
    runner = start_runner(deck, "--once")
    wait_for(lambda: running(deck, "short"), what="the job to start")
    runner.send_signal(signal.SIGINT)
    marker.touch()  # the attempt finishes well within the grace
    assert runner.wait(30) == 130
    assert board(deck)["short"].status.value == "done"


def test_an_interrupted_idempotent_job_with_one_attempt_is_run_again(tmp_path: Path) -> None:
    marker = tmp_path / "second-run"
    script = f"if [ -e {marker}.first ]; then touch {marker}; else touch {marker}.first; sleep 40; fi"
    deck = make_deck(tmp_path, [{"id": "safe", "command": ["sh", "-c", script], "idempotent": True,
                                 "retry": {"max_attempts": 1}}])
    runner = start_runner(deck, "--once", "--grace", "0")
    first = Path(f"{marker}.first")
    wait_for(lambda: running(deck, "safe") and first.exists(), what="the job's program to start")
    runner.send_signal(signal.SIGTERM)
    runner.wait(30)
    state = board(deck)["safe"]
    assert state.status.value == "backlog" and state.attempts[-1].outcome == "interrupted", state
    again = jobdeck(deck, "run", "--once")
    assert again.returncode == 0, again.stderr
    assert marker.exists() and board(deck)["safe"].status.value == "done"
    listed = jobdeck(deck, "ls").stdout
    assert "1/1" in listed  # the interrupted attempt gave its try back
    shown = jobdeck(deck, "show", "safe", env=env_for(deck, COLUMNS="200")).stdout  # and why show lists two
    assert "tries used 1/1" in shown and "interrupted (not a try)" in shown, shown


def test_ls_names_an_interruption_once(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "long", "command": ["sleep", "40"]}])
    runner = start_runner(deck, "--once", "--grace", "0")
    wait_for(lambda: running(deck, "long"), what="the job to start")
    runner.send_signal(signal.SIGTERM)
    runner.wait(30)
    line = next(line for line in jobdeck(deck, "ls").stdout.splitlines() if line.startswith("long"))
    assert line.count("interrupted") == 1, line


@pytest.mark.parametrize(("mode", "sig", "said"), [
    ("", signal.SIGINT, "stopping: waiting up to 30s for 1 running attempt (^C again to stop now)"),
    ("--quiet", signal.SIGTERM, "stopping on SIGTERM: waiting up to 30s for 1 running attempt"),
    ("--json", signal.SIGTERM, {"type": "stopping", "by": "SIGTERM", "grace": 30.0, "running": 1}),
])
def test_the_first_signal_says_what_the_runner_waits_for_and_the_second_that_it_stops_now(
        tmp_path: Path, mode: str, sig: signal.Signals, said: str | dict[str, object]) -> None:
    deck = make_deck(tmp_path, [{"id": "long", "command": ["sleep", "40"]}])
    runner = start_runner(deck, "--once", "--grace", "30", *([mode] if mode else []))
    wait_for(lambda: running(deck, "long"), what="the job to start")
    runner.send_signal(sig)
    lines = runner.stdout if mode == "--json" else runner.stderr  # assert: the line comes while the grace runs
    assert runner.stderr is not None and lines is not None
    line = next((line for line in lines if "stopping" in line), "")
    assert runner.poll() is None, line
    assert (json.loads(line) if mode == "--json" else line.rstrip("\n").split(" ", 1)[-1]) == said, line
    runner.send_signal(sig)
    out, err = runner.communicate(timeout=30)
    assert runner.returncode == 128 + sig
    now = [line for line in (out if mode == "--json" else err).splitlines() if "stopping now" in line
           or '"stopping_now"' in line]
    assert len(now) == 1 and ("SIGTERM" in now[0]) == (sig == signal.SIGTERM), (out, err)
    assert board(deck)["long"].attempts[-1].outcome == "interrupted"


def test_a_runner_started_under_nohup_keeps_ignoring_sighup(tmp_path: Path) -> None:
    """nohup asks for SIGHUP to be ignored: a handler of the runner's own would undo what the operator asked."""
    import subprocess
    import sys

    deck = make_deck(tmp_path, [{"id": "long", "command": ["sleep", "40"]}])
    runner = subprocess.Popen(["nohup", sys.executable, "-m", "jobdeck", "run", "--once", "--grace", "1"], cwd=deck,
                              env=env_for(deck), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: running(deck, "long"), what="the job to start")
        runner.send_signal(signal.SIGHUP)
        runner.send_signal(signal.SIGTERM)  # what stops it, after the hangup it ignored
        assert runner.wait(30) == 128 + signal.SIGTERM
        said = runner.stdout.read()
        # (its "stopped (on SIGTERM...)" line: the "stopping on SIGTERM: waiting..." one is not said when the
        # signal lands between the claim's record and the attempt's start, which `running` cannot tell apart)
        assert "(on SIGTERM" in said and "SIGHUP" not in said, said
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
