"""A runner killed with ``kill -9`` leaves its attempt running: the next runner enforces the job's timeouts on it.

The hard timeout counts from the claim, the idle one from the attempt's last
output; the orphan is stopped whole (leader and descendants) and its end is
recorded as its own runner would have: failed, ``hard_timeout`` or
``idle_timeout``, retried or not by the job's retry policy, even when the runner
that stops it is killed too before the outcome is in the log (a third one
records it from the attempt's result.json). Each test runs with both boundaries
(a dead runner's cgroup, or the processes marked with the attempt).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from jobdeck.agents.boundary import read_record
from tests.functional.runner_kit import (  # noqa: F401  (boundary: the fixture)
    boundary,
    env_for,
    events,
    jobdeck,
    make_deck,
    process_gone,
    start_runner,
    status,
    wait_for,
)

SLACK = 3.0
"""Seconds allowed past a deadline (+ grace): the next orphan check, runner start-up on a loaded machine."""


def _outcome(deck: Path, job: str) -> dict[str, Any] | None:
    return next((e for e in events(deck) if e.get("job") == job and e["type"] in ("succeeded", "failed",
                                                                                    "interrupted")), None)


def _leader_recorded(attempt: Path) -> bool:
    record = read_record(attempt)
    return record is not None and record.leader is not None


def _orphan(deck: Path, pid_file: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Run the deck's job under a runner, kill -9 that runner once it recorded the job's leader, and start another:
    (the second runner). (Killed before the record, the leader is stopped at once: the test below.)"""
    first = start_runner(deck, env=env)
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=15, what="the job to start")
    wait_for(lambda: any(_leader_recorded(attempt) for attempt in deck.glob("workspaces/default/runs/*/1")),
             timeout=15, what="its leader's record")
    first.kill()
    first.communicate()
    return start_runner(deck, env=env)


def _stop(runner: subprocess.Popen[str] | None, pid_file: Path) -> None:
    if runner is not None:
        runner.send_signal(signal.SIGTERM)
        runner.communicate(timeout=30)
    if pid_file.exists() and pid_file.read_text().strip():
        try:  # a failing test leaves nothing running
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_an_orphan_past_its_hard_timeout_is_stopped_and_recorded(tmp_path: Path, boundary: str) -> None:  # noqa: F811
    pid_file, child_file = tmp_path / "leader.pid", tmp_path / "child.pid"
    # Output every 0.2 s keeps the idle timeout away; a child of the leader must go with it.
    script = (f"sleep 60 & echo $! > {child_file}; echo $$ > {pid_file}; "
              f"while :; do echo tick; sleep 0.2; done")
    deck = make_deck(tmp_path, [{"id": "hang", "command": ["sh", "-c", script],
                                 "timeout": {"hard": 4, "idle": 3, "grace": 1}}])
    runner = None
    try:
        runner = _orphan(deck, pid_file, env_for(deck, JOBDECK_BOUNDARY=boundary))
        leader = int(pid_file.read_text())
        outcome = wait_for(lambda: _outcome(deck, "hang"), timeout=4 + 1 + SLACK + 5, what="the hard timeout")
        claimed = next(e for e in events(deck) if e["type"] == "claimed")
        assert outcome["type"] == "failed" and outcome["reason"] == "hard_timeout", outcome
        assert outcome["token"] == claimed["seq"] and outcome["attempt"] == 1
        assert outcome["failure"] == "transient" and "retry_at" not in outcome  # max_attempts 1: no try left
        assert 4 <= outcome["ts"] - claimed["ts"] < 4 + 1 + SLACK, outcome["ts"] - claimed["ts"]
        assert process_gone(leader) and process_gone(int(child_file.read_text()))
        assert runner.poll() is None  # the second runner is still up, and says nothing failed it
    finally:
        _stop(runner, pid_file)


