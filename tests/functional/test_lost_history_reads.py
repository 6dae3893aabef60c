"""A log moved or emptied by an outside logrotate: reading commands say the history is lost, as writes do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.functional.runner_kit import jobdeck, make_deck


@pytest.mark.parametrize("how", ["rename and create", "copytruncate"])
def test_reads_on_a_log_emptied_beside_earlier_attempts_refuse_in_one_line(tmp_path: Path, how: str) -> None:
    deck = make_deck(tmp_path, [{"id": "a", "command": ["echo", "hi"]}])
    jobdeck(deck, "run", "--once", check=True)
    log = deck / ".jobdeck" / "events.jsonl"
    if how == "rename and create":
        log.rename(log.with_name("events.jsonl.1"))
        log.touch()
    else:
        shutil.copyfile(log, log.with_name("events.jsonl.1"))
        log.write_bytes(b"")
    for command in (["ls"], ["ls", "--json"], ["show", "a"], ["logs", "a"], ["stats"], ["events"],
                    ["events", "--json", "-n", "5"], ["events", "a"]):
        result = jobdeck(deck, *command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "the deck's history is lost" in lines[0], (command, result.stderr)
        assert "runs/a/1" in lines[0] and "put the log back" in lines[0]
