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


def _deck(tmp_path: Path) -> Path:
    deck = tmp_path / "deck"
    deck.mkdir()
    (deck / "jobs.json").write_text(json.dumps({"jobs": [{"id": "hello", "command": ["true"]}]}))
    return deck


def _cockpit_on_a_terminal(deck: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """`jobdeck cockpit` on an 80x24 pseudo-terminal, in a session of its own, once its board is up."""
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
    return master, cockpit


def test_a_cockpit_whose_terminal_closes_quits(tmp_path: Path) -> None:
    master, cockpit = _cockpit_on_a_terminal(_deck(tmp_path))
    os.close(master)  # the terminal goes away
    try:
        cockpit.wait(timeout=15)  # it quits (what it exits with, nobody is left to see)
    finally:
        if cockpit.poll() is None:
            cockpit.kill()


def _rest(master: int, proc: subprocess.Popen[bytes]) -> bytes:
    """What the terminal gets until the process ends."""
    seen, deadline = b"", time.monotonic() + 30
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    return seen


def test_sigterm_and_ctrl_c_quit_the_cockpit_as_q_does_and_give_the_terminal_back(tmp_path: Path) -> None:
    """`kill` (a service stop, `timeout`) used to end it at once: alternate screen, mouse reporting and a hidden
    cursor were left on the operator's terminal. ^C only said to press ctrl+q."""
    deck = _deck(tmp_path)
    for how, code in (("SIGTERM", 143), ("ctrl+c", 0)):
        master, cockpit = _cockpit_on_a_terminal(deck)
        try:
            if how == "SIGTERM":
                cockpit.terminate()
            else:
                os.write(master, b"\x03")
            restored = _rest(master, cockpit)
            assert cockpit.wait(timeout=15) == code, how
            for sequence in (b"\x1b[?1049l", b"\x1b[?1000l", b"\x1b[?25h"):  # screen, mouse, cursor given back
                assert sequence in restored, (how, sequence, restored[-300:])
        finally:
            os.close(master)
            if cockpit.poll() is None:
                cockpit.kill()


def test_the_cockpit_and_the_demo_refuse_without_a_terminal(tmp_path: Path) -> None:
    """From cron or a pipe, Textual wrote escape codes into the file and waited for keys forever."""
    deck = _deck(tmp_path)
    for command, hint in ((["cockpit"], "`jobdeck ls --json`"), (["demo", "d"], "`jobdeck demo --headless`")):
        done = subprocess.run([sys.executable, "-m", "jobdeck", *command], cwd=deck, env=cli_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        assert done.returncode == 2 and done.stdout == b"", (command, done.stdout[:300])
        said = done.stderr.decode()
        assert said.startswith("jobdeck: the cockpit needs a terminal, and standard input is not one") and hint in said
    assert not (deck / "d").exists()  # the demo made no deck, started no runner
