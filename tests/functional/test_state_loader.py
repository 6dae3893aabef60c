"""A long-running reader keeps the last good spec: a bad save never empties the board."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import TWO_JOBS, run_cli
from jobdeck.state.deck import Deck
from jobdeck.state.loader import SpecSource


@pytest.mark.parametrize(("bad", "message"), [
    (b"", "the file is empty"),
    (b'{"jobs": [\n  {"id": "hello", "command": ["echo", "hi"]},\n  {"id": "wor', "unterminated string"),
    (b'{"agents": {}}', "no 'jobs' list"),
    (b'{"jobs": [{"id": "hello", "command": ["echo"], "depends_on": ["hello"]}]}', "cannot depend on itself"),
    (None, "file not found (hint: was it, or the deck's directory, moved or removed?"),  # not "jobdeck init"
])
def test_bad_save_keeps_the_last_good_spec_and_reports_why(deck: Deck, bad: bytes | None, message: str) -> None:
    source = SpecSource(deck.spec_path)
    assert source.refresh() is True
    good = source.current
    assert good is not None and [j.id for j in good.spec.jobs] == ["hello", "world"]
    assert source.refresh() is False  # unchanged file: nothing to do

    if bad is None:
        deck.spec_path.unlink()
    else:
        deck.spec_path.write_bytes(bad)
    assert source.refresh() is True
    assert source.current is good
    assert source.error is not None and message in str(source.error)
    assert str(deck.spec_path) in str(source.error)

    deck.spec_path.write_bytes(TWO_JOBS.replace(b'"world"]', b'"world", "again"]'))
    assert source.refresh() is True
    assert source.error is None
    assert source.current is not good
    assert source.current.spec.job("world").command == ["echo", "world", "again"]


def test_a_same_size_edit_in_place_with_its_old_mtime_put_back_is_seen(deck: Deck) -> None:
    """`touch -r`, `cp -p`, or two saves within one timestamp tick: inode, size and mtime all as before."""
    source = SpecSource(deck.spec_path)
    assert source.refresh() is True
    before = os.stat(deck.spec_path)
    edited = TWO_JOBS.replace(b'"hi"]', b'"yo"]')
    assert len(edited) == len(TWO_JOBS)
    with open(deck.spec_path, "r+b") as spec:  # in place: same inode
        spec.write(edited)
    os.utime(deck.spec_path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(deck.spec_path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    assert source.refresh() is True
    assert source.current is not None and source.current.spec.job("hello").command == ["echo", "yo"]


def test_first_read_of_a_bad_file_has_no_spec_and_an_error(deck: Deck) -> None:
    deck.spec_path.write_bytes(b"{")
    source = SpecSource(deck.spec_path)
    source.refresh()
    assert source.current is None
    assert source.error is not None and "the file ends before the JSON does" in str(source.error)


def _make_fifo(path: Path) -> None:
    os.mkfifo(path)


def _link_to_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _make_directory(path: Path) -> None:
    path.mkdir()


def _make_huge(path: Path) -> None:
    with path.open("wb") as f:  # sparse: as big as it says, without the bytes on disk
        f.truncate(100 << 20)


@pytest.mark.parametrize(("make", "message"), [
    (_make_fifo, "is not a regular file (it is a FIFO) (hint: jobs.json must be a plain file; "
                 "a symbolic link to one is fine)"),
    (_link_to_dev_zero, "is not a regular file (it is a character device) (hint: jobs.json must be a plain "
                        "file; a symbolic link to one is fine)"),
    (_make_directory, "is a directory, not a file"),
    (_make_huge, "is 100 MiB, larger than the 64 MiB a jobs.json may be (hint: is this the right file?)"),
])
def test_a_jobs_json_that_is_no_plain_file_is_refused_at_once(tmp_path: Path, make: Callable[[Path], None],
                                                              message: str) -> None:
    path = tmp_path / "jobs.json"
    make(path)
    done = run_cli("validate", str(path), timeout=20)  # a read that blocks or never ends fails by the timeout
    if make is _make_huge:  # a file, with a problem: the answer is no
        assert done.returncode == 1
        assert done.stderr.splitlines() == [f"{path}: {message}", f"1 problem in {path}"]
    else:  # no file at that path: the path's problem (a directory gets a hint of its own: validate was given a deck)
        assert done.returncode == 2
        assert done.stderr.startswith(f"jobdeck: {path}: {message}"), done.stderr


def test_a_symlink_to_a_jobs_json_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_bytes(TWO_JOBS)
    (tmp_path / "jobs.json").symlink_to("real.json")
    assert run_cli("validate", str(tmp_path / "jobs.json"), timeout=20).returncode == 0


def test_a_runner_whose_jobs_json_turns_into_a_fifo_keeps_its_spec_and_does_not_block(deck: Deck) -> None:
    source = SpecSource(deck.spec_path)
    source.refresh()
    good = source.current
    deck.spec_path.unlink()
    os.mkfifo(deck.spec_path)
    reader = threading.Thread(target=source.refresh, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # blocked in open(): a writer end releases it
        os.close(os.open(deck.spec_path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("reading a FIFO jobs.json blocked")
    assert source.current is good
    assert source.error is not None and "is not a regular file (it is a FIFO)" in str(source.error)
