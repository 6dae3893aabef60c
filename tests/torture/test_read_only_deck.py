"""The deck turns read-only while the runner works, then writable again.

A real ``mount -o remount,ro`` of the deck is refused by the kernel (EBUSY)
while any file on it is open for writing, and the runner always holds the
event log and the lock open, so a remount cannot produce this fault (the first
test checks that this is still so). Two faults that can be produced:

- **immutable deck**: the immutable flag (``chattr +i``, root only) on every
  directory and file. Every write fails with EPERM: creating, renaming,
  removing, truncating, and writing through descriptors the runner already
  holds (chmod would stop none of these for root, and never open descriptors).
- **read-only mount over the deck**: the deck's directory bind-mounted
  read-only onto itself. Every new file, directory, rename or removal fails
  with EROFS, while the descriptors the runner opened before (the log, the
  lock) still write: the log takes claims whose attempt directories cannot
  be made, as after a chmod or an ownership change.

Expected of the runner, as for a full disk: it keeps the last good state,
starts nothing new, reports the error once, and resumes by itself.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.functional.runner_kit import make_deck
from tests.torture.kit import (
    reports,
    total_starts,
    FINAL,
    audit,
    board,
    env_for,
    jobdeck,
    ledger_jobs,
    start_runner,
    starts,
    stop,
    wait_for,
    write_figure,
)


def _immutable_flag_works(directory: Path) -> bool:
    """Whether ``chattr +i`` here stops a write through a descriptor opened before it."""
    probe = directory / "probe"
    with open(probe, "wb", buffering=0) as f:
        if subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
            return False
        try:
            f.write(b"x")
            return False
        except PermissionError:
            return True
        finally:
            subprocess.run(["chattr", "-i", str(probe)], check=True)
            probe.unlink()


@pytest.fixture
def lockable(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, whose immutable flags are always cleared afterwards (so it can be removed)."""
    if not _immutable_flag_works(tmp_path):
        pytest.skip("chattr +i is not permitted here or does not stop open descriptors on this filesystem")
    try:
        yield tmp_path
    finally:
        subprocess.run(["chattr", "-R", "-f", "-i", str(tmp_path)], check=False)


def freeze(deck: Path) -> None:
    """Make every directory and file of the deck immutable.

    ``chattr -R`` flags a directory before it lists it, so nothing can be created
    in it after the listing: one pass reaches every entry, even while the runner
    is writing.
    """
    subprocess.run(["chattr", "-R", "+i", str(deck)], check=True, capture_output=True)


def thaw(deck: Path) -> None:
    subprocess.run(["chattr", "-R", "-i", str(deck)], check=True, capture_output=True)


def mount_read_only(deck: Path) -> None:
    subprocess.run(["mount", "--bind", "-o", "ro", str(deck), str(deck)], check=True, capture_output=True)


def unmount(deck: Path) -> None:
    subprocess.run(["umount", "-l", str(deck)], check=True, capture_output=True)


def _running(ledger: Path) -> list[str]:
    return [p.name for p in ledger.glob("*.running")]


def _all_final(deck: Path, ids: list[str]) -> bool:
    states = board(deck)
    return all(states.get(j) is not None and states[j].status.value in FINAL for j in ids)


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


@dataclass
class FaultRun:
    """What the runner did while the deck refused writes."""

    errors_reported: int
    starts_while_refused: int
    events_while_refused: int
    window_s: float


