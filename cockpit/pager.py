"""`o`: the selected job's latest output in $PAGER, made inert first.

The output is untrusted (a job may print terminal control sequences), and a
pager shown with ``LESS=-R`` would pass them to the terminal; so the pager reads
the output through ``state.terminal.Copier``, which strips them, on its stdin.
The pager runs with the terminal handed over (cockpit/handover.py).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from textual.app import App

from jobdeck.state.terminal import Copier

from jobdeck.cockpit.handover import handed_over


def pager_argv() -> list[str]:
    """$PAGER as an argv (no shell), else ``less``."""
    return shlex.split(os.environ.get("PAGER") or "") or ["less"]


def show_in_pager(app: App[object], path: Path, title: str) -> None:
    """Page ``path`` (inert) with $PAGER; a missing pager or file is a toast, not a traceback."""
    if not path.exists():
        app.notify(f"{title}: no output yet", severity="warning", timeout=3)
        return
    argv = pager_argv()

    def page() -> int:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE)
        assert process.stdin is not None
        try:
            copier = Copier(process.stdin, clean=True)
            copier.from_file(path, 0)
            copier.finish()
        except BrokenPipeError:  # the pager was quit before the end: not an error
            pass
        finally:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
        return process.wait()

    try:
        code = handed_over(app, page)
    except OSError as exc:
        app.notify(f"cannot run the pager {argv[0]!r}: {exc.strerror or exc} (set $PAGER)", severity="error")
        return
    if code:
        app.notify(f"the pager {argv[0]!r} exited {code}", severity="warning", timeout=3)
