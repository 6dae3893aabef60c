"""A private tmux server for tests that type into a real terminal, and waiting on what it shows."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def private_tmux(name: str) -> Iterator[Callable[..., str]]:
    """``run("send-keys", ...)`` on a tmux server of its own (``-L``), killed at the end."""
    socket = f"jobdeck-{name}-{uuid.uuid4().hex[:8]}"

    def run(*args: str) -> str:
        return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30).stdout

    try:
        yield run
    finally:
        run("kill-server")


def wait_for(condition: Callable[[], object], what: str, screen: Callable[[], str], timeout: float = 60.0) -> None:
    """Poll ``condition`` until true; on timeout, fail with ``what`` and the screen as it is."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen()}")
        time.sleep(0.05)
