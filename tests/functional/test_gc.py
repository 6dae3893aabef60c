"""`jobdeck gc`: retention applied to real attempt directories, through no link, surviving kill -9."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import shlex
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RunCli
from jobdeck.state.deck import Deck, init_deck
from tests.fixtures.unprivileged import User, unprivileged
from tests.functional.runner_kit import wait_for

JOBS = {"retention": {"keep_attempts": 1}, "jobs": [
    {"id": "up", "command": ["sh", "-c", "echo up $JOBDECK_ATTEMPT"]},
    {"id": "down", "command": ["sh", "-c", "cat \"$JOBDECK_INPUT_UP\""], "depends_on": ["up"]},
]}


def make_deck(tmp_path: Path, cli: RunCli, rounds: int = 4) -> Deck:
    """A deck where ``up`` and ``down`` each ran ``rounds`` times."""
    deck = init_deck(tmp_path / "deck", json.dumps(JOBS).encode())
    for n in range(rounds):
        if n:
            assert cli("--deck", str(deck.root), "retry", "up", "down").returncode == 0
        done = cli("--deck", str(deck.root), "run", "--once", "--quiet")
        assert done.returncode == 0, done.stderr
    return deck


def attempts(deck: Deck, job: str) -> list[str]:
    return sorted(os.listdir(deck.job_runs_dir("default", job)))


def gc_records(deck: Deck) -> list[dict[str, Any]]:
    """The ``gc`` records in the deck's chain of work."""
    lines = deck.events_path.read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["type"] == "gc"]


