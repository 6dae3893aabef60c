"""The Prometheus textfile: written atomically by the runner, parsed back with prometheus_client's own parser."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from jobdeck.runner.metrics import TextfileWriter, snapshot
from jobdeck.state.board import Board
from jobdeck.state.deck import Deck
from tests.functional.runner_kit import jobdeck, make_deck, start_runner, wait_for


def parse(path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """metric sample name -> {labels: value}, as Prometheus' own parser reads the file."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_a_run_leaves_a_textfile_that_parses_and_counts_right(tmp_path: Path) -> None:
    jobs: list[dict[str, Any]] = [{"id": f"ok{n}", "command": ["true"]} for n in range(5)]
    jobs += [{"id": "bad", "command": ["false"]}, {"id": "pub", "command": ["true"], "review": "always"},
             {"id": "later", "command": ["true"], "depends_on": ["bad"]}]
    deck = make_deck(tmp_path, jobs, metrics={"textfile": "prom/jobdeck.prom"})
    (deck / "prom").mkdir()
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 1, result.stderr
    textfile = deck / "prom" / "jobdeck.prom"
    metrics = parse(textfile)
    assert metrics["jobdeck_jobs"] == {(("status", "backlog"),): 1, (("status", "cancelled"),): 0,
                                       (("status", "done"),): 5, (("status", "failed"),): 1,
                                       (("status", "review"),): 1, (("status", "running"),): 0}
    assert metrics["jobdeck_attempts_total"] == {(("outcome", "failed"),): 1, (("outcome", "succeeded"),): 6}
    assert metrics["jobdeck_attempt_duration_seconds_count"] == {(): 6}
    assert metrics["jobdeck_attempt_duration_seconds_bucket"][(("le", "+Inf"),)] == 6
    [beat] = metrics["jobdeck_runner_heartbeat_timestamp_seconds"].values()
    assert abs(beat - textfile.stat().st_mtime) < 30
    assert stat.S_IMODE(textfile.stat().st_mode) == 0o644  # node_exporter runs as another user
    assert [p.name for p in (deck / "prom").iterdir()] == ["jobdeck.prom"]  # no temp file left


def test_a_long_running_runner_rewrites_it(tmp_path: Path) -> None:
    marker = tmp_path / "go"
    waits = {"id": "waits", "command": ["sh", "-c", f"while [ ! -e {marker} ]; do sleep 0.05; done"]}
    deck = make_deck(tmp_path, [waits],
                     metrics={"textfile": str(tmp_path / "jobdeck.prom"), "every": "0.2s"})
    textfile = tmp_path / "jobdeck.prom"
    runner = start_runner(deck)
    try:
        wait_for(lambda: textfile.exists() and parse(textfile)["jobdeck_jobs"][(("status", "running"),)] == 1,
                 what="the textfile to show the job running")
        with open(textfile, "rb") as first:  # held open: its inode cannot be freed and given to a later file
            seen = first.read()
            marker.touch()
            wait_for(lambda: parse(textfile)["jobdeck_jobs"][(("status", "done"),)] == 1,
                     what="the job done in the file")
            assert os.fstat(first.fileno()).st_ino != textfile.stat().st_ino  # replaced by a rename,
            first.seek(0)
            assert first.read() == seen  # never rewritten in place
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)


def test_an_unwritable_place_is_one_line_and_the_runner_goes_on(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "ok", "command": ["true"]}],
                     metrics={"textfile": str(tmp_path / "missing" / "jobdeck.prom")})
    result = jobdeck(deck, "run", "--once")
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if "metrics textfile" in line]
    missing = tmp_path / "missing"
    assert len(lines) == 1 and lines[0].endswith(
        f"cannot write the metrics textfile {missing / 'jobdeck.prom'}: its directory {missing} does not exist "
        "(create it, or change metrics.textfile); trying again"), result.stderr


def test_status_and_textfile_agree_on_the_heartbeat(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "ok", "command": ["true"]}],
                     metrics={"textfile": str(tmp_path / "jobdeck.prom"), "every": "0.2s"})
    runner = start_runner(deck)
    try:
        textfile = tmp_path / "jobdeck.prom"
        wait_for(textfile.exists, what="the textfile")
        status = json.loads(jobdeck(deck, "status", "--json").stdout)
        [runner_id] = [r["id"] for r in status["runners"]]
        beats = parse(textfile)["jobdeck_runner_heartbeat_timestamp_seconds"]
        assert list(beats) == [(("runner", runner_id),)]
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)
    assert os.path.exists(tmp_path / "jobdeck.prom")


