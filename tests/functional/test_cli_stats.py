"""`jobdeck stats`: what the rollups say, for people and for jq."""

from __future__ import annotations

import json

from conftest import RunCli
from jobdeck.state.deck import Deck


def test_stats_after_a_run(deck: Deck, cli: RunCli) -> None:
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    report = json.loads(cli("stats", "--json", cwd=deck.root).stdout)
    assert [row["id"] for row in report["jobs"]] == ["hello", "world"]
    assert all(row["ended"] == 1 and row["failure_rate"] == 0 and row["p50"] is not None for row in report["jobs"])
    assert report["days"][-1]["succeeded"] == 2 and report["failed_last_hour"] == 0
    table = cli("stats", "hello", cwd=deck.root).stdout
    assert table.splitlines()[0].split() == ["JOB", "RUNS", "FAILED", "P50", "P90", "COST", "LAST"]
    assert table.splitlines()[1].split()[:3] == ["hello", "1", "0%"]
    unknown = cli("stats", "nope", cwd=deck.root)
    assert unknown.returncode == 1 and "no job 'nope'" in unknown.stderr


def test_logs_reads_an_attempt_older_than_the_board_keeps(deck: Deck, cli: RunCli) -> None:
    from jobdeck.state.board import open_store
    from jobdeck.state.machine import ATTEMPTS_KEPT

    with open_store(deck) as store:
        for _ in range(ATTEMPTS_KEPT + 3):
            attempt = store.board.state("hello").next_attempt
            store.commit([{"type": "claimed", "job": "hello", "attempt": attempt, "runner": "r"}])
            store.commit([{"type": "failed", "job": "hello", "token": store.board.state("hello").token,
                           "reason": "exit_code", "retry_at": 0.0}])
            directory = deck.attempt_dir("default", "hello", attempt)
            directory.mkdir(parents=True)
            (directory / "output").write_text(f"attempt {attempt}\n")
    assert cli("logs", "hello", "--attempt", "2", cwd=deck.root).stdout == "attempt 2\n"
    assert cli("logs", "hello", cwd=deck.root).stdout == f"attempt {ATTEMPTS_KEPT + 3}\n"
    missing = cli("logs", "hello", "--attempt", "99", cwd=deck.root)
    assert missing.returncode == 2 and f"its latest attempts are 4-{ATTEMPTS_KEPT + 3}" in missing.stderr


def test_show_reads_the_newest_records_of_a_job_back_from_the_end(deck: Deck, cli: RunCli) -> None:
    from jobdeck.state.board import open_store

    with open_store(deck) as store:  # hello's records, with world's in between
        for n in range(40):
            store.commit([{"type": "paused", "job": "hello", "by": f"op{n}"}])
            store.commit([{"type": "resumed", "job": "hello", "by": f"op{n}"}])
            store.commit([{"type": "paused", "job": "world", "by": "other"}])
            store.commit([{"type": "resumed", "job": "world", "by": "other"}])
    shown = json.loads(cli("show", "hello", "--json", cwd=deck.root).stdout)
    assert len(shown["chain"]) == 30 and shown["chain_complete"] is False
    assert [r["by"] for r in shown["chain"][-2:]] == ["op39", "op39"] and {r["job"] for r in shown["chain"]} == {"hello"}
    whole = json.loads(cli("show", "hello", "--json", "--chain", "0", cwd=deck.root).stdout)
    assert len(whole["chain"]) == 80 and whole["chain_complete"] is True
    assert whole["chain"][-30:] == shown["chain"]
    text = cli("show", "hello", cwd=deck.root).stdout
    assert "older records of hello" in text
    assert cli("log", "compact", cwd=deck.root).returncode == 0  # the records now sit in a gzip segment
    with open_store(deck) as store:
        store.commit([{"type": "paused", "job": "hello", "by": "after"}])
    across = json.loads(cli("show", "hello", "--json", cwd=deck.root).stdout)
    assert across["chain"] == shown["chain"][1:] + [across["chain"][-1]] and across["chain"][-1]["by"] == "after"
