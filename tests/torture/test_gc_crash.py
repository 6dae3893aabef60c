"""kill -9 of `jobdeck gc` at each step: deciding, renaming to a tombstone, and halfway through removing one.

The named points (``gc.before_rename``, ``gc.renamed``) are armed with
``JOBDECK_CRASH_AT``. A kill in the middle of ``rmtree`` has no point of its own:
gc runs under an audit hook that SIGKILLs the process on its n-th ``os.remove``
or ``os.rmdir``, so a tombstone is left half emptied. Each kill must really
happen (exit by SIGKILL). Afterwards: `ls`, `show` and `logs` of every job
answer as before (a removed attempt is one line, exit 2), the next gc leaves
exactly the directories a dry run said it would keep, their files unchanged,
and no tombstone; the chain verifies and the deck runs on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobdeck.state.deck import init_deck
from tests.torture.kit import corrupt_files, env_for, jobdeck, write_figure

JOBS = {"retention": {"keep_attempts": 1}, "jobs": [
    # attempts 1-3 succeed, 4 fails: up/3 is the output down is given, up/4 the latest
    {"id": "up", "command": ["sh", "-c", "echo up $JOBDECK_ATTEMPT; echo detail >&2; test $JOBDECK_ATTEMPT -lt 4"]},
    {"id": "down", "command": ["sh", "-c", "cat \"$JOBDECK_INPUT_UP\""], "depends_on": ["up"]},
    {"id": "solo", "command": ["sh", "-c", "echo solo $JOBDECK_ATTEMPT"]},
]}
IDS = [job["id"] for job in JOBS["jobs"]]

#: Run as `python -c KILL_ON_REMOVE ARGS`: the CLI, killed -9 before its n-th removal of a file or directory.
KILL_ON_REMOVE = """
import os, signal, sys
target, hits = int(os.environ["GC_KILL_ON_REMOVE"]), 0
def hook(event, args):
    global hits
    if event in ("os.remove", "os.rmdir"):
        hits += 1
        if hits == target:
            os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
sys.argv[0] = "jobdeck"
from jobdeck.cli.main import main
sys.exit(main())
"""

#: (what kills the gc, its hit): named crash points, then the n-th removal inside a tombstone.
CASES = [("gc.before_rename", 1), ("gc.before_rename", 4), ("gc.renamed", 1), ("gc.renamed", 5),
         ("remove", 1), ("remove", 2), ("remove", 6), ("remove", 17)]


@pytest.fixture(scope="module")
def built_deck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deck where up ran 4 times (the last failed), down 3 times and solo 4 times, built once."""
    deck = init_deck(tmp_path_factory.mktemp("gc") / "deck", json.dumps(JOBS).encode()).root
    for n in range(4):
        if n:
            jobdeck(deck, "retry", *IDS, check=True)
        jobdeck(deck, "run", "--once", "--quiet")
    return deck


def _gc(deck: Path, how: str, hit: int) -> subprocess.CompletedProcess[str]:
    if how == "remove":
        return subprocess.run([sys.executable, "-c", KILL_ON_REMOVE, "gc"], cwd=deck, capture_output=True,
                              text=True, timeout=60, env=env_for(deck, GC_KILL_ON_REMOVE=str(hit)))
    return jobdeck(deck, "gc", env=env_for(deck, JOBDECK_CRASH_AT=f"{how}:{hit}"))