def at(seconds_from_now: float) -> str:
    """An absolute deadline, ``seconds_from_now`` away (negative: passed)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now))


def deadline_deck(tmp_path: Path, **top: Any) -> Path:
    """A shadow deck: report, paused, is past its deadline; quick meets its own; later and last wait to be resumed."""
    jobs: list[dict[str, Any]] = [{"id": "report", "command": ["true"], "paused": True, "deadline": at(-600)},
                                  {"id": "quick", "command": ["true"], "deadline": at(3600)},
                                  {"id": "later", "command": ["true"], "paused": True, "deadline": at(3600)},
                                  {"id": "last", "command": ["true"], "paused": True, "deadline": at(3600)}]
    return make_deck(tmp_path, jobs, decide={"mode": "shadow"}, **top)


def stats_deadlines(deck: Path) -> tuple[int, int]:
    told = json.loads(jobdeck(deck, "stats", "--json", check=True).stdout)["deck"]["deadlines"]
    return told["met"], told["missed"]


def test_the_runner_shows_the_deadlines_overdue_as_status_check_counts_them(tmp_path: Path) -> None:
    deck = deadline_deck(tmp_path, metrics={"textfile": "jobdeck.prom"})
    assert jobdeck(deck, "run", "--once").returncode == 0
    check = json.loads(jobdeck(deck, "status", "--check", "--json").stdout)
    assert [p["job"] for p in check["problems"] if p["kind"] == "deadline_missed"] == ["report"]
    assert parse(deck / "jobdeck.prom")["jobdeck_deadlines_overdue"] == {(): 1}
    jobdeck(deck, "resume", "report", check=True)
    assert jobdeck(deck, "run", "--once").returncode == 0  # done, late: no longer overdue
    assert parse(deck / "jobdeck.prom")["jobdeck_deadlines_overdue"] == {(): 0}


def test_deadlines_met_and_missed_are_counted_as_stats_counts_them_folding_only_what_the_log_gained(
        tmp_path: Path) -> None:
    deck = deadline_deck(tmp_path)
    textfile, cache = tmp_path / "jobdeck.prom", deck / ".jobdeck" / "stats-cache.json"
    writer = TextfileWriter(textfile, 15.0, deck=Deck(deck))
    assert jobdeck(deck, "run", "--once").returncode == 0  # quick met its deadline; report's passed, not run
    writer.write(snapshot(None, Board(), {}))  # no stats cache yet: the log folded from its start, the cache saved
    assert parse(textfile)["jobdeck_deadlines_total"] == {(("outcome", "met"),): 1, (("outcome", "missed"),): 1}
    assert cache.exists() and stats_deadlines(deck) == (1, 1)

    jobdeck(deck, "resume", "later", check=True)
    assert jobdeck(deck, "run", "--once").returncode == 0
    cache.write_text("not a cache")  # a count that read it (or folded the log again, and saved) would show
    writer.write(snapshot(None, Board(), {}))
    assert parse(textfile)["jobdeck_deadlines_total"] == {(("outcome", "met"),): 2, (("outcome", "missed"),): 1}
    assert cache.read_text() == "not a cache"  # only the records appended since the last write were folded

    totals = deck / ".jobdeck" / "stats-totals.json"
    assert 0 < totals.stat().st_size < 16_384, "the totals alone: no hours, no days"
    fresh = TextfileWriter(textfile, 15.0, deck=Deck(deck))  # a new runner: from the totals, the cache unread
    jobdeck(deck, "resume", "last", check=True)
    assert jobdeck(deck, "run", "--once").returncode == 0
    fresh.write(snapshot(None, Board(), {}))
    assert parse(textfile)["jobdeck_deadlines_total"] == {(("outcome", "met"),): 3, (("outcome", "missed"),): 1}
    assert cache.read_text() == "not a cache"
    assert stats_deadlines(deck) == (3, 1)  # (stats mends the cache)

    totals.unlink()  # a runner of a deck whose totals are gone: from the stats cache, which holds
    TextfileWriter(textfile, 15.0, deck=Deck(deck)).write(snapshot(None, Board(), {}))
    assert parse(textfile)["jobdeck_deadlines_total"] == {(("outcome", "met"),): 3, (("outcome", "missed"),): 1}
    assert totals.exists()


def test_every_runner_counts_deadlines_met_and_missed_as_stats_does(tmp_path: Path) -> None:
    """A run --once from cron and a long-running runner alike: each starts from the totals the last one kept."""
    deck = deadline_deck(tmp_path, metrics={"textfile": "jobdeck.prom"})
    assert jobdeck(deck, "run", "--once").returncode == 0
    once = parse(deck / "jobdeck.prom")
    assert once["jobdeck_deadlines_total"] == {(("outcome", "met"),): 1, (("outcome", "missed"),): 1}
    assert "jobdeck_deadlines_overdue" in once
    jobdeck(deck, "resume", "later", check=True)
    assert jobdeck(deck, "run", "--once").returncode == 0
    assert parse(deck / "jobdeck.prom")["jobdeck_deadlines_total"] == {(("outcome", "met"),): 2,
                                                                       (("outcome", "missed"),): 1}
    jobdeck(deck, "resume", "last", check=True)
    runner = start_runner(deck)
    try:
        wait_for(lambda: parse(deck / "jobdeck.prom").get("jobdeck_deadlines_total", {}).get(
            (("outcome", "met"),)) == 3, what="the counters")
        assert parse(deck / "jobdeck.prom")["jobdeck_deadlines_total"] == {(("outcome", "met"),): 3,
                                                                           (("outcome", "missed"),): 1}
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)
    assert stats_deadlines(deck) == (3, 1)