def _through_fault(deck: Path, ledger: Path, ids: list[str], out: Path, runner: subprocess.Popen[str],
                   apply: Callable[[Path], None], remove: Callable[[Path], None]) -> FaultRun:
    """Apply the fault mid-run, check the runner holds still, remove it, wait until every job is final."""
    log = deck / ".jobdeck" / "events.jsonl"
    wait_for(lambda: total_starts(ledger, ids) >= 30, timeout=60, what="the first 30 jobs")
    apply(deck)
    try:
        wait_for(lambda: runner.poll() is not None or any(r.get("type") == "write_error" for r in reports(out)),
                 timeout=30, what="the runner to report the read-only deck")
        assert runner.poll() is None, f"the runner died: {runner.stderr.read() if runner.stderr else ''}"
        # attempts that were running when the deck turned read-only end; nothing new may start
        wait_for(lambda: not _running(ledger), timeout=30, what="the attempts running at the fault to end")
        began, refused_at, log_at = time.monotonic(), total_starts(ledger, ids), len(log.read_bytes().splitlines())
        time.sleep(2.5)  # an observation window (we look for an absence): two write retries
        window = time.monotonic() - began
        assert runner.poll() is None
        assert total_starts(ledger, ids) == refused_at, "attempts started while the deck was read-only"
        assert not _all_final(deck, ids)
        verified = jobdeck(deck, "audit", "verify")  # the last good state stays readable
        assert verified.returncode == 0, verified.stdout + verified.stderr
        errors = sum(1 for r in reports(out) if r.get("type") == "write_error")
        grown = len(log.read_bytes().splitlines()) - log_at
    finally:
        remove(deck)
    wait_for(lambda: total_starts(ledger, ids) > refused_at, timeout=30,
             what="the runner to resume after the deck became writable")
    wait_for(lambda: _all_final(deck, ids), timeout=120, what="every job final after the deck came back")
    assert runner.poll() is None
    assert any(r.get("type") == "write_resumed" for r in reports(out))
    return FaultRun(errors, 0, grown, round(window, 1))


