"""The disk fills up (ENOSPC), a file hits its size limit (EFBIG) or the deck turns read-only.

Expected of the runner: it keeps the last good state (nothing half-recorded),
starts nothing new while writes fail, reports the error, and carries on by
itself when the disk is writable again. The deck lives on a small tmpfs when
``mount`` is permitted (we fill it, then free it); the RLIMIT_FSIZE test needs
no privilege and always runs. A read-only deck is not tested: the kernel refuses
``remount,ro`` (and a read-only bind remount) while the runner holds the log open
for writing, so only a filesystem error could produce it.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pytest

from tests.functional.runner_kit import make_deck
from tests.torture.kit import (
    reports,
    total_starts,
    FINAL,
    audit,
    board,
    ledger_jobs,
    start_runner,
    starts,
    stop,
    wait_for,
    write_figure,
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 8 MB tmpfs at tmp_path/disk, unmounted afterwards; skip where mount is not permitted."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mountpoint)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("mount is not permitted here (the RLIMIT_FSIZE test covers write failures)")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(directory: Path) -> Path:
    """Write a filler file until the filesystem is full; return it."""
    filler = directory / "filler"
    chunk = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    small = bytes(1)
    with open(directory / "filler2", "wb", buffering=0) as f:  # the last partial page
        try:
            while True:
                f.write(small)
        except OSError:
            pass
    return filler


def _all_final(deck: Path, ids: list[str]) -> bool:
    states = board(deck)
    return all(states.get(j) is not None and states[j].status.value in FINAL for j in ids)


def _hold_still(ledger: Path, ids: list[str], seconds: float) -> tuple[int, int]:
    """Starts before and after an observation window (a fixed window: we look for an absence)."""
    before = total_starts(ledger, ids)
    time.sleep(seconds)
    return before, total_starts(ledger, ids)


def test_full_disk_then_recovery(tmp_path: Path, small_disk: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, 300)
    ids = [j["id"] for j in spec]
    deck = make_deck(small_disk, spec, limits={"parallel": 4})
    out = tmp_path / "runner.out"
    with open(out, "w") as sink:
        runner = start_runner(deck, stdout=sink)
    try:
        wait_for(lambda: total_starts(ledger, ids) >= 30, timeout=60, what="the first 30 jobs")
        # 1. ENOSPC
        filler = _fill(small_disk)
        wait_for(lambda: runner.poll() is not None or any(r.get("type") == "write_error" for r in reports(out)),
                 timeout=30, what="the runner to report the full disk")
        assert runner.poll() is None, f"the runner died on a full disk: {runner.stderr.read() if runner.stderr else ''}"
        time.sleep(0.5)  # let attempts claimed before the fault end
        before, after = _hold_still(ledger, ids, 2.0)
        assert after == before, f"{after - before} attempts started while the disk was full"
        assert not _all_final(deck, ids)
        full_errors = sum(1 for r in reports(out) if r.get("type") == "write_error")
        filler.unlink()
        (small_disk / "filler2").unlink()
        wait_for(lambda: total_starts(ledger, ids) > after, timeout=30, what="the runner to resume after ENOSPC")
        wait_for(lambda: _all_final(deck, ids), timeout=120, what="every job final after the disk came back")
        assert runner.poll() is None
    finally:
        stop(runner)
    result = audit(deck, ledger, ids)
    assert result.corrupt_files == [] and result.chain_ok
    assert result.double_starts == [] and result.lost_jobs == []
    write_figure("disk_faults_tmpfs", {"faults": 1, "jobs": len(ids), "write_errors_reported": full_errors,
                                       "corrupt": 0, "lost": 0, "double": 0,
                                       "interrupted": sum(1 for s in result.states.values() if s == "review")})


def _relay(stream: Any, sink: Any) -> None:
    with sink:
        for line in stream:
            sink.write(line)
            sink.flush()


def test_file_size_limit_on_the_log_then_recovery(tmp_path: Path) -> None:
    """RLIMIT_FSIZE caps events.jsonl: writes fail with EFBIG; raising the limit lets the runner go on."""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = ledger_jobs(ledger, 150)
    ids = [j["id"] for j in spec]
    deck = make_deck(tmp_path, spec, limits={"parallel": 4})
    limit = 60_000  # bytes of log: roughly 100 events

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    # The limit binds every file the runner writes, its stdout too: relay that through a
    # pipe to a file written by this process, so only the deck's files meet the limit.
    out = tmp_path / "runner.out"
    runner = start_runner(deck, stdout=subprocess.PIPE, preexec_fn=cap)
    relay = threading.Thread(target=_relay, args=(runner.stdout, open(out, "w")), daemon=True)
    relay.start()
    try:
        wait_for(lambda: runner.poll() is not None or any(r.get("type") == "write_error" for r in reports(out)),
                 timeout=60, what="the log to hit its size limit")
        assert runner.poll() is None, "the runner died at the file size limit"
        time.sleep(0.5)
        before, after = _hold_still(ledger, ids, 2.0)
        assert after == before, f"{after - before} attempts started while the log could not grow"
        size = (deck / ".jobdeck" / "events.jsonl").stat().st_size
        assert size <= limit
        assert (deck / ".jobdeck" / "events.jsonl").read_bytes().endswith(b"\n"), "a torn record was left behind"
        resource.prlimit(runner.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        wait_for(lambda: _all_final(deck, ids), timeout=120, what="every job final after the limit was raised")
        assert runner.poll() is None
    finally:
        stop(runner)
    result = audit(deck, ledger, ids)
    assert result.corrupt_files == [] and result.chain_ok
    assert result.double_starts == [] and result.lost_jobs == []
    write_figure("disk_faults_rlimit", {"faults": 1, "jobs": len(ids), "corrupt": 0, "lost": 0, "double": 0,
                                        "interrupted": sum(1 for s in result.states.values() if s == "review")})
