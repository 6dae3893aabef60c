"""Hand saves of jobs.json in every way editors save, racing a runner that works at full speed.

The editor (``hand_editor.py``, its own process) never takes the lock. Expected:
every hand edit is in the final file (the runner never writes jobs.json), every
transition is in a verifying chain, every job the editor added was run, and no
half-written or empty read made the runner drop, cancel or forget a job — it
reported a spec error and kept the last good spec instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.runner_kit import events, make_deck
from tests.torture.kit import (
    ROOT,
    audit,
    board,
    env_for,
    ledger_jobs,
    start_runner,
    stop,
    wait_for,
    write_figure,
)


def _race(tmp_path: Path, saves: int, initial: int, seed: int) -> dict[str, int]:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, initial)
    deck = make_deck(tmp_path, spec, limits={"parallel": 4})
    out = tmp_path / "runner.out"
    report = tmp_path / "editor.json"
    with open(out, "w") as sink:
        runner = start_runner(deck, stdout=sink)
    try:
        editor = subprocess.run([sys.executable, "-m", "tests.torture.hand_editor", str(deck), str(ledger),
                                 str(saves), str(seed), str(report)], cwd=ROOT, env=env_for(deck),
                                capture_output=True, text=True, timeout=600)
        assert editor.returncode == 0, editor.stderr
        expected = json.loads(report.read_text())
        ids = [j["id"] for j in spec] + expected["added"]

        def all_done() -> bool:
            states = board(deck)
            return all(states.get(j) is not None and states[j].status.value == "done" for j in ids)

        wait_for(all_done, timeout=120, what="every original and hand-added job done")
        assert runner.poll() is None, "the runner died"
    finally:
        stop(runner)
    final = json.loads((deck / "jobs.json").read_bytes())
    assert (deck / "jobs.json").read_text() == expected["final"], "someone else wrote jobs.json"
    by_id = {job["id"]: job for job in final["jobs"]}
    lost_edits = [j for j in expected["added"] if j not in by_id]
    lost_edits += [j for j, text in expected["described"].items() if by_id.get(j, {}).get("description") != text]
    assert lost_edits == [], lost_edits
    records = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]
    spec_errors = sum(1 for r in records if r.get("type") == "spec_error")
    assert spec_errors > 0, "no save was ever read half-written: the race did not happen"
    log = events(deck)
    assert not [e for e in log if e["type"] == "cancelled"], "a half-written read cancelled a job"
    claimed = {(e["job"], e["attempt"]) for e in log if e["type"] == "claimed"}
    ended = {(e["job"], e.get("attempt")) for e in log if e["type"] in ("succeeded", "failed", "interrupted")}
    assert claimed <= ended, f"claims without an outcome: {sorted(claimed - ended)[:5]}"
    result = audit(deck, ledger, ids)
    assert result.corrupt_files == [] and result.chain_ok
    assert result.double_starts == [] and result.lost_jobs == []
    return {"saves": saves, "ways": len(expected["ways"]), "jobs": len(ids), "spec_errors_reported": spec_errors,
            "lost_edits": len(lost_edits), "lost_transitions": len(claimed - ended),
            "dropped_jobs": 0, "double": len(result.double_starts)}


def test_hand_saves_race_the_runner(tmp_path: Path) -> None:
    write_figure("hand_edits", _race(tmp_path, saves=48, initial=40, seed=1))


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_hand_saves_race_the_runner_long(tmp_path: Path) -> None:
    write_figure("hand_edits_long", _race(tmp_path, saves=2000, initial=500, seed=2))
