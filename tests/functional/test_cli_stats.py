"""`jobdeck stats`: what the history says, for people and for jq."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import RunCli
from jobdeck.state.deck import Deck


def test_stats_after_a_run(deck: Deck, cli: RunCli) -> None:
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    report = json.loads(cli("stats", "--json", cwd=deck.root).stdout)
    assert [row["id"] for row in report["jobs"]] == ["hello", "world"]
    assert all(row["ended"] == 1 and row["failure_rate"] == 0 and row["p50"] is not None for row in report["jobs"])
    assert report["days"][-1]["succeeded"] == 2 and report["failed_last_hour"] == 0
    table = cli("stats", "hello", cwd=deck.root).stdout.splitlines()
    assert table[0] == "all history"
    assert table[1].split()[:4] == ["SCOPE", "RUNS", "OK", "WAIT"]
    assert table[2].split()[:3] == ["deck", "2", "100%"] and table[4].split()[:3] == ["hello", "1", "100%"]
    unknown = cli("stats", "nope", cwd=deck.root)
    assert unknown.returncode == 1 and "no job 'nope'" in unknown.stderr


def test_stats_json_is_the_same_from_the_fold_and_from_its_cache(deck: Deck, cli: RunCli) -> None:
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    folded = cli("stats", "--json", cwd=deck.root).stdout  # folds the log, leaves stats-cache.json
    assert (deck.state_dir / "stats-cache.json").exists()
    assert cli("stats", "--json", cwd=deck.root).stdout == folded  # it used to come back rounded to the ms


def test_stats_cost_is_the_same_from_the_fold_and_from_its_cache(deck: Deck, cli: RunCli) -> None:
    """25 attempts at $0.0000015 cost $0.0000375, a rounding boundary of the report's 6 decimals: summed as
    floats the fold came to just above it ($0.000038) and the cache, rounding that to 9 digits, to just below
    ($0.000037). Tallies count whole picodollars, so the report no longer depends on whether a cache existed."""
    from jobdeck.state.board import open_store
    from jobdeck.state.stats_cache import cache_path

    cost, attempts = 0.0000015, 25
    as_floats = 0.0
    for _ in range(attempts):
        as_floats += cost
    assert round(as_floats, 6) != round(round(as_floats, 9), 6)  # what the float fold and its cache printed
    start = (int(time.time() // 3600) - 3) * 3600  # the attempts spread over the three hours before this one
    with open_store(deck) as store:
        for n in range(attempts):
            at = start + n * 400
            if n:
                store.commit([{"type": "retried", "job": "hello", "by": "op"}], now=at - 10)
            store.commit([{"type": "claimed", "job": "hello", "attempt": store.board.state("hello").next_attempt,
                           "runner": "r"}], now=at)
            store.commit([{"type": "succeeded", "job": "hello", "token": store.board.state("hello").token,
                           "model": "m1", "cost": cost, "usage": {"total_tokens": 10}}], now=at + 60)
    cache = cache_path(deck)
    reports = []
    for window in ((), ("--since", f"{int(time.time() - (start + 5400))}s")):  # all history, then a window
        cache.unlink(missing_ok=True)
        folded = cli("--deck", str(deck.root), "stats", "--json", *window)  # no cache: folds the log, writes one
        assert folded.returncode == 0, folded.stderr
        assert cache.exists()
        from_cache = cli("--deck", str(deck.root), "stats", "--json", *window)
        assert from_cache.returncode == 0, from_cache.stderr
        report, again = json.loads(folded.stdout), json.loads(from_cache.stdout)
        if window:  # since: the moment each call was asked
            del report["since"], again["since"]
        assert again == report, window
        reports.append(report)
    whole = reports[0]["deck"]
    exact = 0.000037  # $0.0000375 rounded to 6 places from the float nearest it, which lies just below
    assert whole["runs"] == attempts and whole["cost"] == exact
    assert whole["models"] == {"m1": {"runs": attempts, "tokens": 10 * attempts, "cost": exact}}
    assert reports[1]["deck"]["runs"] == attempts - 9  # the window leaves out the first hour's nine


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
    assert missing.returncode == 1 and f"its latest attempts are 4-{ATTEMPTS_KEPT + 3}" in missing.stderr


def test_logs_finds_an_old_attempt_in_the_workspace_the_job_ran_in_then(deck: Deck, cli: RunCli) -> None:
    from jobdeck.state.board import open_store
    from jobdeck.state.machine import ATTEMPTS_KEPT

    with open_store(deck) as store:
        for _ in range(ATTEMPTS_KEPT + 3):
            attempt = store.board.state("hello").next_attempt
            workspace = "before" if attempt <= 3 else "default"  # jobs.json moved the job after attempt 3
            store.commit([{"type": "claimed", "job": "hello", "attempt": attempt, "runner": "r",
                           "workspace": workspace}])
            store.commit([{"type": "failed", "job": "hello", "token": store.board.state("hello").token,
                           "reason": "exit_code", "retry_at": 0.0}])
            directory = deck.attempt_dir(workspace, "hello", attempt)
            directory.mkdir(parents=True)
            (directory / "output").write_text(f"attempt {attempt} in {workspace}\n")
    assert cli("logs", "hello", "--attempt", "2", cwd=deck.root).stdout == "attempt 2 in before\n"
    assert cli("logs", "hello", "--attempt", "4", cwd=deck.root).stdout == "attempt 4 in default\n"


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


# -- the history behind `stats --since`: a deck whose every record is placed by hand -------------

def build_history(deck: Deck, boundary: float) -> None:
    """Records at chosen times around ``boundary``, the top of the hour a 2h window starts in.

    Hand count, inside the window: six ended attempts (succeeded 3, failed 1 on
    idle_timeout, cancelled 1, interrupted 1), waits 1 s then 100 s five times,
    run times 100, 400, 100 s, one automatic retry, two rate-limit hits, one
    cooldown and one call skipped for it, 115 tokens and $0.75 on two models,
    four interventions (retried 3, cancelled 1), one deadline met and one
    missed. Outside it, one second before the boundary: hello's first attempt,
    failed on exit_code.
    """
    from jobdeck.state.board import open_store

    b = boundary
    with open_store(deck) as store:
        def at(ts: float, **event: Any) -> None:
            if "token" in event and event["token"] is None:
                event["token"] = store.board.state(event["job"]).token
            store.commit([event], now=ts)

        def claim(ts: float, job: str, **extra: Any) -> None:
            at(ts, type="claimed", job=job, attempt=store.board.state(job).next_attempt, runner="r", **extra)

        at(b - 600, type="triggered", job="hello", by="alice")
        claim(b - 590, "hello")
        at(b - 1, type="failed", job="hello", token=None, reason="exit_code", retry_at=b + 5)
        claim(b, "hello")  # on the boundary: inside
        at(b + 10, type="progress", job="hello", token=None, what="retry", model="m1", reason="rate_limit: slow down")
        at(b + 11, type="progress", job="hello", token=None, what="cooldown", model="m1",
           reason="rate_limit: slow down; skipped for 30s")
        at(b + 12, type="progress", job="hello", token=None, what="cooldown", model="m1",
           reason="skipped: cooling down for 29s more after rate_limit")
        at(b + 100, type="succeeded", job="hello", token=None, model="m1", cost=0.5, usage={"total_tokens": 100})
        at(b + 150, type="decided", job="world", mode="live", action="start", deadline=b + 1000)
        at(b + 200, type="triggered", job="world", by="bob")
        claim(b + 300, "world", workspace="ops")
        at(b + 400, type="failed", job="world", token=None, reason="idle_timeout", retry_at=b + 450)
        claim(b + 500, "world", workspace="ops")
        at(b + 900, type="succeeded", job="world", token=None, model="m2", cost=0.25,
           usage={"prompt_tokens": 10, "completion_tokens": 5})
        at(b + 1000, type="retried", job="hello", by="alice")
        claim(b + 1100, "hello")
        at(b + 1200, type="cancelled", job="hello", by="bob")
        at(b + 1210, type="failed", job="hello", token=None, reason="cancelled")
        at(b + 1300, type="retried", job="hello", by="alice")
        at(b + 1310, type="decided", job="hello", mode="live", action="start", deadline=b + 1350)
        claim(b + 1400, "hello")
        at(b + 1500, type="succeeded", job="hello", token=None)
        at(b + 1600, type="retried", job="world", by="carol")
        claim(b + 1700, "world", workspace="ops")
        at(b + 1800, type="interrupted", job="world", token=None, reason="the runner stopped")


def two_hour_window() -> float:
    """The top of the hour two hours back: where ``--since window_from(it)`` begins for the next half hour."""
    return (int(time.time() // 3600) - 2) * 3600


def window_from(boundary: float) -> str:
    """A ``--since`` reaching to the middle of the hour that begins at ``boundary``, in seconds."""
    return f"{int(time.time() - (boundary + 1800))}s"


def stats_json(cli: RunCli, deck: Deck, *args: str) -> dict[str, Any]:
    done = cli("stats", "--json", *args, cwd=deck.root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_stats_since_agrees_with_a_hand_count_at_the_window_boundary(deck: Deck, cli: RunCli) -> None:
    boundary = two_hour_window()
    build_history(deck, boundary)
    report = stats_json(cli, deck, "--since", window_from(boundary))
    assert report["from"] == boundary
    whole = report["deck"]
    assert whole["runs"] == 6
    assert whole["outcomes"] == {"cancelled": 1, "failed": 1, "interrupted": 1, "succeeded": 3}
    assert whole["success_rate"] == 0.5
    assert whole["failures"] == {"idle_timeout": 1, "interrupted": 1}
    assert whole["retries"] == 1 and whole["rate_limits"] == 2
    assert whole["cooldowns"] == 1 and whole["cooldown_skips"] == 1
    assert whole["tokens"] == 115 and whole["cost"] == 0.75
    assert whole["models"] == {"m1": {"runs": 1, "tokens": 100, "cost": 0.5},
                               "m2": {"runs": 1, "tokens": 15, "cost": 0.25}}
    assert whole["interventions"] == {"cancelled": 1, "retried": 3}
    assert whole["interventions_per_100_runs"] == 66.67
    assert whole["deadlines"] == {"met": 1, "missed": 1, "adherence": 0.5}
    assert whole["wait_p50"] == pytest.approx(100, rel=0.1) and whole["wait_p95"] == pytest.approx(100, rel=0.1)
    assert whole["run_p50"] == pytest.approx(100, rel=0.1) and whole["run_p95"] == pytest.approx(400, rel=0.1)
    hello, world = report["jobs"]
    assert (hello["id"], hello["runs"], hello["outcomes"]) == ("hello", 3, {"cancelled": 1, "succeeded": 2})
    assert hello["wait_p50"] == pytest.approx(100, rel=0.1) and hello["deadlines"]["missed"] == 1
    assert (world["id"], world["runs"], world["failures"]) == ("world", 3, {"idle_timeout": 1, "interrupted": 1})
    assert world["deadlines"] == {"met": 1, "missed": 0, "adherence": 1.0}
    assert [(w["workspace"], w["runs"]) for w in report["workspaces"]] == [("default", 3), ("ops", 3)]

    everything = stats_json(cli, deck)  # one second before the boundary: hello's first attempt, failed
    assert everything["from"] is None and everything["deck"]["runs"] == 7
    assert everything["deck"]["failures"] == {"exit": 1, "idle_timeout": 1, "interrupted": 1}
    assert everything["deck"]["retries"] == 2

    table = cli("stats", "--since", window_from(boundary), cwd=deck.root).stdout.splitlines()
    assert table[1].split()[:3] == ["SCOPE", "RUNS", "OK"]
    assert table[2].split()[:3] == ["deck", "6", "50%"]
    assert "operators stepped in 4 times (cancelled 1, retried 3): 66.67 per 100 runs" in table
    assert "deadlines: 1 of 2 met (50%), 1 missed" in table
    # a window with none is not a deck with none: 7 attempts ended before it
    assert cli("stats", "--since", "1h", cwd=deck.root).stdout.splitlines()[1] == "no attempt ended in this window"
    assert cli("stats", "--since", "3600", cwd=deck.root).stdout.splitlines()[1] == "no attempt ended in this window"


def add_runs_to_the_cached_total(cache: Path, runs: int) -> bytes:
    """Add ``runs`` to the deck's total in the stats cache, as no log holds it; the new header line."""
    header, _, lines = cache.read_bytes().partition(b"\n")
    doctored = json.loads(header)
    doctored["history"]["total"]["deck"]["runs"] += runs
    for _ in range(2):
        doctored["bytes"] = len(json.dumps(doctored, separators=(",", ":"))) + 1 + len(lines)
    header = json.dumps(doctored, separators=(",", ":")).encode()
    cache.write_bytes(header + b"\n" + lines)
    return header


