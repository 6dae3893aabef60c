"""`e` and `o` hand the terminal to $EDITOR and $PAGER, and the cockpit takes it back even when they fail.

Textual's headless driver cannot suspend, so these run the real cockpit on a
pseudo-terminal: an editor that exits non-zero (vim's ``:cq``) or a pager that
does not exist used to leave it off its screen, the keys echoed, until ^C.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from conftest import cli_env
from cockpit_decks import NOW, new_deck, run

CONTROL = re.compile(rb"\x1b\[[0-9;?<>$]*[A-Za-z]")
"""A control sequence (colour, cursor position): what is left between them is the text drawn."""
ENTER_SCREEN, LEAVE_SCREEN = b"\x1b[?1049h", b"\x1b[?1049l"
"""What the cockpit writes as it takes the terminal (the alternate screen) and as it hands it over."""


class Terminal:
    """`jobdeck cockpit` on an 80x24 pseudo-terminal: what it has written so far, and keys typed at it."""

    def __init__(self, deck: Path, env: dict[str, str]) -> None:
        self.master, side = pty.openpty()
        fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.cockpit = subprocess.Popen([sys.executable, "-m", "jobdeck", "cockpit"], cwd=deck,
                                        env={**cli_env(env), "TERM": "xterm-256color"}, stdin=side, stdout=side,
                                        stderr=side, start_new_session=True)
        os.close(side)
        self.seen = b""

    def wait_for(self, what: bytes, *, after: int = 0, timeout: float = 30) -> int:
        """Read until ``what`` is written past offset ``after``; where it starts."""
        deadline = time.monotonic() + timeout
        while (found := self.seen.find(what, after)) < 0:
            assert time.monotonic() < deadline, f"no {what!r} on the terminal: ...{self.seen[-600:]!r}"
            assert self._read(), f"the cockpit ended ({self.cockpit.returncode}): ...{self.seen[-600:]!r}"
        return found

    def wait_for_text(self, text: bytes, *, after: int, timeout: float = 10) -> None:
        """Read until ``text`` is drawn, on one row, past offset ``after``."""
        deadline = time.monotonic() + timeout
        while text not in (drawn := CONTROL.sub(b"", self.seen[after:])):
            assert time.monotonic() < deadline, f"{text!r} not drawn: ...{drawn[-600:]!r}"
            assert self._read(), f"the cockpit ended ({self.cockpit.returncode}): ...{drawn[-600:]!r}"

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def quits_with_q(self) -> int:
        self.type(b"q")
        deadline = time.monotonic() + 20
        while self.cockpit.poll() is None and self._read():
            assert time.monotonic() < deadline, f"q did not quit the cockpit: ...{self.seen[-600:]!r}"
        return self.cockpit.wait()

    def _read(self) -> bool:
        """Read what the cockpit wrote meanwhile; False once it is gone (and the terminal with it)."""
        if select.select([self.master], [], [], 0.2)[0]:
            try:
                self.seen += os.read(self.master, 65536)
            except OSError:
                self.cockpit.wait(timeout=20)
                return False
        return True

    def close(self) -> None:
        os.close(self.master)
        if self.cockpit.poll() is None:
            self.cockpit.kill()
            self.cockpit.wait()


def _deck(tmp_path: Path) -> Path:
    deck = new_deck(tmp_path / "deck", [{"id": "hello", "title": "Say hello", "command": ["echo", "hello"]}])
    run(deck, "hello", NOW - 60, 1.0, output="hello from the job\n")
    return deck.root


def _handed_back_after(terminal: Terminal, key: bytes, said: bytes) -> None:
    """Type ``key`` on the board, once the deck is read; the cockpit hands the terminal over, takes it back and
    says ``said``."""
    board = terminal.wait_for(b"no runner")  # (the status bar said "reading the deck" until then)
    terminal.type(key)
    left = terminal.wait_for(LEAVE_SCREEN, after=board)
    back = terminal.wait_for(ENTER_SCREEN, after=left, timeout=15)
    terminal.wait_for_text(said, after=back)
    assert terminal.quits_with_q() == 0  # the keys reach the cockpit again


@pytest.mark.parametrize(("env", "key", "said"), [
    ({"EDITOR": "false"}, b"e", b"exited with"),  # an editor that exits non-zero (vim's :cq)
    ({"PAGER": "nosuchpager"}, b"o", b"'nosuchpager'"),  # a pager that cannot run
], ids=["editor-fails", "pager-missing"])
def test_a_program_that_fails_gives_the_board_back_with_an_error_toast(tmp_path: Path, env: dict[str, str],
                                                                        key: bytes, said: bytes) -> None:
    terminal = Terminal(_deck(tmp_path), env)
    try:
        _handed_back_after(terminal, key, said)
    finally:
        terminal.close()


def test_ctrl_c_typed_in_the_pager_is_the_pagers_and_the_cockpit_carries_on(tmp_path: Path) -> None:
    """^C in less (a search stopped) reached the cockpit too, on a terminal no longer raw: it quit once less did."""
    pager = tmp_path / "pager"
    pager.write_text("#!/bin/sh\ntrap '' INT\nkill -INT 0\ncat >/dev/null\n")  # ^C to its group, as a terminal sends it
    pager.chmod(0o755)
    terminal = Terminal(_deck(tmp_path), {"PAGER": str(pager)})
    try:
        board = terminal.wait_for(b"no runner")
        terminal.type(b"o")
        left = terminal.wait_for(LEAVE_SCREEN, after=board)
        back = terminal.wait_for(ENTER_SCREEN, after=left, timeout=15)
        terminal.wait_for_text(b"Say hello", after=back)
        assert terminal.quits_with_q() == 0
    finally:
        terminal.close()
