"""The boundary record recovery reads: its encoding, where it is kept, and what a forged one may reach."""

from __future__ import annotations

import os
from pathlib import Path

from jobdeck.agents.boundary import BoundaryRecord, read_record, write_record
from jobdeck.agents.containment import reopen
from jobdeck.agents.proctree import env_value, read
from jobdeck.state.atomic import pid_origin
from jobdeck.state.attempts import BOUNDARY, LEASE

TOKEN = "0123456789abcdef"


def record(kind: str = "cgroup", token: str = TOKEN) -> BoundaryRecord:
    return BoundaryRecord(kind, pid_origin(), (10, 20), (30, 40), token)


def test_a_record_survives_encoding_and_fits_in_an_ext4_inode() -> None:
    for kind in ("cgroup", "subreaper"):
        assert BoundaryRecord.decode(record(kind).encode()) == record(kind)
    largest = BoundaryRecord("subreaper", "f" * 8, (4194304, 16**9 - 1), (4194304, 16**9 - 1), TOKEN)  # 21 years up
    assert BoundaryRecord.decode(largest.encode()) == largest
    assert len(largest.encode()) <= 60
    starting = BoundaryRecord("cgroup", pid_origin(), (10, 20), None, TOKEN)  # written before the leader starts
    assert BoundaryRecord.decode(starting.encode()) == starting and not starting.leader_alive()


def test_garbage_is_no_record() -> None:
    for data in (b"", b"x65cb61b7 1.2 3.4 t", b"c65cb61b7 1 3.4 t", b"\xff\xfe", b"c65cb61b7", b"c 1.2 3.4 t u"):
        assert BoundaryRecord.decode(data) is None


def test_the_record_is_an_attribute_of_the_lease_file(tmp_path: Path) -> None:
    lease = os.open(tmp_path / LEASE, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        assert write_record(tmp_path, lease, record(kind="subreaper"))
    finally:
        os.close(lease)
    assert read_record(tmp_path) == record(kind="subreaper")
    assert not (tmp_path / BOUNDARY).exists()  # no file of its own where attributes work


def test_where_attributes_do_not_work_the_record_file_is_read(tmp_path: Path) -> None:
    (tmp_path / LEASE).touch()
    (tmp_path / BOUNDARY).write_bytes(record(kind="subreaper").encode())
    assert read_record(tmp_path) == record(kind="subreaper")


def test_no_record_reads_as_none(tmp_path: Path) -> None:
    assert read_record(tmp_path) is None
    (tmp_path / LEASE).touch()
    assert read_record(tmp_path) is None


def test_a_forged_record_reaches_nothing_jobdeck_did_not_name(tmp_path: Path) -> None:
    held = lambda: False  # noqa: E731
    for token in ("*", "../..", "", "0123456789ABCDEF", TOKEN + "0"):
        for kind in ("cgroup", "subreaper"):
            assert reopen(record(kind, token), tmp_path, held) is None, (kind, token)
    assert reopen(record("cgroup"), tmp_path, held) is None  # no runner 10 made that group
    assert reopen(record("subreaper"), tmp_path, held) is not None


def test_this_process_as_proc_sees_it() -> None:
    me = read(os.getpid())
    assert me is not None and me.ppid == os.getppid() and me.session == os.getsid(0) and not me.dead
    assert env_value(os.getpid(), "PATH") == os.environ["PATH"]
    assert env_value(os.getpid(), "JOBDECK_SURELY_UNSET") is None
