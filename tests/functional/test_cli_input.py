"""Bad command-line input gets one clear line and the documented exit code, and changes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import RunCli
from jobdeck.state.deck import Deck, init_deck


@pytest.mark.parametrize("argv, expected", [
    (["run", "--once", "--parallel", "-5"], "'-5' must be at least 1"),
    (["run", "--once", "--parallel", "0"], "'0' must be at least 1"),
    (["run", "--once", "--grace", "-1"], "must be a finite number of seconds"),
    (["run", "--once", "--grace", "nan"], "must be a finite number of seconds"),
    (["ls", "--status", "bogus"], "unknown status 'bogus'"),
    (["ls", "--status", "done,bogus"], "unknown status 'bogus'"),
    (["logs", "hello", "--attempt", "0"], "'0' must be at least 1"),
    (["events", "-n", "-1"], "'-1' must be at least 1"),
    (["show", "hello", "--chain", "-1"], "'-1' must be 0 or more"),
])
def test_bad_arguments_are_usage_errors(deck: Deck, cli: RunCli, argv: list[str], expected: str) -> None:
    done = cli(*argv, cwd=deck.root, timeout=20)  # --parallel -5 used to hang: the timeout catches it
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_an_action_on_several_ids_applies_none_when_one_is_unknown(deck: Deck, cli: RunCli) -> None:
    done = cli("pause", "hello", "nope", cwd=deck.root)
    assert done.returncode == 1
    assert "no job 'nope'" in done.stderr and "nothing was done" in done.stderr
    assert not deck.events_path.exists() or b"paused" not in deck.events_path.read_bytes()


def test_events_of_an_unknown_job_is_an_error(deck: Deck, cli: RunCli) -> None:
    done = cli("events", "nojob", cwd=deck.root)
    assert done.returncode == 1 and "no job 'nojob'" in done.stderr
    assert cli("events", "hello", cwd=deck.root).returncode == 0


def test_init_honours_deck(tmp_path: Path, cli: RunCli) -> None:
    target = tmp_path / "made-by-flag"
    done = cli("--deck", str(target), "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (target / "jobs.json").is_file() and not (tmp_path / "jobs.json").exists()
    both = cli("--deck", str(tmp_path / "one"), "init", str(tmp_path / "two"), cwd=tmp_path)
    assert both.returncode == 2 and "two places for the new deck" in both.stderr
    assert not (tmp_path / "one").exists() and not (tmp_path / "two").exists()


def test_a_mistyped_id_is_answered_with_the_job_it_was_likely_meant_as(deck: Deck, cli: RunCli) -> None:
    """Every command that looks a job up says which declared id is close, as validate does for dependencies."""
    for argv in (["show", "helo"], ["logs", "Hello"], ["why", "helo"], ["pause", "helo"], ["rm", "helo"],
                 ["events", "helo"], ["run", "--job", "helo"]):
        done = cli(*argv, cwd=deck.root)
        assert done.returncode == 1, (argv, done.stderr)
        assert done.stderr.rstrip().endswith("(hint: did you mean 'hello'?)"), (argv, done.stderr)
    several = cli("pause", "helo", "wrld", "zzz", cwd=deck.root)
    assert several.stderr.rstrip().endswith("(hint: did you mean 'hello' for 'helo', 'world' for 'wrld'?)")
    far = cli("show", "zzz", cwd=deck.root)
    assert far.stderr.rstrip().endswith("(hint: see `jobdeck ls` for the ids)")


def test_cancel_says_what_starts_a_scheduled_or_inbox_job_again(tmp_path: Path, cli: RunCli) -> None:
    """A cancel ends the cycle; the next fire or inbox file starts another, which the operator is told."""
    deck = init_deck(tmp_path / "deck", json.dumps({"jobs": [
        {"id": "hourly", "command": ["true"], "schedule": "0 * * * *", "timezone": "Asia/Kolkata"},
        {"id": "ingest", "command": ["true"], "trigger": "*.csv"},
        {"id": "plain", "command": ["true"]}]}).encode())
    done = cli("cancel", "hourly", "ingest", "plain", cwd=deck.root)
    assert done.returncode == 0 and done.stdout.splitlines() == [
        "cancelled hourly (event 1)", "cancelled ingest (event 2)", "cancelled plain (event 3)"]
    hourly, ingest = done.stderr.splitlines()  # (no line for plain: nothing starts it again)
    assert re.fullmatch(r"jobdeck: hourly: its schedule starts the next cycle at \d\d:00 Asia/Kolkata "
                        r"\(hint: `jobdeck pause hourly` keeps it from starting\)", hourly), hourly
    assert ingest == ("jobdeck: ingest: a file matching *.csv in its inbox starts the next cycle "
                      "(hint: `jobdeck pause ingest` keeps it from starting)")


def test_validate_of_a_file_that_is_not_there_is_a_usage_error_about_the_path(tmp_path: Path, cli: RunCli) -> None:
    done = cli("validate", str(tmp_path / "nope.json"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (f"jobdeck: {tmp_path / 'nope.json'}: no such file (hint: check the path; without FILE, "
                           "validate checks the jobs.json of the deck)\n")
    folder = cli("validate", str(tmp_path), cwd=tmp_path)  # a deck's directory for its jobs.json: the path, too
    assert folder.returncode == 2 and folder.stderr.startswith(f"jobdeck: {tmp_path}: is a directory, not a file "
                                                                f"(hint: give the path of a jobs.json file, e.g. "
                                                                f"{tmp_path / 'jobs.json'};"), folder.stderr
    required = cli("audit", cwd=tmp_path)  # the usage line's name for the argument, not its dest
    assert required.returncode == 2 and required.stderr.endswith("the following arguments are required: {verify}\n")
    paused = init_deck(tmp_path / "paused", json.dumps({"jobs": [
        {"id": "hourly", "command": ["true"], "schedule": "0 * * * *", "paused": True}]}).encode())
    quiet = cli("cancel", "hourly", cwd=paused.root)  # paused: no fire starts it, no hint to pause it
    assert quiet.returncode == 0 and quiet.stderr == ""