def test_stats_folds_only_what_was_appended_and_never_trusts_a_cache_over_the_log(deck: Deck, cli: RunCli,
                                                                                  tmp_path: Path) -> None:
    from jobdeck.state.board import open_store
    from jobdeck.state.stats_cache import cache_path

    boundary = two_hour_window()
    build_history(deck, boundary)
    first = stats_json(cli, deck, "--since", window_from(boundary))
    cache = cache_path(deck)
    assert cache.stat().st_mode & 0o777 == 0o600

    # a doctored count the log does not hold shows through: the cache is read, not the log folded again
    header = add_runs_to_the_cached_total(cache, 1000)
    assert stats_json(cli, deck)["deck"]["runs"] == 1007

    # what is appended next is folded on top (the window's hours are the log's)
    with open_store(deck) as store:
        store.commit([{"type": "retried", "job": "world", "by": "carol"}], now=boundary + 2000)
        store.commit([{"type": "claimed", "job": "world", "attempt": 4, "runner": "r", "workspace": "ops"}],
                     now=boundary + 2100)
        store.commit([{"type": "succeeded", "job": "world", "token": store.board.state("world").token}],
                     now=boundary + 2200)
    grown = stats_json(cli, deck, "--since", window_from(boundary))
    assert grown["deck"]["runs"] == first["deck"]["runs"] + 1 == 7
    assert grown["deck"]["interventions"] == {"cancelled": 1, "retried": 4}
    assert stats_json(cli, deck)["deck"]["runs"] == 1008

    # a torn cache is folded again from the log
    cache.write_bytes(cache.read_bytes()[:len(header) // 2])
    assert stats_json(cli, deck)["deck"]["runs"] == 8
    refolded = stats_json(cli, deck, "--since", window_from(boundary))
    assert refolded.pop("since") and grown.pop("since") and refolded == grown  # (since: the moment asked)

    # a line damaged in place (the size unchanged) is found when read, and the log folded again
    data = cache.read_bytes()
    days_at = data.index(b"\n") + 1 + json.loads(data.partition(b"\n")[0])["hour_bytes"]
    last_hour = data.rindex(b"\t{", 0, days_at)  # the hour lines come first, then the days'
    cache.write_bytes(data[:last_hour + 1] + b"[" + data[last_hour + 2:])
    assert stats_json(cli, deck)["deck"]["runs"] == 8  # the daily totals read the last 7 days' hours
    assert b"\t[" not in cache.read_bytes()

    # a cache of another log (here: the same deck's, before its log was replaced) is not used
    old_cache = cache.read_bytes()
    for name in ("events.jsonl", "board.json", "stats-cache.json"):
        (deck.state_dir / name).unlink(missing_ok=True)
    shutil.rmtree(deck.workspaces_dir, ignore_errors=True)
    with open_store(deck) as store:
        store.commit([{"type": "claimed", "job": "hello", "attempt": 1, "runner": "r"}], now=boundary + 10)
        store.commit([{"type": "succeeded", "job": "hello", "token": store.board.state("hello").token}],
                     now=boundary + 20)
    cache.write_bytes(old_cache)
    replaced = stats_json(cli, deck, "--since", window_from(boundary))
    assert replaced["deck"]["runs"] == 1 and replaced["deck"]["outcomes"] == {"succeeded": 1}
    assert cache.read_bytes() != old_cache


def test_a_cache_from_before_a_rotation_and_a_compaction_folds_on_from_the_closed_segment(deck: Deck,
                                                                                         cli: RunCli) -> None:
    from jobdeck.state.board import open_store
    from jobdeck.state.stats_cache import cache_path

    boundary = two_hour_window()
    build_history(deck, boundary)
    assert stats_json(cli, deck)["deck"]["runs"] == 7
    folded_at = json.loads(add_runs_to_the_cached_total(cache_path(deck), 1000))["events"]
    with open_store(deck) as store:
        store.commit([{"type": "retried", "job": "world", "by": "carol"}], now=boundary + 2000)
    assert cli("log", "compact", cwd=deck.root).returncode == 0  # closes the live file as a gzipped segment
    with open_store(deck) as store:
        store.commit([{"type": "claimed", "job": "world", "attempt": 4, "runner": "r", "workspace": "ops"}],
                     now=boundary + 2100)
        store.commit([{"type": "succeeded", "job": "world", "token": store.board.state("world").token}],
                     now=boundary + 2200)
    assert list((deck.state_dir / "log").glob("*.gz"))
    assert stats_json(cli, deck)["deck"]["runs"] == 1008  # the cache was read on from its closed segment
    resumed = stats_json(cli, deck, "--since", window_from(boundary))
    moved_to = json.loads(cache_path(deck).read_bytes().partition(b"\n")[0])["events"]
    assert moved_to["segment"] != folded_at["segment"] and moved_to["seq"] > folded_at["seq"]
    cache_path(deck).unlink()
    cold = stats_json(cli, deck, "--since", window_from(boundary))
    assert resumed.pop("since") and cold.pop("since") and resumed == cold
    assert cold["deck"]["runs"] == 7 and cold["deck"]["interventions"] == {"cancelled": 1, "retried": 4}
