"""A job's escape sequences never act on the operator's terminal: logs, show, run, events.

Each command runs on a real pseudo-terminal, as a person runs it, and then
through a pipe, as a script does. The job prints an OSC 52 clipboard write, an
OSC 2 title change and a cursor move, and a validator prints the same on stderr
(its message becomes the review reason).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from tests.functional.runner_kit import env_for, jobdeck, make_deck

HOSTILE = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]2;pwned\x07\x1b[2Jhello\x1b[31m red\n"
ACTIVE = (b"\x1b]52", b"\x1b]2;", b"\x1b[2J")
"""What must not reach a terminal: the sequences that would act."""


def on_a_terminal(deck: Path, *args: str) -> tuple[int, bytes]:
    """``jobdeck ARGS`` with its stdout and stderr on a pseudo-terminal; (exit code, what the terminal got)."""
    main, side = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "jobdeck", *args], cwd=deck, env=env_for(deck, TERM="xterm"),
                            stdin=subprocess.DEVNULL, stdout=side, stderr=side)
    os.close(side)
    received = bytearray()
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            proc.kill()
            raise AssertionError(f"jobdeck {' '.join(args)} printed nothing for 30 s")
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        received += chunk
    os.close(main)
    return proc.wait(30), bytes(received)


def hostile_deck(tmp_path: Path) -> Path:
    validator = tmp_path / "validator.py"
    validator.write_text(f"import sys\nsys.stderr.write({HOSTILE!r})\nsys.exit(1)\n")
    jobs = [
        {"id": "noisy", "command": ["printf", "%s", HOSTILE]},
        {"id": "judged", "command": ["echo", "ok"], "validate": {"command": [sys.executable, str(validator)]}},
    ]
    deck = make_deck(tmp_path, jobs)
    return deck


def test_a_jobs_escape_sequences_are_inert_on_a_terminal_and_kept_in_a_pipe(tmp_path: Path) -> None:
    deck = hostile_deck(tmp_path)
    code, printed = on_a_terminal(deck, "run", "--once")
    assert code == 1, printed  # judged goes to review
    assert b"judged needs review" in printed
    for sequence in ACTIVE:
        assert sequence not in printed, f"run printed {sequence!r} to the terminal"
    for argv in (["logs", "noisy"], ["show", "judged"], ["show", "noisy"], ["events"], ["ls"]):
        code, printed = on_a_terminal(deck, *argv)
        assert code == 0, printed
        for sequence in ACTIVE:
            assert sequence not in printed, f"jobdeck {' '.join(argv)} printed {sequence!r} to the terminal"
    _, printed = on_a_terminal(deck, "logs", "noisy")
    assert b"hello red" in printed  # the text stays, the sequences go
    # a script, or --raw, gets the bytes as the job wrote them
    assert jobdeck(deck, "logs", "noisy").stdout == HOSTILE
    _, printed = on_a_terminal(deck, "logs", "noisy", "--raw")
    assert HOSTILE.encode().replace(b"\n", b"\r\n") in printed  # the terminal's line discipline adds \r


def test_a_jobs_json_someone_else_wrote_is_judged_with_its_sequences_inert(tmp_path: Path) -> None:
    """`validate` is the command for a jobs.json you do not trust: an id is quoted, not played."""
    deck = tmp_path / "deck"
    deck.mkdir()
    (deck / "jobs.json").write_text('{"jobs": [{"id": "x\\u001b]2;pwned\\u0007\\u001b[2J", "command": ["true"]}]}')
    for argv in (["validate"], ["ls"], ["run", "--once"]):
        code, printed = on_a_terminal(deck, *argv)
        assert code == 1 and b"field 'id'" in printed, printed
        for sequence in ACTIVE:
            assert sequence not in printed, f"jobdeck {' '.join(argv)} printed {sequence!r} to the terminal"
        assert b"\\x1b]2;pwned" in printed
