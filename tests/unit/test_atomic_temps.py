"""Which temp files ``write_atomic``'s sweep removes: only those of dead writers from this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from jobdeck.state.atomic import pid_origin, remove_stale_temps, temp_name, write_atomic
from jobdeck.state.liveness import start_time


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_sweep_removes_only_dead_writers_from_this_origin(tmp_path: Path) -> None:
    target = tmp_path / "board.json"
    dead = _dead_pid()
    origin = pid_origin()
    elsewhere = "ffffffff" if origin != "ffffffff" else "00000000"
    parent, parent_start = os.getppid(), start_time(os.getppid()) or 0
    names = {
        "dead": f".board.json.{dead}.{origin}.0123abcd.tmp",
        "alive": f".board.json.{parent}.{origin}.0123abcd.tmp",
        "alive_same_start": f".board.json.{parent}-{parent_start:x}.{origin}.0123abcd.tmp",
        "pid_reused": f".board.json.{parent}-{parent_start + 1:x}.{origin}.0123abcd.tmp",  # its writer died
        "ours": temp_name(target).name,
        "other_origin": f".board.json.{dead}.{elsewhere}.0123abcd.tmp",
        "old_style": ".board.json.0123abcd.tmp",
        "not_a_temp": f"board.json.{dead}.{origin}.0123abcd.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    assert sorted(remove_stale_temps(tmp_path)) == sorted([names["dead"], names["pid_reused"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        v for k, v in names.items() if k not in ("dead", "pid_reused"))


def test_write_atomic_sweeps_its_directory_first(tmp_path: Path) -> None:
    litter = tmp_path / f".jobs.json.{_dead_pid()}.{pid_origin()}.0123abcd.tmp"
    litter.write_bytes(b"half")
    write_atomic(tmp_path / "jobs.json", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.json"]


def test_sweep_of_a_missing_directory_is_a_no_op(tmp_path: Path) -> None:
    assert remove_stale_temps(tmp_path / "missing") == []
