"""The attempt lease as recovery reads it: a flock on stderr.log, or an older jobdeck's lease file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobdeck.runner.attempt import lease_held, open_attempt
from jobdeck.state.deck import init_deck

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@contextmanager
def held_by_another_process(path: Path) -> Iterator[None]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.communicate("")


def test_the_lease_is_the_flock_on_stderr_log(tmp_path: Path) -> None:
    deck = init_deck(tmp_path / "deck", b'{"jobs": [{"id": "j", "command": ["true"]}]}')
    directory, directory_fd, lease, output, _ = open_attempt(deck, "j", "default", 1)
    assert sorted(p.name for p in directory.iterdir()) == ["output", "stderr.log"]
    assert lease_held(directory)  # our own descriptor, as another runner's recovery sees it
    assert lease_held(directory_fd)
    os.close(lease)
    os.close(output)
    assert not lease_held(directory_fd)
    os.close(directory_fd)
    assert not lease_held(directory)
    with held_by_another_process(directory / "stderr.log"):
        assert lease_held(directory)
    assert not lease_held(directory)


def test_an_older_attempt_is_judged_by_its_lease_file(tmp_path: Path) -> None:
    directory = tmp_path / "1"
    directory.mkdir()
    (directory / "lease").write_text("{}")
    (directory / "stderr.log").write_text("a line its child wrote\n")  # nobody locks this one
    with held_by_another_process(directory / "lease"):
        assert lease_held(directory)
    assert not lease_held(directory)


def test_no_lease_file_is_no_lease(tmp_path: Path) -> None:
    assert not lease_held(tmp_path)
