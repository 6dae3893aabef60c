"""Helpers for runner tests: make a deck, run the CLI as a real process, wait on conditions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def make_deck(tmp: Path, jobs: Sequence[dict[str, Any]], **top: Any) -> Path:
    """A deck at tmp/deck with these jobs."""
    from jobdeck.state.deck import init_deck

    deck = tmp / "deck"
    init_deck(deck, json.dumps({**top, "jobs": list(jobs)}, indent=1).encode())
    return deck


def env_for(deck: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["JOBDECK_DECK"] = str(deck)
    env.update(extra)
    return env


def jobdeck(deck: Path, *args: str, timeout: float = 60, check: bool = False,
            env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `jobdeck ARGS` as a subprocess on ``deck``."""
    result = subprocess.run([sys.executable, "-m", "jobdeck", *args], cwd=deck, env=env or env_for(deck),
                            capture_output=True, text=True, timeout=timeout, input=input)
    if check and result.returncode != 0:
        raise AssertionError(f"jobdeck {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def start_runner(deck: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A long-running `jobdeck run` in the background."""
    return subprocess.Popen([sys.executable, "-m", "jobdeck", "run", *args], cwd=deck,
                            env=env or env_for(deck), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], Any], timeout: float = 90.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.2)


def board(deck: Path) -> dict[str, Any]:
    """job id -> state dict, folded fresh from the event log."""
    from jobdeck.state.board import Store
    from jobdeck.state.deck import Deck

    with Store(Deck(deck), from_snapshot=False) as store:
        store.refresh()
        return {job: st for job, st in store.board.jobs.items()}


def status(deck: Path, job: str) -> str:
    st = board(deck).get(job)
    return st.status.value if st else "backlog"


def events(deck: Path) -> list[dict[str, Any]]:
    path = deck / ".jobdeck" / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def output_of(deck: Path, job: str, attempt: int = 1, workspace: str = "default") -> str:
    path = deck / "workspaces" / workspace / "runs" / job / str(attempt) / "output"
    return path.read_text() if path.exists() else ""


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` is gone, or exited and waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def cgroups_writable() -> bool:
    """Whether this user may make cgroups below its own (what the cgroup boundary needs)."""
    from jobdeck.agents.cgroups import own_directory

    own = own_directory()
    return own is not None and os.access(own, os.W_OK) and os.access(own / "cgroup.procs", os.W_OK)


@pytest.fixture(params=["cgroup", "subreaper"])
def boundary(request: pytest.FixtureRequest) -> str:
    """Each attempt boundary in turn (the value of JOBDECK_BOUNDARY); cgroup only where it can be used."""
    if request.param == "cgroup" and not cgroups_writable():
        pytest.skip("this user cannot make cgroups here")
    return str(request.param)
