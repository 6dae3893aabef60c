"""A runner is alive while its process is: a reader that can see that process in /proc knows at once
when it has ended; any other reader goes by the heartbeat's age."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdeck.cockpit.model import DeckModel
from jobdeck.state.deck import Deck
from jobdeck.state.heartbeat import STALE_AFTER, Heartbeat, read_heartbeats, remove_dead_heartbeats, write_heartbeat
from jobdeck.state.liveness import origin, start_time
from tests.functional.runner_kit import jobdeck, make_deck, start_runner, wait_for

pytestmark = pytest.mark.skipif(origin() is None, reason="needs /proc")


def status_json(deck: Path) -> dict:
    result = jobdeck(deck, "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def header_runners(deck: Path) -> tuple[str, ...]:
    """The runners the cockpit's header counts as up."""
    model = DeckModel(Deck(deck), time.time)
    try:
        model.load()
        model.read_heartbeats()
        return tuple(beat.runner for beat in model.stats().runners)
    finally:
        model.close()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process whose pid a heartbeat can name."""
    process = subprocess.Popen(["sleep", "300"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def beat_of(pid: int, start: int | None, *, at: float, boot: str | None = None, runner: str = "r") -> Heartbeat:
    here = origin()
    assert here is not None
    return Heartbeat(runner, pid, here.host, at, 1, boot=here.boot if boot is None else boot,
                     pid_namespace=here.pid_namespace, start=start)


def test_a_runner_killed_with_kill_9_is_reported_dead_at_once(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "long", "command": ["sleep", "60"]}])
    runner = start_runner(deck)
    wait_for(lambda: status_json(deck)["runners"], what="the runner's heartbeat")
    [alive] = status_json(deck)["runners"]
    assert (alive["pid"], alive["alive"], alive["gone"]) == (runner.pid, True, False)
    assert header_runners(deck) == (alive["id"],)

    runner.kill()
    runner.wait(30)
    report = status_json(deck)
    [dead] = report["runners"]
    assert dead["age"] < STALE_AFTER  # well inside the time the age rule would still call it alive
    assert (dead["alive"], dead["gone"]) == (False, True)
    assert [p["kind"] for p in report["problems"]] == ["stale_heartbeat"]
    assert f"(pid {runner.pid}, {socket.gethostname()}): its process is gone" in report["problems"][0]["message"]
    check = jobdeck(deck, "status", "--check")
    assert check.returncode == 1
    assert f"runner {dead['id']} (pid {runner.pid}, {socket.gethostname()}): process gone, beat " in check.stdout
    assert header_runners(deck) == ()


def test_a_pid_that_now_names_another_process_is_not_the_runner(tmp_path: Path,
                                                                 sleeper: subprocess.Popen[bytes]) -> None:
    started = start_time(sleeper.pid)
    assert started is not None
    now = time.time()
    write_heartbeat(tmp_path, beat_of(sleeper.pid, started, at=now, runner="same"))
    write_heartbeat(tmp_path, beat_of(sleeper.pid, started + 1, at=now, runner="reused"))
    assert {beat.runner: beat.alive(now) for beat in read_heartbeats(tmp_path)} == {"reused": False, "same": True}
    # the next runner removes the leftover at once, and keeps the one whose process runs
    assert remove_dead_heartbeats(tmp_path, socket.gethostname(), now) == ["reused"]
    assert [beat.runner for beat in read_heartbeats(tmp_path)] == ["same"]


def test_a_runner_of_another_boot_or_an_older_file_is_judged_by_its_age(tmp_path: Path) -> None:
    exited = subprocess.Popen(["true"])
    exited.wait()  # a pid no process has now
    deck = make_deck(tmp_path, [{"id": "quick", "command": ["true"]}])
    runners = Deck(deck).runners_dir
    now = time.time()
    write_heartbeat(runners, beat_of(exited.pid, 1, at=now, boot="another-boot", runner="rebooted"))
    write_heartbeat(runners, Heartbeat("older", exited.pid, socket.gethostname(), now, 1))  # no identity fields
    assert {r["id"]: (r["alive"], r["gone"]) for r in status_json(deck)["runners"]} == {
        "older": (True, False), "rebooted": (True, False)}
    for path in runners.glob("*.json"):  # the clock moves on a minute
        record = json.loads(path.read_text())
        record["heartbeat"] -= 60
        path.write_text(json.dumps(record))
    assert {r["id"]: (r["alive"], r["gone"]) for r in status_json(deck)["runners"]} == {
        "older": (False, False), "rebooted": (False, False)}
