"""Detached descendants (setsid daemons) end with their attempt, with or without a runner crash.

Each test runs with both boundaries: a cgroup per attempt (where this user may
make cgroups) and the subreaper fallback (``JOBDECK_BOUNDARY=subreaper``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.runner_kit import (  # noqa: F401  (boundary: the fixture)
    board,
    boundary,
    env_for,
    events,
    jobdeck,
    make_deck,
    process_gone,
    output_of,
    start_runner,
    wait_for,
)

SECRET = "s3cret-boundary-value"
SLACK = 2.0
"""Seconds allowed beyond hard timeout + grace (runner start-up and turns on a loaded 2-core machine)."""


def _reap_leftover(pid_file: Path) -> None:
    """Kill a daemon the runner failed to stop, so a failing test leaves nothing running."""
    if pid_file.exists() and pid_file.read_text().strip():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def _daemon(pid_file: Path, after: float) -> str:
    """A command that starts a setsid daemon which ignores SIGTERM and writes "late" after ``after`` seconds."""
    return (f"setsid sh -c 'trap \"\" TERM; echo $$ > {pid_file}; sleep {after}; echo late' & "
            f"while [ ! -s {pid_file} ]; do sleep 0.01; done; echo started")


def _outcome(deck: Path, job: str) -> dict | None:  # type: ignore[type-arg]
    """The job's first attempt's outcome event, once recorded."""
    for event in events(deck):
        if event.get("job") == job and event["type"] in ("succeeded", "failed", "interrupted"):
            return event
    return None


@pytest.mark.parametrize("redacted", [False, True], ids=["direct", "redacted"])
def test_a_setsid_daemon_ends_with_its_attempt(tmp_path: Path, boundary: str, redacted: bool) -> None:  # noqa: F811
    """Hard timeout (leader still running) and plain exit (leader gone at once): the daemon goes too."""
    env = {"API_TOKEN": {"env": "JOBDECK_TEST_SECRET"}} if redacted else {}
    pids = {job: tmp_path / f"{job}.pid" for job in ("timeout", "exits")}
    deck = make_deck(tmp_path, [
        {"id": "timeout", "env": env, "timeout": {"hard": 1, "grace": 1},
         "command": ["sh", "-c", _daemon(pids["timeout"], 6) + "; echo \"token $API_TOKEN\"; sleep 60"]},
        {"id": "exits", "env": env, "timeout": {"grace": 1},
         "command": ["sh", "-c", _daemon(pids["exits"], 6) + "; echo \"token $API_TOKEN\""]},
    ], limits={"parallel": 2})
    runner_env = env_for(deck, JOBDECK_BOUNDARY=boundary, JOBDECK_TEST_SECRET=SECRET)
    runner = start_runner(deck, "--json", env=runner_env)
    try:
        for job, limit in (("timeout", 1 + 1), ("exits", 1)):
            ended = wait_for(lambda: _outcome(deck, job), timeout=30, what=f"{job} recorded")
            daemon = int(pids[job].read_text())
            assert process_gone(daemon), f"{job}: its daemon {daemon} outlived the attempt"
            claimed = next(e for e in events(deck) if e["type"] == "claimed" and e["job"] == job)
            assert ended["ts"] - claimed["ts"] <= limit + SLACK
            written = output_of(deck, job)
            assert "started" in written and "late" not in written
            assert (SECRET not in written) and (("[REDACTED:" in written) == redacted)
        assert board(deck)["timeout"].attempts[0].reason == "hard_timeout"
        assert board(deck)["exits"].status.value == "done"
        stopped = {e["job"]: e for e in events(deck) if e.get("what") == "leftovers_stopped"}
        assert set(stopped) == {"exits"}  # its leader ended and left the daemon; the timeout says the rest
        assert stopped["exits"]["processes"] >= 1 and stopped["exits"]["names"]  # the daemon's shell, its sleep
        assert set(stopped["exits"]["names"]) <= {"setsid", "sh", "sleep"}, stopped["exits"]
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)
        for pid_file in pids.values():
            _reap_leftover(pid_file)
    started = json.loads(runner.stdout.read().splitlines()[0])  # type: ignore[union-attr]
    assert started["type"] == "runner_started" and started["boundary"] == boundary
    for job in pids:  # nothing reached the output after the outcome: the daemons are dead, checked above
        assert "late" not in output_of(deck, job)


def _beat_of(deck: Path, pid: int) -> bool:
    """Whether the runner with this pid has written its heartbeat."""
    from jobdeck.state.heartbeat import read_heartbeats

    return any(beat.pid == pid for beat in read_heartbeats(deck / ".jobdeck" / "runners"))


def test_a_runner_killed_while_a_daemon_lives_is_recovered_without_waiting_for_it(
        tmp_path: Path, boundary: str) -> None:  # noqa: F811
    gate, leader_pid, daemon_pid = tmp_path / "gate", tmp_path / "leader.pid", tmp_path / "daemon.pid"
    script = (f"if [ \"$JOBDECK_ATTEMPT\" = 1 ]; then {_daemon(daemon_pid, 60)}; echo $$ > {leader_pid}; "
              f"while [ ! -e {gate} ]; do sleep 0.05; done; fi; echo finished")
    deck = make_deck(tmp_path, [{"id": "slow", "idempotent": True, "retry": {"max_attempts": 2},
                                 "timeout": {"grace": 1}, "command": ["sh", "-c", script]}])
    runner_env = env_for(deck, JOBDECK_BOUNDARY=boundary)
    first = start_runner(deck, env=runner_env)
    second: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: leader_pid.exists() and leader_pid.read_text().strip(), what="the job to start")
        first.kill()  # kill -9: the leader and the daemon are orphaned, both hold the lease
        first.wait()
        second = start_runner(deck, env=runner_env)
        second_pid = second.pid
        wait_for(lambda: _beat_of(deck, second_pid), what="the second runner's first turn")
        # the leader still runs: the attempt stays leased and nothing of it is stopped
        assert board(deck)["slow"].status.value == "running"
        assert not process_gone(int(leader_pid.read_text())) and not process_gone(int(daemon_pid.read_text()))
        gate.touch()  # the leader exits; only the daemon holds the lease now
        wait_for(lambda: board(deck)["slow"].attempts[0].outcome is not None, timeout=20,
                 what="the attempt resolved (the daemon would hold it for 60 s)")
        assert board(deck)["slow"].attempts[0].outcome == "interrupted"
        assert process_gone(int(daemon_pid.read_text()))
        assert "late" not in output_of(deck, "slow")
        wait_for(lambda: board(deck)["slow"].status.value == "done", what="the retry")
        assert output_of(deck, "slow", attempt=2) == "finished\n"
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        gate.touch()
        _reap_leftover(daemon_pid)


@pytest.mark.parametrize("later", ["run --once", "running runner"])
def test_a_cancel_while_the_runner_is_dead_stops_the_whole_attempt_and_ends_it_once(
        tmp_path: Path, boundary: str, later: str) -> None:  # noqa: F811
    """kill -9 of the runner, then `jobdeck cancel`: the next runner (a cron'd `run --once`, or one already up
    when the cancel comes) stops the leader and its daemon and records the end, as the dead runner would have."""
    leader_pid, daemon_pid = tmp_path / "leader.pid", tmp_path / "daemon.pid"
    script = f"{_daemon(daemon_pid, 60)}; echo $$ > {leader_pid}; sleep 60; echo finished"
    deck = make_deck(tmp_path, [{"id": "long", "timeout": {"grace": 1}, "command": ["sh", "-c", script]}])
    runner_env = env_for(deck, JOBDECK_BOUNDARY=boundary)
    first = start_runner(deck, env=runner_env)
    second: subprocess.Popen[str] | None = None
    try:
        wait_for(lambda: leader_pid.exists() and leader_pid.read_text().strip(), what="the job to start")
        first.kill()  # kill -9: nothing follows the attempt now
        first.wait()
        leader, daemon = int(leader_pid.read_text()), int(daemon_pid.read_text())
        if later == "running runner":
            second = start_runner(deck, env=runner_env)
            second_pid = second.pid
            wait_for(lambda: _beat_of(deck, second_pid), what="the second runner's first turn")
            assert not process_gone(leader) and not process_gone(daemon)  # running, its leader alive: not the runner's to stop
        cancelled = jobdeck(deck, "cancel", "long", env=runner_env, check=True)
        # told whether anything will act on it now: the dead runner's heartbeat file is still there
        assert ("no runner is up: the processes of long run until one starts" in cancelled.stderr) \
            == (later == "run --once"), cancelled.stderr
        if later == "run --once":
            done = jobdeck(deck, "run", "--once", env=runner_env)
            assert done.returncode == 0, done.stderr
            assert "cancelled while its runner was dead; stopping the 4 process(es)" in done.stdout
        ended = wait_for(lambda: _outcome(deck, "long"), timeout=20, what="the attempt ended")
        assert process_gone(leader) and process_gone(daemon)
        assert {k: ended[k] for k in ("type", "token", "reason")} == {"type": "failed", "token": 1, "reason": "cancelled"}
        assert board(deck)["long"].status.value == "cancelled"
        again = jobdeck(deck, "run", "--once", env=runner_env)
        assert again.returncode == 0 and "cancelled while" not in again.stdout
        assert sum(1 for e in events(deck) if e.get("job") == "long" and e["type"] == "failed") == 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        for pid_file in (leader_pid, daemon_pid):
            _reap_leftover(pid_file)


def _as_a_user_without_cgroups(*command: str) -> list[str]:
    """``command`` in a user namespace of its own: no capability over the host's cgroups, as any user without
    delegation (root's files stay its own, so the deck and the interpreter are reachable)."""
    return ["unshare", "--user", *command]


@pytest.mark.skipif(subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode != 0
                    if shutil.which("unshare") else True, reason="needs unshare --user")
def test_a_user_without_cgroups_is_told_so_plainly(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}])
    command = [sys.executable, "-m", "jobdeck", "run", "--once"]
    said = subprocess.run(_as_a_user_without_cgroups(*command), cwd=deck, env=env_for(deck),
                          capture_output=True, text=True, timeout=60)
    recorded = subprocess.run(_as_a_user_without_cgroups(*command, "--json"), cwd=deck, env=env_for(deck),
                              capture_output=True, text=True, timeout=60)
    started = json.loads(recorded.stdout.splitlines()[0])
    if started["boundary"] != "subreaper" or "[Errno 13]" not in started.get("boundary_why", ""):
        pytest.skip(f"cgroups were usable, or refused otherwise: {started}")
    assert started["boundary_why"].startswith("no cgroup: [Errno 13] Permission denied: '")  # the reason, kept
    first = said.stdout.splitlines()[0].split(" ", 1)[1]
    assert re.fullmatch(r"runner \S+ started \(parallel \d+, boundary subreaper; "
                        r"no cgroup: /sys/fs/cgroup\S* is not writable by this user\)", first), first