def test_remount_read_only_is_refused_while_a_file_is_open_for_writing(tmp_path: Path) -> None:
    """Why the read-only tests do not remount: the kernel will not remount a deck in use."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mountpoint)],
                      capture_output=True).returncode != 0:
        pytest.skip("mount is not permitted here")
    try:
        with open(mountpoint / "events.jsonl", "ab"):
            refused = subprocess.run(["mount", "-o", "remount,ro", str(mountpoint)], capture_output=True)
        assert refused.returncode != 0, "remount,ro succeeded with a file open for writing: test it directly"
        assert subprocess.run(["mount", "-o", "remount,ro", str(mountpoint)], capture_output=True).returncode == 0
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _deck_with_ledger(tmp_path: Path, jobs: int, parallel: int) -> tuple[Path, Path, list[str]]:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, jobs)
    return make_deck(tmp_path, spec, limits={"parallel": parallel}), ledger, [j["id"] for j in spec]


def _final_audit(deck: Path, ledger: Path, ids: list[str]) -> Any:
    """The usual audit, and every job done: a refused write may delay a job, never fail it."""
    result = audit(deck, ledger, ids)
    assert result.corrupt_files == [] and result.chain_ok
    assert result.double_starts == [] and result.lost_jobs == []
    not_done = {j: s for j, s in result.states.items() if s != "done"}
    assert not_done == {}, f"jobs not recorded as done after the deck came back: {not_done}"
    return result


def test_immutable_deck_then_recovery(lockable: Path) -> None:
    deck, ledger, ids = _deck_with_ledger(lockable, 200, 4)
    out = lockable / "runner.out"
    with open(out, "w") as sink:
        runner = start_runner(deck, stdout=sink)
    try:
        fault = _through_fault(deck, ledger, ids, out, runner, freeze, thaw)
    finally:
        subprocess.run(["chattr", "-R", "-f", "-i", str(deck)], check=False)
        stop(runner)
    assert fault.errors_reported == 1
    assert fault.events_while_refused == 0, "the log grew while every file was immutable"
    result = _final_audit(deck, ledger, ids)
    write_figure("disk_faults_read_only", {
        "faults": 1, "jobs": len(ids), "write_errors_reported": fault.errors_reported,
        "starts_while_read_only": fault.starts_while_refused, "corrupt": 0, "lost": 0, "double": 0,
        "interrupted": sum(1 for s in result.states.values() if s == "review")})


def test_read_only_mount_over_the_deck_then_recovery(tmp_path: Path) -> None:
    deck, ledger, ids = _deck_with_ledger(tmp_path, 200, 4)
    probe = subprocess.run(["mount", "--bind", "-o", "ro", str(tmp_path), str(tmp_path)], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("mount is not permitted here")
    unmount(tmp_path)
    out = tmp_path / "runner.out"
    with open(out, "w") as sink:
        runner = start_runner(deck, stdout=sink)
    try:
        fault = _through_fault(deck, ledger, ids, out, runner, mount_read_only, unmount)
    finally:
        stop(runner)
    assert fault.errors_reported == 1
    # the log still takes events: at most one batch of claims (4) and their not_started failures per second
    assert fault.events_while_refused <= 2 * 4 * (fault.window_s + 1), fault
    result = _final_audit(deck, ledger, ids)
    write_figure("disk_faults_read_only_mount", {
        "faults": 1, "jobs": len(ids), "write_errors_reported": fault.errors_reported,
        "starts_while_read_only": fault.starts_while_refused,
        "events_while_read_only": fault.events_while_refused, "window_s": fault.window_s,
        "corrupt": 0, "lost": 0, "double": 0,
        "interrupted": sum(1 for s in result.states.values() if s == "review")})


def test_deck_turns_read_only_between_claim_and_start(lockable: Path) -> None:
    """The runner freezes itself right after a claim's directory and lease are made; the deck turns read-only.

    The attempt then cannot open its output files. Nothing ran, so the job must
    be retried when the deck is writable again, not failed.
    """
    deck, ledger, ids = _deck_with_ledger(lockable, 12, 2)
    out = lockable / "runner.out"
    env = env_for(deck, JOBDECK_CRASH_AT="claim.after_open:3", JOBDECK_CRASH_SIGNAL="SIGSTOP")
    with open(out, "w") as sink:
        runner = start_runner(deck, env=env, stdout=sink)
    try:
        wait_for(lambda: runner.poll() is not None or _stopped(runner.pid), timeout=60,
                 what="the runner to stop after its third claim")
        assert runner.poll() is None
        freeze(deck)
        frozen_at = total_starts(ledger, ids)
        runner.send_signal(signal.SIGCONT)
        wait_for(lambda: any(r.get("type") == "write_error" for r in reports(out)), timeout=30,
                 what="the runner to report the read-only deck")
        wait_for(lambda: not _running(ledger), timeout=30, what="attempts started before the freeze to end")
        assert total_starts(ledger, ids) == frozen_at, "an attempt started on a read-only deck"
        thaw(deck)
        wait_for(lambda: _all_final(deck, ids), timeout=60, what="every job final after the thaw")
    finally:
        subprocess.run(["chattr", "-R", "-f", "-i", str(deck)], check=False)
        if runner.poll() is None:
            runner.send_signal(signal.SIGCONT)
        stop(runner)
    result = audit(deck, ledger, ids)
    assert result.corrupt_files == [] and result.chain_ok
    assert result.double_starts == [] and result.lost_jobs == []
    not_done = {j: s for j, s in result.states.items() if s != "done"}
    assert not_done == {}, f"jobs that never ran were not retried: {not_done}"


def test_attempt_ending_on_a_read_only_deck_is_recorded_as_it_ended(lockable: Path) -> None:
    """A job runs, the deck turns read-only, the job exits 0: once writable again, it must be done."""
    ledger = lockable / "ledger"
    ledger.mkdir()
    script = (f"echo $JOBDECK_ATTEMPT >> {ledger}/$JOBDECK_JOB.starts; "
              f"while [ ! -e {ledger}/go ]; do sleep 0.01; done")
    deck = make_deck(lockable, [{"id": "j", "command": ["bash", "-c", script]}])
    out = lockable / "runner.out"
    with open(out, "w") as sink:
        runner = start_runner(deck, stdout=sink)
    try:
        wait_for(lambda: starts(ledger, "j"), timeout=60, what="the job to start")
        freeze(deck)
        (ledger / "go").touch()
        wait_for(lambda: any(r.get("type") == "write_error" for r in reports(out)), timeout=30,
                 what="the runner to report the read-only deck")
        thaw(deck)
        wait_for(lambda: _all_final(deck, ["j"]), timeout=60, what="the job final after the thaw")
    finally:
        subprocess.run(["chattr", "-R", "-f", "-i", str(deck)], check=False)
        stop(runner)
    assert starts(ledger, "j") == ["1"]
    state = board(deck)["j"]
    assert state.status.value == "done", f"{state.status.value}: {state.reason}"
