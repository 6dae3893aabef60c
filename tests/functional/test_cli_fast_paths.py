"""Everyday commands read a jobs.json the loader already accepted without pydantic, and never a stale one."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import RunCli, cli_env
from jobdeck.state.deck import Deck

COMMANDS = [["ls"], ["pause", "hello"], ["resume", "hello"], ["logs", "hello"], ["events", "hello"], ["stats", "hello"]]


def modules_loaded_by(deck: Deck, argv: list[str]) -> tuple[int, list[str]]:
    code = (f"import contextlib, io, json, sys\nfrom jobdeck.cli.main import main\n"
            f"with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):\n    rc = main({argv!r})\n"
            f"print(json.dumps([rc, sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'croniter', 'rich'))]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=deck.root, env=cli_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    rc, heavy = json.loads(done.stdout)
    return rc, heavy


def test_a_validated_jobs_json_is_read_without_pydantic(deck: Deck, cli: RunCli) -> None:
    assert cli("run", "--once", cwd=deck.root).returncode == 0  # validates jobs.json in full, once
    for argv in COMMANDS:
        rc, heavy = modules_loaded_by(deck, argv)
        assert rc == 0, argv
        assert heavy == [], f"`jobdeck {' '.join(argv)}` imported {heavy[:3]}"


def test_an_edited_jobs_json_is_validated_again_before_it_is_used(deck: Deck, cli: RunCli) -> None:
    assert cli("ls", cwd=deck.root).returncode == 0
    spec = json.loads(deck.spec_path.read_text())
    spec["jobs"][0]["comand"] = ["typo"]
    deck.spec_path.write_text(json.dumps(spec))
    for argv in (["pause", "hello"], ["logs", "hello"], ["ls"]):
        done = cli(*argv, cwd=deck.root)
        assert done.returncode == 1 and "unknown field" in done.stderr, (argv, done.stderr)
    assert b"paused" not in (deck.events_path.read_bytes() if deck.events_path.exists() else b"")
