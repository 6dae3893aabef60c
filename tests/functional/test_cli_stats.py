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