def test_an_idle_orphan_is_stopped_and_retried_by_its_policy(tmp_path: Path, boundary: str) -> None:  # noqa: F811
    pid_file = tmp_path / "leader.pid"
    gate = tmp_path / "gate"
    # Attempt 1 prints, then falls silent; attempt 2 (the retry) prints and ends.
    script = (f"if [ \"$JOBDECK_ATTEMPT\" = 1 ]; then echo $$ > {pid_file}; echo early; "
              f"while [ ! -e {gate} ]; do sleep 0.05; done; exec sleep 60; fi; echo second")
    deck = make_deck(tmp_path, [{"id": "quiet", "command": ["sh", "-c", script],
                                 "timeout": {"idle": 2, "hard": 60, "grace": 1},
                                 "retry": {"max_attempts": 2, "delay": 0.1, "jitter": 0}}])
    runner = None
    try:
        runner = _orphan(deck, pid_file, env_for(deck, JOBDECK_BOUNDARY=boundary))
        gate.touch()
        leader = int(pid_file.read_text())
        output = deck / "workspaces" / "default" / "runs" / "quiet" / "1" / "output"
        outcome = wait_for(lambda: _outcome(deck, "quiet"), timeout=2 + 1 + SLACK + 5, what="the idle timeout")
        assert outcome["type"] == "failed" and outcome["reason"] == "idle_timeout", outcome
        assert outcome["failure"] == "transient" and "retry_at" in outcome
        assert output.read_text() == "early\n"
        assert outcome["ts"] - output.stat().st_mtime >= 2  # silent for the idle timeout, from its last output
        assert process_gone(leader)
        wait_for(lambda: any(e["type"] == "succeeded" for e in events(deck)), timeout=15, what="the retry")
        assert (output.parent.parent / "2" / "output").read_text() == "second\n"
    finally:
        _stop(runner, pid_file)


def _overdue_outcome(deck: Path, job: str, hard: float) -> dict[str, Any]:
    """The job's recorded outcome, checked to be the hard timeout a runner that is gone too wrote in result.json."""
    outcome = _outcome(deck, job)
    assert outcome is not None
    claimed = next(e for e in events(deck) if e["type"] == "claimed")
    assert (outcome["type"], outcome.get("reason")) == ("failed", "hard_timeout"), outcome
    assert outcome["token"] == claimed["seq"] and outcome["attempt"] == 1
    assert outcome["recovered"] is True and "stopped after its runner was gone" in outcome["message"], outcome
    assert outcome["ended"] - claimed["ts"] >= hard  # when the second runner stopped it, not when it was recorded
    assert jobdeck(deck, "audit", "verify").returncode == 0
    return outcome


def _hanging(tmp_path: Path, pid_file: Path, boundary: str) -> tuple[Path, dict[str, str]]:
    """A deck whose job, hang, writes its pid to ``pid_file`` and ticks until stopped (hard timeout 2 s), and the
    environment of its runners."""
    deck = make_deck(tmp_path, [{"id": "hang", "command": ["sh", "-c", f"echo $$ > {pid_file}; "
                                                                        "while :; do echo tick; sleep 0.2; done"],
                                 "timeout": {"hard": 2, "grace": 1}}])
    return deck, env_for(deck, JOBDECK_BOUNDARY=boundary)


def test_a_runner_killed_after_stopping_an_overdue_orphan_leaves_the_timeout_to_the_next(
        tmp_path: Path, boundary: str) -> None:  # noqa: F811
    """The second crash: the orphan stopped (its lease free), its runner killed before the timeout was in the log."""
    pid_file = tmp_path / "leader.pid"
    deck, env = _hanging(tmp_path, pid_file, boundary)
    second = None
    try:
        second = _orphan(deck, pid_file, {**env, "JOBDECK_CRASH_AT": "orphan.stopped"})
        second.communicate(timeout=2 + 1 + SLACK + 10)
        assert second.returncode == -signal.SIGKILL  # killed at the point, the orphan stopped
        assert process_gone(int(pid_file.read_text()))
        assert _outcome(deck, "hang") is None  # nothing recorded: what the next runner finds is all there is
        jobdeck(deck, "run", "--once", env=env)
        _overdue_outcome(deck, "hang", 2)
    finally:
        _stop(None, pid_file)


