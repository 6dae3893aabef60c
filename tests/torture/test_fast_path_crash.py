"""kill -9 of a runner whose idempotent attempts started before their claims were durable.

The runner dies at ``claim.early_before_stored``: its early attempts' programs
have started, the claims are written and their fsync returned, but the runner
has not counted them stored. A process kill keeps what was written (the page
cache survives it), so recovery finds the claims and re-runs the attempts. A
power cut would lose the unsynced batch: the test cuts the log back to before
it, so the job's next claim meets a used directory the log does not record,
which is moved aside for an idempotent job. Either way nothing is lost, every
job ends done, no file is corrupt and the chain verifies.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.functional.runner_kit import board, env_for, events, jobdeck, make_deck, wait_for
from tests.torture.kit import corrupt_files, drain, start_runner, stop

JOBS = 12


def _deck(tmp_path: Path) -> tuple[Path, list[str]]:
    spec = [{"id": "first", "command": ["true"]}]  # history first: the log's first batch never starts early
    spec += [{"id": f"f{i:02d}", "idempotent": True, "command": ["sh", "-c", "echo run $JOBDECK_ATTEMPT"]}
             for i in range(JOBS)]
    deck = make_deck(tmp_path, spec, limits={"parallel": 2})
    assert jobdeck(deck, "run", "--job", "first").returncode == 0
    return deck, [job["id"] for job in spec]


def _crash(deck: Path) -> None:
    runner = start_runner(deck, "--quiet", env=env_for(deck, JOBDECK_CRASH_AT="claim.early_before_stored:2"))
    try:
        wait_for(lambda: runner.poll() is not None, timeout=60, what="the runner to reach the crash point")
    finally:
        stop(runner)
    _, err = runner.communicate()
    assert runner.returncode == -signal.SIGKILL, f"runner exited {runner.returncode}, not at the point\n{err}"


def _last_batch(deck: Path) -> tuple[int, list[dict]]:
    """Where the last batch written begins (byte offset), and its records (one settle: one ``ts``)."""
    data = (deck / ".jobdeck" / "events.jsonl").read_bytes()
    lines = data.splitlines(keepends=True)
    records = [json.loads(line) for line in lines]
    ts = records[-1]["ts"]
    first = next(i for i, r in enumerate(records) if r["ts"] == ts)
    return sum(len(line) for line in lines[:first]), records[first:]


def _check(deck: Path, ids: list[str]) -> None:
    drain(deck, ids)
    states = board(deck)
    assert {j: states[j].status.value for j in ids} == dict.fromkeys(ids, "done")
    corrupt, temps = corrupt_files(deck)
    assert corrupt == [] and temps == []
    assert jobdeck(deck, "audit", "verify").returncode == 0
    log = events(deck)
    for record in log:  # no outcome before its claim
        if record.get("token") is not None and record["type"] != "claimed":
            assert record["token"] < record["seq"]


def test_kill_between_an_early_claims_write_and_its_being_stored_loses_nothing(tmp_path: Path) -> None:
    deck, ids = _deck(tmp_path)
    _crash(deck)
    _, batch = _last_batch(deck)
    early = [r for r in batch if r["type"] == "claimed"]
    assert early, "the crashed batch holds the early claims"
    _check(deck, ids)


@pytest.mark.timeout(300)
def test_a_power_cut_before_the_early_claims_fsync_loses_nothing(tmp_path: Path) -> None:
    deck, ids = _deck(tmp_path)
    _crash(deck)
    offset, batch = _last_batch(deck)
    lost = [r for r in batch if r["type"] == "claimed"]
    assert lost, "the crashed batch holds the early claims"
    runs = deck / "workspaces/default/runs"
    for claim in lost:  # their programs ran (each in its own session, the runner's death did not stop them)
        output = runs / claim["job"] / str(claim["attempt"]) / "output"
        wait_for(lambda: output.exists() and output.stat().st_size, timeout=30, what=f"{output} written")
    # what a power cut before the fsync leaves: the batch never reached the disk, the attempts' files did
    os.truncate(deck / ".jobdeck" / "events.jsonl", offset)
    (deck / ".jobdeck" / "board.json").unlink(missing_ok=True)
    _check(deck, ids)
    for claim in lost:
        job_dir = runs / claim["job"]
        aside = [p for p in job_dir.iterdir() if p.name.startswith(f"{claim['attempt']}.lost-")]
        assert len(aside) == 1, sorted(p.name for p in job_dir.iterdir())
        assert (aside[0] / "output").read_text() == f"run {claim['attempt']}\n"
