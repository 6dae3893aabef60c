"""Run the jobdeck CLI, stopped (SIGSTOP) just before it first opens a file of a given name.

Usage: ``JOBDECK_STOP_ON_OPEN=NAME python -m tests.functional.stop_on_open ARGS...`` (the
arguments of ``jobdeck``). An audit hook sees every ``open`` (``open()``, ``os.open``,
gzip's) before it happens; on the first whose file name is NAME the process stops
itself, so a test can change the deck at exactly that step (rotate, compact) and
SIGCONT it, instead of hoping a race goes its way.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def _install(name: str) -> None:
    hit = False

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal hit
        if event == "open" and not hit and isinstance(args[0], (str, bytes, os.PathLike)) \
                and os.path.basename(os.fsdecode(args[0])) == name:
            hit = True
            os.kill(os.getpid(), signal.SIGSTOP)

    sys.addaudithook(hook)


def stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped by a signal (state T in /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0] == "T"


if __name__ == "__main__":
    _install(os.environ["JOBDECK_STOP_ON_OPEN"])
    from jobdeck.cli.main import main

    sys.exit(main(sys.argv[1:]))