def test_a_runner_killed_while_stopping_an_overdue_orphan_leaves_the_timeout_to_the_next(
        tmp_path: Path, boundary: str) -> None:  # noqa: F811
    """Killed halfway through the stop: the leader gone (the lease's last holder deaf to SIGTERM), nothing recorded."""
    pid_file, deaf_file = tmp_path / "leader.pid", tmp_path / "deaf.pid"
    script = (f"(trap '' TERM; exec sleep 60) & echo $! > {deaf_file}; echo $$ > {pid_file}; "
              "while :; do echo tick; sleep 0.2; done")
    deck = make_deck(tmp_path, [{"id": "hang", "command": ["sh", "-c", script], "timeout": {"hard": 2, "grace": 4}}])
    env = env_for(deck, JOBDECK_BOUNDARY=boundary)
    second = third = None
    try:
        second = _orphan(deck, pid_file, env)
        leader, deaf = int(pid_file.read_text()), int(deaf_file.read_text())
        wait_for(lambda: process_gone(leader), timeout=2 + SLACK + 10, what="the second runner's SIGTERM")
        second.kill()  # within the grace it gives the process that ignores SIGTERM
        second.communicate()
        assert not process_gone(deaf) and _outcome(deck, "hang") is None
        third = start_runner(deck, env=env)
        wait_for(lambda: _outcome(deck, "hang"), timeout=4 + SLACK + 10, what="the third runner's recovery")
        assert process_gone(deaf)
        _overdue_outcome(deck, "hang", 2)
    finally:
        _stop(third, pid_file)
        if deaf_file.exists() and not process_gone(int(deaf_file.read_text())):
            os.kill(int(deaf_file.read_text()), signal.SIGKILL)


def test_a_runner_killed_as_its_leader_starts_leaves_an_attempt_the_next_stops_whole(
        tmp_path: Path, boundary: str) -> None:  # noqa: F811
    """Killed between the leader's start and its record: the leader runs (and holds the lease), unknown to any record
    of who it is (it ran on past every timeout). The record written before the spawn names the runner and the token:
    the next runner stops what the attempt runs at once, as for a leader gone, and ends it interrupted."""
    pid_file = tmp_path / "leader.pid"
    deck, env = _hanging(tmp_path, pid_file, boundary)
    second = None
    try:
        first = start_runner(deck, env={**env, "JOBDECK_CRASH_AT": "leader.started"})
        first.communicate(timeout=15)
        assert first.returncode == -signal.SIGKILL
        leader = int(wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=15,
                              what="the job to start"))
        record = read_record(deck / "workspaces" / "default" / "runs" / "hang" / "1")
        assert record is not None and record.leader is None
        second = start_runner(deck, env=env)
        outcome = wait_for(lambda: _outcome(deck, "hang"), timeout=15, what="the attempt to be resolved")
        assert (outcome["type"], outcome["reason"]) == ("interrupted", "runner died"), outcome
        assert process_gone(leader)
    finally:
        _stop(second, pid_file)


@pytest.mark.parametrize("killed", ["as the leader starts", "once the leader is recorded"])
def test_a_daemon_the_dead_runners_leader_left_is_stopped_and_the_attempt_resolved(
        tmp_path: Path, boundary: str, killed: str) -> None:  # noqa: F811
    """The leader exits after its runner is killed, leaving a setsid daemon. Whether or not the runner lived to record
    the leader, the next runner stops the daemon at once and resolves the attempt (interrupted): a daemon never stands
    for the leader, which would keep the attempt running, and its `parallel` slot taken, for as long as it lived."""
    leader_file, daemon_file, gate = tmp_path / "leader.pid", tmp_path / "daemon.pid", tmp_path / "gate"
    script = (f"echo $$ > {leader_file}; setsid sh -c 'echo $$ > {daemon_file}; exec sleep 1000' & "
              f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 0")
    deck = make_deck(tmp_path, [{"id": "leaves", "command": ["sh", "-c", script]}])
    attempt = deck / "workspaces" / "default" / "runs" / "leaves" / "1"
    env = env_for(deck, JOBDECK_BOUNDARY=boundary)
    second = None
    try:
        if killed == "as the leader starts":
            first = start_runner(deck, env={**env, "JOBDECK_CRASH_AT": "leader.started"})
            first.communicate(timeout=15)
            assert first.returncode == -signal.SIGKILL
        else:
            first = start_runner(deck, env=env)
            wait_for(lambda: _leader_recorded(attempt), timeout=15, what="the leader's record")
            first.kill()
            first.communicate()
        daemon = int(wait_for(lambda: daemon_file.exists() and daemon_file.read_text().strip(), timeout=15,
                              what="the daemon to start"))
        leader = int(leader_file.read_text())
        gate.touch()
        wait_for(lambda: process_gone(leader), timeout=15, what="the leader to exit")
        second = start_runner(deck, env=env)
        outcome = wait_for(lambda: _outcome(deck, "leaves"), timeout=15, what="the attempt to be resolved")
        assert (outcome["type"], outcome["reason"]) == ("interrupted", "runner died"), outcome
        assert process_gone(daemon)
        assert status(deck, "leaves") == "review"
    finally:
        _stop(second, daemon_file)