def test_a_gc_that_removed_something_says_so_in_the_chain_of_work(tmp_path: Path, cli: RunCli) -> None:
    """What went, how much it freed, the rules that let it go, who ran it: one record, and one line in `events`."""
    deck = make_deck(tmp_path, cli)
    assert cli("--deck", str(deck.root), "gc", "--dry-run").returncode == 0
    assert gc_records(deck) == []  # a dry run decides nothing
    done = cli("--deck", str(deck.root), "gc", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    [record] = gc_records(deck)
    assert record["seq"] == report["recorded"]
    assert (record["by"], record["via"]) == (f"{getpass.getuser()}@{os.uname().nodename}", "cli")
    assert (record["removed"], record["bytes_freed"]) == (6, report["bytes_freed"])
    assert record["attempts"] == ["down/1", "down/2", "down/3", "up/1", "up/2", "up/3"]
    assert record["reasons"] == ["not among the last attempt"]
    assert "more" not in record and "finished" not in record
    shown = cli("--deck", str(deck.root), "events", "--limit", "1")
    assert shown.stdout.count("\n") == 1
    assert " gc by=" in shown.stdout and " removed=6 bytes_freed=" in shown.stdout, shown.stdout
    attempts = cli("--deck", str(deck.root), "show", "up").stdout.split("\nattempts\n")[1].splitlines()[1:5]
    assert [row.split()[0] for row in attempts] == ["1", "2", "3", "4"], attempts
    assert [row.endswith("(removed)") for row in attempts] == [True, True, True, False], attempts  # no path to nothing

    again = cli("--deck", str(deck.root), "gc", "--json")  # nothing left to remove: nothing to say
    assert json.loads(again.stdout)["recorded"] is None
    assert len(gc_records(deck)) == 1
    assert cli("--deck", str(deck.root), "audit", "verify").returncode == 0


def test_dry_run_removes_nothing_and_gc_removes_what_the_policy_lets_go(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path, cli)
    before = attempts(deck, "up")
    dry = cli("--deck", str(deck.root), "gc", "--dry-run", "--json", "--verbose")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert [(item["job"], item["attempt"]) for item in report["removed"]] == [
        ("down", 1), ("down", 2), ("down", 3), ("up", 1), ("up", 2), ("up", 3)]
    # what `du` would say the six directories take: their blocks, not their files' lengths (a few bytes each)
    du = subprocess.run(["du", "-s", "--block-size=1", *(str(deck.job_runs_dir("default", job) / n)
                                                        for job in ("down", "up") for n in ("1", "2", "3"))],
                        capture_output=True, text=True, check=True)
    assert report["bytes_freed"] == sum(int(line.split()[0]) for line in du.stdout.splitlines()) > 6 * 4096
    assert attempts(deck, "up") == before == ["1", "2", "3", "4"]

    done = cli("--deck", str(deck.root), "gc")
    assert done.returncode == 0, done.stderr
    assert "removed default/runs/up/1  (not among the last attempt" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("removed 6 attempt directories, ")
    assert attempts(deck, "up") == attempts(deck, "down") == ["4"]

    logs = cli("--deck", str(deck.root), "logs", "up", "--attempt", "2")
    assert logs.returncode == 1  # no such output, as for an attempt that never was: the answer is no
    assert logs.stderr.splitlines() == [
        "jobdeck: attempt 2 of job 'up' was removed by retention (`jobdeck gc`) (hint: its record stays: "
        "see `jobdeck show up`)"]

    # The deck runs on: the next attempt gets a new number, no removed directory comes back.
    assert cli("--deck", str(deck.root), "retry", "up", "down").returncode == 0
    assert cli("--deck", str(deck.root), "run", "--once", "--quiet").returncode == 0
    assert attempts(deck, "up") == attempts(deck, "down") == ["4", "5"]
    assert (deck.attempt_dir("default", "down", 5) / "output").read_text() == "up 5\n"
    assert cli("--deck", str(deck.root), "audit", "verify").returncode == 0


def test_a_dependents_input_and_the_review_queue_stay(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path, cli, rounds=2)
    spec = dict(JOBS, jobs=[dict(JOBS["jobs"][0], command=["sh", "-c", "exit 3"]), JOBS["jobs"][1]])
    deck.spec_path.write_text(json.dumps(spec))
    assert cli("--deck", str(deck.root), "retry", "up").returncode == 0
    assert cli("--deck", str(deck.root), "run", "--once", "--quiet").returncode == 1  # up/3 fails
    done = cli("--deck", str(deck.root), "gc", "--verbose")
    assert "kept default/runs/up/2  (the output 'down' is given)" in done.stdout
    assert attempts(deck, "up") == ["2", "3"]


def test_gc_follows_no_link_planted_among_runs(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path, cli, rounds=3)
    outside = tmp_path / "outside"
    (outside / "1").mkdir(parents=True)
    (outside / "1" / "precious").write_text("keep me")
    (outside / "precious").write_text("keep me too")
    runs = deck.workspace_dir("default") / "runs"
    os.symlink(outside, runs / "stranger")  # a job directory that is a link
    os.symlink(outside / "1", runs / "up" / "0")  # an attempt directory that is a link
    os.symlink(outside / "precious", deck.attempt_dir("default", "up", 1) / "planted")  # a link inside an attempt
    os.symlink(outside, deck.attempt_dir("default", "up", 2) / "planted-dir")

    done = cli("--deck", str(deck.root), "gc")
    assert done.returncode == 0, done.stderr
    assert attempts(deck, "up") == ["0", "3"]
    assert (outside / "1" / "precious").read_text() == "keep me"
    assert (outside / "precious").read_text() == "keep me too"
    assert sorted(os.listdir(outside)) == ["1", "precious"]


def test_a_kill_during_gc_leaves_a_deck_the_next_gc_completes(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path, cli)
    killed = cli("--deck", str(deck.root), "gc", env={"JOBDECK_CRASH_AT": "gc.renamed:2"})
    assert killed.returncode == -signal.SIGKILL
    # down/1 and down/2 became tombstones; nothing else was touched
    assert attempts(deck, "down") == [".gc-1", ".gc-2", "3", "4"]
    assert attempts(deck, "up") == ["1", "2", "3", "4"]
    logs = cli("--deck", str(deck.root), "logs", "down", "--attempt", "2")
    assert (logs.returncode, logs.stderr.splitlines()) == (2, [
        "jobdeck: attempt 2 of job 'down' is partly removed: a `jobdeck gc` began removing it and has not finished "
        f"(what is left is in {deck.job_runs_dir('default', 'down') / '.gc-2'}) (hint: run `jobdeck gc` again to "
        "finish it (it says why if it cannot); its record stays: see `jobdeck show down`)"])

    assert gc_records(deck) == []  # killed before it had removed anything
    done = cli("--deck", str(deck.root), "gc", "--json")
    report = json.loads(done.stdout)
    assert report["tombstones_finished"] == 2
    assert attempts(deck, "down") == attempts(deck, "up") == ["4"]
    [record] = gc_records(deck)  # the next one's record counts what it finished
    assert (record["removed"], record["finished"]) == (4, 2)
    assert record["attempts"] == ["down/3", "up/1", "up/2", "up/3"]

    assert cli("--deck", str(deck.root), "retry", "up", "down").returncode == 0
    assert cli("--deck", str(deck.root), "run", "--once", "--quiet").returncode == 0
    assert attempts(deck, "up") == attempts(deck, "down") == ["4", "5"]
    assert cli("--deck", str(deck.root), "audit", "verify").returncode == 0


def test_without_a_policy_nothing_is_removed(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path, cli, rounds=2)
    deck.spec_path.write_text(json.dumps({"jobs": JOBS["jobs"]}))
    done = cli("--deck", str(deck.root), "gc")
    assert done.returncode == 0
    assert "no retention policy in jobs.json" in done.stdout
    assert attempts(deck, "up") == ["1", "2"]


def test_the_long_running_runner_applies_an_automatic_policy(tmp_path: Path, cli: RunCli) -> None:
    from tests.functional.runner_kit import wait_for
    from tests.torture.kit import reports, start_runner, stop

    deck = make_deck(tmp_path, cli, rounds=3)
    deck.spec_path.write_text(json.dumps(dict(JOBS, retention={"keep_attempts": 1, "auto": True})))
    printed = tmp_path / "runner.jsonl"
    with printed.open("w") as stdout:
        runner = start_runner(deck.root, stdout=stdout)

    def printed_gc() -> list[dict[str, Any]]:  # (printed once the record is in the log)
        return [line for line in reports(printed) if line["type"] == "gc"]

    try:
        [said] = wait_for(printed_gc, timeout=30, what="the runner's gc")
    finally:
        stop(runner)
    assert runner.returncode == 0
    assert attempts(deck, "up") == attempts(deck, "down") == ["3"]
    [record] = gc_records(deck)
    started = next(line for line in reports(printed) if line["type"] == "runner_started")
    assert (record["by"], record["via"]) == (started["runner"], "runner")  # the runner's retention.auto
    assert record["attempts"] == ["down/1", "down/2", "up/1", "up/2"] and record["removed"] == 4
    assert said == {**record, "errors": []}  # its printout is the record it wrote
    assert cli("--deck", str(deck.root), "audit", "verify").returncode == 0


def test_directories_the_fast_path_set_aside_go_by_the_same_policy(tmp_path: Path, cli: RunCli) -> None:
    spec = {"retention": {"keep_attempts": 1}, "jobs": [
        {"id": "up", "command": ["sh", "-c", "echo up $JOBDECK_ATTEMPT"], "idempotent": True}]}
    deck = init_deck(tmp_path / "deck", json.dumps(spec).encode())
    assert cli("--deck", str(deck.root), "run", "--once", "--quiet").returncode == 0
    # attempt 2 as an early claim lost to a power cut leaves it: output written, no claim in the log
    lost = deck.attempt_dir("default", "up", 2)
    lost.mkdir()
    (lost / "stderr.log").write_text("")
    (lost / "output").write_text("partial\n")
    for _ in range(2):
        assert cli("--deck", str(deck.root), "retry", "up").returncode == 0
        assert cli("--deck", str(deck.root), "run", "--once", "--quiet").returncode == 0
    aside = [name for name in attempts(deck, "up") if ".lost-" in name]
    assert len(aside) == 1 and aside[0].startswith("2.lost-"), attempts(deck, "up")

    dry = json.loads(cli("--deck", str(deck.root), "gc", "--dry-run", "--json").stdout)
    assert [item["directory"] for item in dry["removed"]] == ["1", "2", aside[0]]
    done = cli("--deck", str(deck.root), "gc")
    assert done.returncode == 0, done.stderr
    assert f"removed default/runs/up/{aside[0]}  (not among the last attempt" in done.stdout
    assert attempts(deck, "up") == ["3"]
    assert cli("--deck", str(deck.root), "logs", "up").stdout == "up 3\n"


@pytest.fixture
def user_deck() -> Iterator[tuple[User, Path]]:
    """A deck owned by a user file modes apply to, where ``up`` and ``down`` each ran 3 times."""
    user = unprivileged()
    if user is None:
        pytest.skip("no Python the throwaway user may run (the suite's interpreter is not reachable to it)")
    with user.home() as home:
        root = home / "deck"
        root.mkdir()
        (root / "jobs.json").write_text(json.dumps(JOBS))
        user.own(root)
        for n in range(3):
            if n:
                assert user.jobdeck("retry", "up", "down", cwd=root).returncode == 0
            done = user.jobdeck("run", "--once", "--quiet", cwd=root)
            assert done.returncode == 0, done.stderr
        yield user, root


def test_an_attempt_gc_cannot_empty_exits_2_with_one_line_saying_how_to_mend_it(
        user_deck: tuple[User, Path]) -> None:
    user, root = user_deck
    runs = Deck(root).job_runs_dir("default", "up")
    (runs / "2").chmod(0o555)  # renamed to its tombstone, but its files cannot be removed
    tombstone = runs / ".gc-2"
    line = (f"jobdeck: could not remove {tombstone}: Permission denied (hint: make it writable, as its owner: "
            f"`chmod -R u+rwX {shlex.quote(str(tombstone))}`, then run `jobdeck gc` again)")

    done = user.jobdeck("gc", cwd=root)
    assert (done.returncode, done.stderr.splitlines()) == (2, [line])
    assert "removed default/runs/up/1  (not among the last attempt" in done.stdout
    assert sorted(os.listdir(runs)) == [".gc-2", "3"]
    logs = user.jobdeck("logs", "up", "--attempt", "2", cwd=root)
    assert logs.returncode == 2 and "is partly removed" in logs.stderr

    again = user.jobdeck("gc", "--json", cwd=root)
    assert (again.returncode, again.stderr.splitlines()) == (2, [line])
    assert json.loads(again.stdout)["errors"] == [{  # the same, for a script: full path, and how to mend it
        "path": str(tombstone), "why": "Permission denied",
        "hint": f"make it writable, as its owner: `chmod -R u+rwX {shlex.quote(str(tombstone))}`, then run "
                f"`jobdeck gc` again", "message": line.removeprefix("jobdeck: ")}]
    assert json.loads(again.stdout)["tombstones_finished"] == 0  # the one it could not remove is not finished

    assert user.run(shlex.split(line.split("`")[1]), cwd=root, timeout=30).returncode == 0  # the hint, as given
    mended = user.jobdeck("gc", cwd=root)
    assert (mended.returncode, mended.stderr) == (0, "")
    assert sorted(os.listdir(runs)) == ["3"]


def test_each_attempt_a_read_only_job_directory_keeps_is_a_line_of_its_own(user_deck: tuple[User, Path]) -> None:
    user, root = user_deck
    runs = Deck(root).job_runs_dir("default", "up")
    runs.chmod(0o500)  # no attempt of up can be renamed to its tombstone
    done = user.jobdeck("gc", cwd=root)
    assert (done.returncode, done.stderr.splitlines()) == (2, [
        f"jobdeck: could not remove {runs / str(n)}: Permission denied (hint: make it writable, as its owner: "
        f"`chmod u+rwx {shlex.quote(str(runs))}`, then run `jobdeck gc` again)" for n in (1, 2)])
    assert sorted(os.listdir(runs)) == ["1", "2", "3"]
    assert "removed 2 attempt directories" in done.stdout.splitlines()[-1]  # down's went


def test_the_runners_own_gc_names_what_it_cannot_remove_and_how_to_mend_it(user_deck: tuple[User, Path],
                                                                           tmp_path: Path) -> None:
    """The runner said only how many it could not remove: the full path and the fix were `jobdeck gc`'s."""
    user, root = user_deck
    (root / "jobs.json").write_text(json.dumps(dict(JOBS, retention={"keep_attempts": 1, "auto": True})))
    runs = Deck(root).job_runs_dir("default", "up")
    (runs / "2").chmod(0o555)  # renamed to its tombstone, but its files cannot be removed
    tombstone = runs / ".gc-2"
    stderr_path = tmp_path / "runner.stderr"
    with stderr_path.open("w") as stderr:
        runner = user.start(user.cli("run", "--quiet"), cwd=root, stderr=stderr)
    try:
        wait_for(lambda: "could not remove" in stderr_path.read_text(), timeout=60, what="the runner's gc")
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)
    [line] = [line for line in stderr_path.read_text().splitlines() if "could not remove" in line]
    assert " retention removed 3 attempt directories (" in line
    assert line.endswith(f"; could not remove {tombstone}: Permission denied (hint: make it writable, as its owner: "
                         f"`chmod -R u+rwX {shlex.quote(str(tombstone))}`, then run `jobdeck gc` again)"), line
    assert sorted(os.listdir(runs)) == [".gc-2", "3"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_gc_tells_its_progress_through_each_directory(tmp_path: Path, cli: RunCli, dry_run: bool) -> None:
    """Tens of thousands of directories take tens of seconds: the CLI shows this count on a terminal."""
    from jobdeck.state.board import open_store
    from jobdeck.state.gc import collect
    from jobdeck.state.loader import load_spec

    deck = make_deck(tmp_path, cli)
    told: list[tuple[int, int | None]] = []
    with open_store(deck) as store:
        report = collect(deck, store, load_spec(deck.spec_path).spec, 0.0, by="t", via="test", dry_run=dry_run,
                         progress=lambda done, total: told.append((done, total)))
    assert len(report.removed) == 6 and told == [(n, 6) for n in range(6)]
