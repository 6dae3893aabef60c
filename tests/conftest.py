"""Shared fixtures: a fresh deck in tmp_path, and the CLI run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from jobdeck.state.deck import Deck, init_deck

ROOT = Path(__file__).resolve().parent.parent

#: The smallest useful jobs.json: two shell jobs, one depending on the other.
TWO_JOBS = b"""{"jobs": [
  {"id": "hello", "command": ["echo", "hi"]},
  {"id": "world", "command": ["echo", "world"], "depends_on": ["hello"]}
]}
"""

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI subprocess: no inherited deck."""
    env = {k: v for k, v in os.environ.items() if k not in ("JOBDECK_DECK", "VISUAL", "EDITOR")}
    env.update(extra or {})
    return env


def run_cli(*args: str, cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
            input: str | None = None, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``jobdeck ARGS`` as ``python -m jobdeck`` and capture its text output."""
    return subprocess.run(
        [sys.executable, "-m", "jobdeck", *args],
        cwd=cwd or ROOT, env=cli_env(env), input=input if input is not None else "",
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def cli() -> RunCli:
    """``cli("ls", "--json", cwd=..., env=...)`` runs the real CLI in a subprocess."""
    return run_cli


@pytest.fixture
def deck(tmp_path: Path) -> Deck:
    """A fresh deck in tmp_path/deck whose jobs.json holds TWO_JOBS."""
    return init_deck(tmp_path / "deck", TWO_JOBS)


def records(deck: Deck) -> list[dict[str, Any]]:
    """Every record of the deck's chain of work, as stored."""
    return [json.loads(line) for line in deck.events_path.read_text().splitlines() if line.strip()]


@pytest.fixture
def server() -> Iterator[Any]:
    """A stand-in provider on 127.0.0.1 (tests/fixtures/llm_server.py), up for the test."""
    from tests.fixtures.llm_server import LLMServer

    with LLMServer() as running:
        yield running
