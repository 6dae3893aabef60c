"""A pipe that stops a runner when the process that started it ends, however it ends.

`jobdeck demo` runs a runner in the background while the cockpit is open. Killed
(SIGHUP as an SSH session drops, SIGTERM, SIGKILL), the demo never reaches the
code that stops its runner, which would run on unseen. So it hands the runner
the read end of a pipe (``$JOBDECK_LIFELINE_FD``) and keeps the write end: the
kernel closes that when the demo exits, whatever the cause, and the runner,
reading end of file, stops as on SIGTERM. ``PR_SET_PDEATHSIG`` would be
Linux-only, and fires when the forking thread ends rather than the process.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, MutableMapping

ENV = "JOBDECK_LIFELINE_FD"
"""The environment variable that names the read end's descriptor in the runner."""
STOPPED_BY = "parent exit"
"""What the runner's ``stopping`` record says stopped it."""


def hand_out() -> tuple[int, int]:
    """A new lifeline: (read end, for the child's ``pass_fds`` and ``ENV``; write end, kept open by the parent)."""
    return os.pipe()  # both ends non-inheritable: only pass_fds hands the read end to the child


def take(environ: MutableMapping[str, str]) -> int | None:
    """The lifeline's descriptor, removed from ``environ`` (attempts get the runner's environment); None: none."""
    value = environ.pop(ENV, None)
    if value is None or not value.isdigit():
        return None
    return int(value)


def watch(fd: int, on_end: Callable[[], None]) -> None:
    """Call ``on_end`` (once, on the running loop) when every write end of the pipe ``fd`` is closed.

    Raises OSError when ``fd`` is not an open descriptor.
    """
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    os.set_inheritable(fd, False)  # the runner's attempts have no business with it

    def readable() -> None:
        try:
            if os.read(fd, 512):
                return  # the parent wrote something: it is still there
        except BlockingIOError:
            return
        except OSError:  # (EIO and the like: the parent's end is as good as gone)
            pass
        loop.remove_reader(fd)
        os.close(fd)
        on_end()

    loop.add_reader(fd, readable)
