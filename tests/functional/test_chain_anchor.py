"""The chain's promise: edits anywhere are caught, and so are records cut off its end or history rewritten
with recomputed hashes, up to the position board.json recorded (see docs/RELIABILITY.md)."""

from __future__ import annotations

import json

from conftest import RunCli
from jobdeck.state.deck import Deck
from jobdeck.state.events import GENESIS, record_hash


def ran(deck: Deck, cli: RunCli) -> list[bytes]:
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    return deck.events_path.read_bytes().splitlines(keepends=True)


def test_removing_the_last_record_is_caught_by_verify_ls_and_run(deck: Deck, cli: RunCli) -> None:
    lines = ran(deck, cli)
    deck.events_path.write_bytes(b"".join(lines[:-1]))
    audit = cli("audit", "verify", cwd=deck.root)
    assert audit.returncode == 1 and "removed from its end" in audit.stderr
    (deck.state_dir / "cards.jsonl").unlink(missing_ok=True)
    listed = cli("ls", cwd=deck.root)
    assert listed.returncode == 0 and "no longer holds the record board.json saw" in listed.stderr
    run = cli("run", "--once", "--quiet", cwd=deck.root)
    assert "no longer holds the record board.json saw" in run.stderr


def test_history_rewritten_with_recomputed_hashes_is_caught(deck: Deck, cli: RunCli) -> None:
    lines = ran(deck, cli)
    prev, rewritten = GENESIS, []
    for line in lines:
        record = json.loads(line)
        if record.get("type") == "succeeded":
            record["exit_code"] = 0 if record.get("exit_code") else 1  # a forged outcome
        body = {k: v for k, v in record.items() if k not in ("hash", "prev")}
        body["prev"] = prev
        record = {**body, "hash": record_hash(prev, body)}
        prev = record["hash"]
        rewritten.append((json.dumps(record, separators=(",", ":")) + "\n").encode())
    deck.events_path.write_bytes(b"".join(rewritten))
    audit = cli("audit", "verify", cwd=deck.root)
    assert audit.returncode == 1 and "history was rewritten" in audit.stderr
