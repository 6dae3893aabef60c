"""kill -9 in the middle of ``write_atomic`` leaves a temp file; the next writer there removes it.

The temp file's name carries its writer's pid (``state/atomic.py``). Real
processes are killed at the crash points between creating the temp file and
renaming it (a runner's heartbeat, ``jobdeck add``'s jobs.json); another is
frozen (SIGSTOP) at the same step, holding its temp file, while later writers
sweep the same directory. Expected: every dead writer's temp file is gone after
the next write there, the frozen writer's survives, and it finishes its rename
when it resumes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from jobdeck.state.atomic import _TEMP_NAME
from tests.functional.runner_kit import make_deck
from tests.torture.kit import (
    corrupt_files,
    env_for,
    jobdeck,
    start_runner,
    stop,
    wait_for,
    write_figure,
)


def _temps(directory: Path) -> dict[int, str]:
    """pid -> name of the temp files in ``directory``."""
    found = {}
    for path in directory.glob(".*.tmp"):
        match = _TEMP_NAME.fullmatch(path.name)
        assert match is not None, f"a temp file not named by write_atomic: {path.name}"
        found[int(match["pid"])] = path.name
    return found


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def _add(deck: Path, job_id: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "jobdeck", "add", "--id", job_id, "--", "true"], cwd=deck,
                            env=env_for(deck, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_dead_writers_temp_files_are_removed_live_ones_kept(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [])
    runners = deck / ".jobdeck" / "runners"
    spec_before = (deck / "jobs.json").read_bytes()
    killed = []

    # 1. A runner killed between writing its heartbeat's temp file and the rename (jobs.json is
    #    already marked valid, so the heartbeat is the runner's first atomic write).
    assert jobdeck(deck, "ls").returncode == 0
    runner = start_runner(deck, "--quiet", env=env_for(deck, JOBDECK_CRASH_AT="atomic.after_write"))
    runner.wait(60)
    assert runner.returncode == -signal.SIGKILL, runner.stderr.read() if runner.stderr else ""
    killed.append(runner.pid)
    assert list(_temps(runners)) == [runner.pid]

    # 2. `jobdeck add` killed after the fsync of jobs.json's temp file, before the rename.
    adder = _add(deck, "lost", JOBDECK_CRASH_AT="atomic.after_fsync")
    adder.wait(60)
    assert adder.returncode == -signal.SIGKILL, adder.stderr.read() if adder.stderr else ""
    killed.append(adder.pid)
    assert list(_temps(deck)) == [adder.pid]
    assert (deck / "jobs.json").read_bytes() == spec_before

    # 3. A runner frozen at the same step: it swept runners/ before writing (the dead
    #    runner's temp file is gone) and now holds a temp file of a live writer.
    frozen = start_runner(deck, "--quiet", env=env_for(deck, JOBDECK_CRASH_AT="atomic.after_write",
                                                       JOBDECK_CRASH_SIGNAL="SIGSTOP"))
    try:
        wait_for(lambda: frozen.poll() is not None or _stopped(frozen.pid), timeout=60,
                 what="the runner to stop itself inside write_atomic")
        assert frozen.poll() is None
        assert list(_temps(runners)) == [frozen.pid]

        # 4. Another runner's heartbeat sweeps runners/ again: the live writer's temp file stays.
        assert jobdeck(deck, "run", "--once").returncode == 0
        assert list(_temps(runners)) == [frozen.pid]
        assert list(_temps(deck)) == [adder.pid], "only a write in the deck root sweeps it"

        # 5. The next `jobdeck add` sweeps the deck root.
        added = _add(deck, "kept")
        assert added.wait(60) == 0, added.stderr.read() if added.stderr else ""
        assert _temps(deck) == {}
        assert [job["id"] for job in json.loads((deck / "jobs.json").read_bytes())["jobs"]] == ["kept"]

        # 6. The frozen writer resumes and completes its rename: nobody took its file.
        frozen.send_signal(signal.SIGCONT)

        def frozen_beat() -> bool:
            for path in runners.glob("*.json"):
                if json.loads(path.read_bytes()).get("pid") == frozen.pid:
                    return True
            return False

        wait_for(frozen_beat, timeout=30, what="the resumed runner's heartbeat")
        assert frozen.poll() is None
        assert _temps(runners) == {}
    finally:
        if frozen.poll() is None:
            frozen.send_signal(signal.SIGCONT)
        stop(frozen)
    assert frozen.returncode == 0, frozen.stderr.read() if frozen.stderr else ""
    corrupt, temps = corrupt_files(deck)
    assert corrupt == [] and temps == []
    assert jobdeck(deck, "audit", "verify").returncode == 0
    write_figure("temp_files", {"kills": len(killed), "frozen_writers": 1, "temp_files_left": len(temps),
                                "live_temp_files_removed": 0})
