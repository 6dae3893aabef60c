"""The runner under faults: cancel, several runners, kill -9, orphans, signals, bad edits."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.functional.runner_kit import (
    board,
    events,
    jobdeck,
    make_deck,
    output_of,
    start_runner,
    status,
    wait_for,
)


def _stop(proc) -> None:  # type: ignore[no-untyped-def]
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except Exception:
            proc.kill()
            proc.wait()


def test_cancel_terminates_the_running_process_group_within_a_second(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    deck = make_deck(tmp_path, [
        {"id": "long", "command": ["sh", "-c", f"sleep 60 & echo $! > {marker}; echo started; wait"]},
    ])
    runner = start_runner(deck)
    try:
        wait_for(lambda: output_of(deck, "long") == "started\n", what="job output")
        grandchild = int(marker.read_text())
        jobdeck(deck, "cancel", "long", "--reason", "not needed", check=True)
        asked = time.monotonic()  # the cancel event is durable from here

        def gone() -> bool:  # exited (a zombie waiting for init to reap it counts)
            try:
                return Path(f"/proc/{grandchild}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            except FileNotFoundError:
                return True

        wait_for(gone, timeout=5, what="the job's process group to exit")
        assert time.monotonic() - asked < 3.0  # typically ~0.05 s; see docs/PERFORMANCE.md
        wait_for(lambda: board(deck)["long"].attempts[0].outcome == "cancelled", what="attempt recorded")
        assert status(deck, "long") == "cancelled"
    finally:
        _stop(runner)


def test_two_runners_never_run_the_same_job(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    jobs = [{"id": f"j{i:03d}", "command": ["sh", "-c", f"echo $$ >> {ledger}/$JOBDECK_JOB"]} for i in range(120)]
    deck = make_deck(tmp_path, jobs, limits={"parallel": 3})
    first, second = start_runner(deck), start_runner(deck)
    try:
        wait_for(lambda: all(st.status.value == "done" for st in board(deck).values()) and len(board(deck)) == 120,
                 timeout=60, what="all jobs done")
    finally:
        _stop(first), _stop(second)
    assert sorted(p.name for p in ledger.iterdir()) == [j["id"] for j in jobs]
    assert all(len(p.read_text().split()) == 1 for p in ledger.iterdir()), "a job ran twice"
    runners = {e["runner"] for e in events(deck) if e["type"] == "claimed"}
    assert len(runners) == 2, "both runners should have claimed work"
    assert jobdeck(deck, "audit", "verify").returncode == 0


def test_orphaned_child_keeps_its_lease_and_is_not_started_again(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    starts = tmp_path / "starts"
    deck = make_deck(tmp_path, [
        {"id": "slow", "idempotent": True,
         "command": ["sh", "-c", f"echo x >> {starts}; while [ ! -e {gate} ]; do sleep 0.05; done; echo finished"]},
    ])
    runner = start_runner(deck)
    wait_for(lambda: starts.exists() and "x" in starts.read_text(), what="the job to start")  # >> creates it before echo writes
    runner.kill()  # kill -9: the child is orphaned but holds the lease
    runner.wait()
    second = start_runner(deck)
    try:
        # the restarted runner sees the lease held and leaves the attempt alone
        time_limit = time.monotonic() + 3
        while time.monotonic() < time_limit:
            assert starts.read_text().count("x") == 1
            assert status(deck, "slow") == "running"
            time.sleep(0.2)
        gate.touch()  # the orphan finishes and frees its lease
        wait_for(lambda: status(deck, "slow") in ("done", "review", "backlog") and
                 board(deck)["slow"].attempts[0].outcome is not None, timeout=20, what="orphan resolved")
        first = board(deck)["slow"].attempts[0]
        assert first.outcome == "interrupted"  # its runner died: no result was recorded
    finally:
        _stop(second)


def test_an_orphan_that_outlived_its_runner_holds_a_slot_of_the_next(tmp_path: Path) -> None:
    """parallel 1: the runner that follows a kill -9 must not start another job beside the orphan still running."""
    gate = tmp_path / "gate"
    deck = make_deck(tmp_path, [
        {"id": "slow", "command": ["sh", "-c", f"echo begin; while [ ! -e {gate} ]; do sleep 0.05; done"]},
        {"id": "next", "command": ["true"]},
    ], limits={"parallel": 1})
    runner = start_runner(deck)
    wait_for(lambda: "begin" in output_of(deck, "slow"), what="the job to start")
    assert status(deck, "next") == "backlog"
    runner.kill()  # kill -9: slow's process lives on, its lease held
    runner.wait()
    second = start_runner(deck)
    try:
        time_limit = time.monotonic() + 4  # two orphan checks and many turns
        while time.monotonic() < time_limit:
            assert status(deck, "next") == "backlog", "a second job started beside the orphan: parallel is 1"
            time.sleep(0.2)
        gate.touch()  # the orphan ends: its slot is free again
        wait_for(lambda: status(deck, "next") == "done", timeout=30, what="next to run once the orphan ended")
    finally:
        gate.touch()  # (a failed check above must not leave the orphan looping)
        _stop(second)


def test_sigterm_lets_running_attempts_finish_within_grace(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "short", "command": ["sh", "-c", "echo begin; sleep 1; echo end"]}])
    runner = start_runner(deck, "--grace", "10")
    wait_for(lambda: "begin" in output_of(deck, "short"), what="job start")
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(20) == 0
    assert status(deck, "short") == "done" and output_of(deck, "short") == "begin\nend\n"


def test_second_signal_stops_attempts_at_once_and_records_why(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "hang", "command": ["sh", "-c", "echo begin; sleep 60"]}])
    runner = start_runner(deck, "--grace", "30")
    wait_for(lambda: "begin" in output_of(deck, "hang"), what="job start")
    runner.send_signal(signal.SIGTERM)
    runner.send_signal(signal.SIGINT)
    assert runner.wait(15) == 0
    state = board(deck)["hang"]
    assert state.status.value == "review" and state.attempts[0].outcome == "interrupted"
    assert state.attempts[0].reason == "runner stopped"


def _save(path: Path, text: str) -> None:
    temp = path.with_name(path.name + ".new")
    temp.write_text(text)
    os.replace(temp, path)


def test_spec_that_becomes_invalid_keeps_the_runner_on_the_last_good_spec(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "first", "command": ["echo", "1"]}])
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "first") == "done", what="first job")
        # half-written; saved by rename so the runner never sees a third, empty state in between
        # (write_text truncates first), which would be a second, different error to report
        _save(deck / "jobs.json", '{"jobs": [{"id": "first", "command": ["echo"]},')
        from jobdeck.state.board import open_store
        from jobdeck.state.deck import Deck

        with open_store(Deck(deck)) as store:  # an operator action while jobs.json is broken
            store.commit([{"type": "retried", "job": "first", "by": "test"}])
        wait_for(lambda: len(board(deck)["first"].attempts) == 2 and status(deck, "first") == "done",
                 what="job re-run on the last good spec")
        good = {"jobs": [{"id": "first", "command": ["echo", "1"]}, {"id": "second", "command": ["echo", "2"]}]}
        _save(deck / "jobs.json", json.dumps(good))
        wait_for(lambda: status(deck, "second") == "done", what="job from the repaired spec")
    finally:
        _stop(runner)
    _, err = runner.communicate()
    assert err.count("jobs.json is invalid") == 1, err


def test_inbox_file_triggers_a_run_once_even_across_restarts(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "enrich", "command": ["sh", "-c", "wc -l < \"$JOBDECK_INPUT\""], "trigger": "*.csv"},
        {"id": "report", "command": ["sh", "-c", "cat \"$JOBDECK_INPUT_ENRICH\""], "depends_on": ["enrich"]},
    ])
    runner = start_runner(deck)
    try:
        inbox = deck / "workspaces" / "default" / "inbox"
        (inbox / "ignored.txt").write_text("nope\n")
        (inbox / "leads.csv").write_text("a\nb\nc\n")
        wait_for(lambda: status(deck, "report") == "done", what="triggered pipeline")
        assert output_of(deck, "enrich").strip() == "3"
    finally:
        _stop(runner)
    assert jobdeck(deck, "run", "--once").returncode == 0
    triggers = [e for e in events(deck) if e["type"] == "triggered" and e["job"] == "enrich"]
    assert len(triggers) == 1 and triggers[0]["inputs"]["input"].endswith("leads.csv")


def _crash_loop(tmp_path: Path, jobs: int, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    script = (f"mkdir {ledger}/$JOBDECK_JOB.running 2>/dev/null || echo DOUBLE >> {ledger}/doubles; "
              f"echo $JOBDECK_ATTEMPT >> {ledger}/$JOBDECK_JOB.starts; sleep 0.0$((RANDOM % 5)); "
              f"rmdir {ledger}/$JOBDECK_JOB.running")
    spec = [{"id": f"c{i:04d}", "command": ["bash", "-c", script]} for i in range(jobs)]
    deck = make_deck(tmp_path, spec, limits={"parallel": 4})
    for _ in range(kills):
        runner = start_runner(deck)
        time.sleep(rng.uniform(0.15, 0.9))  # a random moment to crash at, not a synchronisation
        runner.kill()
        runner.wait()
    for _ in range(50):  # finish: orphans drain, then nothing is left running
        jobdeck(deck, "run", "--once", timeout=120)
        if all(st.status.value in ("done", "review") for st in board(deck).values()) and len(board(deck)) == jobs:
            break
    states = board(deck)
    assert len(states) == jobs
    assert not (ledger / "doubles").exists(), "two attempts of one job ran at the same time"
    for job_id, st in states.items():
        starts_file = ledger / f"{job_id}.starts"
        starts = starts_file.read_text().split() if starts_file.exists() else []
        assert len(starts) <= 1, f"{job_id} started {len(starts)} times"
        if st.status.value == "done":
            assert len(starts) == 1
        else:
            assert st.status.value == "review" and st.reason == "interrupted"
    assert jobdeck(deck, "audit", "verify").returncode == 0


def test_kill_9_at_random_moments_loses_nothing_and_runs_nothing_twice(tmp_path: Path) -> None:
    _crash_loop(tmp_path, jobs=200, kills=12, seed=7)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_kill_9_long(tmp_path: Path) -> None:
    _crash_loop(tmp_path, jobs=1000, kills=1000, seed=11)


def test_run_once_fires_a_file_already_waiting_in_the_inbox(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "count", "command": ["sh", "-c", "wc -l < \"$JOBDECK_INPUT\""], "trigger": "*.csv"}])
    inbox = deck / "workspaces" / "default" / "inbox"
    (inbox / "notes.txt").write_text("not for any job\n")
    (inbox / "batch.csv").write_text("1\n2\n")
    assert jobdeck(deck, "run", "--once").returncode == 0
    assert status(deck, "count") == "done" and output_of(deck, "count").strip() == "2"
