"""The cooldown race made deterministic, for the tests of an attempt that meets every model cooling after its
claim: the attempt reads its prompt from its dependency's output, a FIFO, so it waits there once its claim has
passed every gate; the test opens the cooldown (as another runner's breaker would), then lets the attempt go on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping

from conftest import cli_env
from jobdeck.state.board import open_store
from jobdeck.state.deck import Deck
from tests.functional.runner_kit import wait_for

JOBS = [{"id": "source", "command": ["true"]},
        {"id": "ask", "agent": "ai", "prompt": "{{deps.source}}", "depends_on": ["source"],
         "retry": {"max_attempts": 1}}]
"""``ask`` (an llm job of agent ``ai``) reads its prompt from ``source``'s output (made a FIFO by ``held_source``)."""


def held_source(deck: Deck) -> Deck:
    """Record ``source`` as run once before, its output a FIFO no one writes yet: ``ask``'s attempt waits there."""
    with open_store(deck) as store:
        store.commit([{"type": "claimed", "job": "source", "attempt": 1, "runner": "past"}])
        store.commit([{"type": "succeeded", "job": "source", "token": store.board.state("source").token}])
    output = deck.attempt_dir("default", "source", 1) / "output"
    output.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(output)
    return deck


def lose_the_race(deck: Deck, env: Mapping[str, str], open_cooldown: Callable[[], float],
                  prompt: bytes = b"say hi") -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `jobdeck run --once` on ``deck``, whose job reads ``source``'s first output (a FIFO) as its prompt;
    once the attempt waits on it, call ``open_cooldown`` (it returns the cooldown's end), give the attempt
    ``prompt`` and let the run end. Returns the run and the cooldown's end."""
    output = deck.attempt_dir("default", "source", 1) / "output"
    runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--once"], cwd=deck.root,
                              env=cli_env(dict(env)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def reader_waits() -> int | None:  # the attempt opened the FIFO: claimed, past every gate
            try:
                return os.open(output, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return None
        fd = wait_for(reader_waits, timeout=60, what="the attempt to read its prompt")
        until = open_cooldown()
        plain = output.with_name("output.plain")
        plain.write_bytes(prompt)
        os.replace(plain, output)  # the next attempt reads a plain file; this one still holds the FIFO
        os.write(fd, prompt)
        os.close(fd)
        out, err = runner.communicate(timeout=90)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    return subprocess.CompletedProcess(runner.args, runner.returncode, out, err), until
