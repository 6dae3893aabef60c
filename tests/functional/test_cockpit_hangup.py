"""A cockpit whose terminal goes away quits, as `q` does, instead of spinning on its input.

Started in a session of its own (as under `setsid`, or some terminal multiplexers),
it gets no SIGHUP when the terminal closes; its input thread then reads nothing
in a loop, a core busy for ever, unless the cockpit notices the hang-up.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from conftest import cli_env


def test_a_cockpit_whose_terminal_closes_quits(tmp_path: Path) -> None:
    deck = tmp_path / "deck"
    deck.mkdir()
    (deck / "jobs.json").write_text(json.dumps({"jobs": [{"id": "hello", "command": ["true"]}]}))
    master, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    cockpit = subprocess.Popen([sys.executable, "-m", "jobdeck", "cockpit"], cwd=deck,
                               env={**cli_env(), "TERM": "xterm-256color"}, stdin=side, stdout=side, stderr=side,
                               start_new_session=True)
    os.close(side)
    seen, deadline = b"", time.monotonic() + 60
    while b"hello" not in seen:  # the board is up
        assert time.monotonic() < deadline, seen[-500:]
        if select.select([master], [], [], 1)[0]:
            seen += os.read(master, 65536)
    os.close(master)  # the terminal goes away
    try:
        cockpit.wait(timeout=15)  # it quits (what it exits with, nobody is left to see)
    finally:
        if cockpit.poll() is None:
            cockpit.kill()
