"""Runner heartbeats: what the runner writes is what the cockpit and the demo read back."""

from __future__ import annotations

import os
from pathlib import Path

from jobdeck.runner.heartbeat import HeartbeatWriter
from jobdeck.state.heartbeat import INTERVAL, STALE_AFTER, Heartbeat, read_heartbeats

NOW = 1_700_000_000.0


def test_a_written_heartbeat_reads_back_whole_with_its_running_jobs(tmp_path: Path) -> None:
    HeartbeatWriter(tmp_path, "r1", parallel=3).beat(["build", "test"], NOW)
    [beat] = read_heartbeats(tmp_path)
    assert beat.runner == "r1" and beat.pid == os.getpid() and beat.parallel == 3
    assert beat.at == NOW
    assert beat.running == ("build", "test")
    assert len(beat.running) == 2
    assert beat.alive(NOW + STALE_AFTER - 1) and not beat.alive(NOW + STALE_AFTER)


def test_beats_are_spaced_by_the_interval_unless_forced(tmp_path: Path) -> None:
    writer = HeartbeatWriter(tmp_path, "r1", parallel=1)
    writer.beat([], NOW)
    writer.beat(["late"], NOW + INTERVAL - 1)
    assert [beat.running for beat in read_heartbeats(tmp_path)] == [()]
    writer.beat(["late"], NOW + INTERVAL - 1, force=True)
    assert [beat.running for beat in read_heartbeats(tmp_path)] == [("late",)]
    writer.stop()
    assert read_heartbeats(tmp_path) == []


def test_unreadable_files_are_skipped_and_odd_fields_left_empty(tmp_path: Path) -> None:
    (tmp_path / "torn.json").write_text('{"heartbeat": 1')
    (tmp_path / "foreign.json").write_text('["not", "a", "heartbeat"]')
    (tmp_path / "odd.json").write_text('{"heartbeat": 5, "pid": true, "running": 2}')
    assert read_heartbeats(tmp_path) == [Heartbeat("odd", None, "?", 5.0, None, ())]