def _tree(deck: Path) -> dict[str, str]:
    """``<job>/<name>`` of every directory in runs/ -> a digest of its files' names and bytes."""
    runs = deck / "workspaces" / "default" / "runs"
    tree = {}
    for job_dir in sorted(runs.iterdir()):
        for attempt_dir in sorted(job_dir.iterdir()):
            digest = hashlib.sha256()
            for path in sorted(attempt_dir.rglob("*")):
                digest.update(path.name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
            tree[f"{job_dir.name}/{attempt_dir.name}"] = digest.hexdigest()
    return tree


def _readers_answer(deck: Path, present: set[str], tombstones: frozenset[str] = frozenset()) -> None:
    """`ls`, `show` and `logs` of every job and attempt answer: output, or one line and exit 2 for one not present
    (partly removed while its tombstone is there)."""
    assert jobdeck(deck, "ls").returncode == 0
    shown = jobdeck(deck, "show", "up")
    assert shown.returncode == 0 and shown.stdout.count("failed") >= 1, shown.stderr
    assert jobdeck(deck, "logs", "up").stdout == "up 4\n"
    for key in ("up/1", "up/3", "down/1", "solo/2"):
        job, n = key.split("/")
        logs = jobdeck(deck, "logs", job, "--attempt", n)
        if key not in present:
            assert logs.returncode == (2 if f"{job}/.gc-{n}" in tombstones else 1), logs.stderr
            assert len(logs.stderr.splitlines()) == 1, logs.stderr
            partly = f"{job}/.gc-{n}" in tombstones
            assert ("is partly removed" if partly else "removed by retention") in logs.stderr, logs.stderr
        else:
            assert logs.returncode == 0, logs.stderr


def test_gc_killed_at_every_step_leaves_a_deck_the_next_gc_completes(built_deck: Path, tmp_path: Path) -> None:
    before = _tree(built_deck)
    plan = json.loads(jobdeck(built_deck, "gc", "--dry-run", "--json", "--verbose", check=True).stdout)
    removed = {f"{item['job']}/{item['directory']}" for item in plan["removed"]}
    kept = {f"{item['job']}/{item['directory']}" for item in plan["kept"]}
    assert kept == {"up/3", "up/4", "down/3", "solo/4"}, "the output down is given and each latest stay"
    assert removed | kept == set(before)

    half_emptied = 0
    for i, (how, hit) in enumerate(CASES):
        deck = tmp_path / f"case{i}"
        shutil.copytree(built_deck, deck, symlinks=True)
        killed = _gc(deck, how, hit)
        assert killed.returncode == -signal.SIGKILL, f"{how}:{hit} was not reached: {killed.stderr}"
        after_kill = _tree(deck)
        tombstones = {key for key in after_kill if key.split("/")[1].startswith(".gc-")}
        assert {key for key in after_kill if key not in tombstones} >= kept
        half_emptied += any(len(os.listdir(deck / "workspaces/default/runs" / key)) < 3 for key in tombstones)
        _readers_answer(deck, set(after_kill) - tombstones, frozenset(tombstones))

        done = jobdeck(deck, "gc", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["tombstones_finished"] == len(tombstones)
        assert _tree(deck) == {key: before[key] for key in kept}, f"after {how}:{hit}"
        assert corrupt_files(deck) == ([], [])
        assert jobdeck(deck, "audit", "verify").returncode == 0
    assert half_emptied >= 2, "some kills left a tombstone half removed"

    # a gc killed while it finishes an earlier gc's tombstones: the third one finishes both
    deck = tmp_path / "twice"
    shutil.copytree(built_deck, deck, symlinks=True)
    assert _gc(deck, "gc.renamed", 3).returncode == -signal.SIGKILL
    assert _gc(deck, "remove", 2).returncode == -signal.SIGKILL
    assert jobdeck(deck, "gc").returncode == 0
    assert _tree(deck) == {key: before[key] for key in kept}
    _readers_answer(deck, kept)
    jobdeck(deck, "retry", "up", "solo", check=True)
    assert jobdeck(deck, "run", "--once", "--quiet").returncode == 1  # up/5 fails again
    assert (deck / "workspaces/default/runs/solo/5/output").read_text() == "solo 5\n"
    assert jobdeck(deck, "audit", "verify").returncode == 0

    write_figure("gc_kill_anywhere", {"kills": len(CASES) + 2, "half_removed_tombstones": half_emptied,
                                      "corrupt": 0, "needed_removed": 0, "tombstones_left": 0})
