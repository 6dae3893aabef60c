"""A reader that goes away before jobdeck's last output is flushed (`jobdeck decisions --json | head -1`) is not an
error: exit 0, nothing on stderr. The race is made certain: the command's output stays in Python's buffer (stdout
buffered, as it is without PYTHONUNBUFFERED), and the pipe's only reader closes after the command returned, before
the exit flushes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.runner_kit import env_for, make_deck

READER_GONE_BEFORE_EXIT = """
import os, sys
from jobdeck.cli import main

assert not sys.stdout.line_buffering and hasattr(sys.stdout.buffer, "raw"), "stdout must be buffered"
read_end, write_end = os.pipe()
os.dup2(write_end, 1)
os.close(write_end)
command = main._run

def run_then_reader_goes(*args, **kwargs):
    result = command(*args, **kwargs)
    os.close(read_end)  # the reader leaves with the command's output still in sys.stdout's buffer
    return result

main._run = run_then_reader_goes
main.console()
"""


@pytest.mark.parametrize("command", [["status"], ["stats", "--json"], ["ls"]])
def test_a_reader_gone_before_the_exit_flush_is_not_an_error(tmp_path: Path, command: list[str]) -> None:
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}])
    env = {name: value for name, value in env_for(deck).items() if name != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-c", READER_GONE_BEFORE_EXIT, *command], cwd=deck, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
