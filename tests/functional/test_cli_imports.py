"""Everyday commands on an accepted jobs.json do not import dataclasses (nor the inspect it pulls in).

Importing ``dataclasses`` loads ``inspect``, ``ast``, ``dis``, ``tokenize``... about 7 ms, plus
each decorated class: a tenth of what `jobdeck show` costs. The state those commands read
(board, rollups, segments, loader, actions) is made of NamedTuples and plain classes instead.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import RunCli, cli_env
from jobdeck.state.deck import Deck

SLOW = ("dataclasses", "inspect")

# add last: it changes jobs.json (and marks the result accepted)
COMMANDS = [["show", "hello"], ["logs", "hello"], ["pause", "hello"], ["resume", "hello"], ["validate"],
            ["add", "--id", "extra", "--", "true"]]


def slow_modules_loaded_by(deck: Deck, argv: list[str]) -> tuple[int, list[str]]:
    """Run ``jobdeck ARGV`` in a fresh interpreter; its exit code and which of SLOW it imported."""
    code = (f"import contextlib, io, json, sys\nfrom jobdeck.cli.main import main\n"
            f"with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):\n    rc = main({argv!r})\n"
            f"print(json.dumps([rc, sorted(m for m in sys.modules if m in {SLOW!r})]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=deck.root, env=cli_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    rc, slow = json.loads(done.stdout)
    return rc, slow


@pytest.fixture
def accepted(deck: Deck, cli: RunCli) -> Deck:
    """A deck whose jobs.json the loader accepted, with a history to fold (both jobs ran)."""
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    assert cli("ls", cwd=deck.root).returncode == 0
    return deck


def test_everyday_commands_do_not_import_dataclasses(accepted: Deck) -> None:
    for argv in COMMANDS:
        rc, slow = slow_modules_loaded_by(accepted, argv)
        assert rc == 0, argv
        assert slow == [], f"`jobdeck {' '.join(argv)}` imported {slow}"
