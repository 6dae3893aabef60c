"""Whether the cockpit has a terminal to draw on (no Textual here: `jobdeck demo` asks before it builds a deck).

Without one (cron, a pipe, `< /dev/null`), Textual would write its escape codes
into the file and wait for keys that never come: the cockpit refuses instead.
"""

from __future__ import annotations

import os

from jobdeck.state.errors import JobdeckError


def need_terminal(hint: str) -> None:
    """Raise JobdeckError (exit 2) unless standard input and output are both a terminal."""
    for name, fd in (("input", 0), ("output", 1)):
        try:
            ok = os.isatty(fd)
        except OSError:
            ok = False
        if not ok:
            raise JobdeckError(f"the cockpit needs a terminal, and standard {name} is not one", hint=hint)
