"""What ``{{input}}`` holds in each kind of run, with the real runner, and the decks refused for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import RunCli
from jobdeck.state.deck import Deck, init_deck


def make_deck(tmp_path: Path, jobs: list[dict[str, Any]]) -> Deck:
    return init_deck(tmp_path / "deck", json.dumps({"jobs": jobs}).encode())


def test_one_dependency_gives_its_output_text(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path, [{"id": "fetch", "command": ["printf", "rows"]},
                                {"id": "sum", "command": ["echo", "got {{input}}"], "depends_on": ["fetch"]}])
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert cli("logs", "sum", cwd=deck.root).stdout == "got rows\n"


def test_an_inbox_file_gives_its_path_and_trigger_input_its_value(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path, [{"id": "load", "command": ["echo", "{{input}}"], "trigger": "*.csv"}])
    inbox = deck.root / "workspaces" / "default" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "leads.csv").write_text("a,b\n")
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    path = cli("logs", "load", cwd=deck.root).stdout.strip()
    assert Path(path).name == "leads.csv" and Path(path).read_text() == "a,b\n", path
    assert cli("trigger", "load", "--input", "input=/data/late.csv", cwd=deck.root).returncode == 0
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert cli("logs", "load", cwd=deck.root).stdout == "/data/late.csv\n"


def test_a_run_with_nothing_for_input_fails_saying_so_instead_of_getting_an_empty_string(
        tmp_path: Path, cli: RunCli) -> None:
    """A job that waits for inbox files, triggered by hand without --input: no file, no dependency."""
    deck = make_deck(tmp_path, [{"id": "load", "command": ["echo", "[{{input}}]"], "trigger": "*.csv"}])
    assert cli("trigger", "load", cwd=deck.root).returncode == 0
    cli("run", "--once", "--quiet", cwd=deck.root)
    shown = cli("show", "load", "--json", cwd=deck.root)
    assert json.loads(shown.stdout)["state"]["status"] == "failed", shown.stdout
    assert json.loads(shown.stdout)["card"]["reason"] == (
        "{{input}}: this run was given no input, and the job depends on none "
        "(hint: start it with `jobdeck trigger load --input input=VALUE`)")


def test_input_with_no_source_or_several_is_refused_when_jobs_json_is_loaded(tmp_path: Path, cli: RunCli) -> None:
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"jobs": [
        {"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"]},
        {"id": "alone", "command": ["echo", "{{input}}"]},
        {"id": "both", "command": ["echo", "{{input}}"], "depends_on": ["a", "b"]},
        {"id": "mixed", "command": ["echo", "{{input}}"], "depends_on": ["a"], "trigger": "*.csv"},
        {"id": "given", "command": ["echo", "{{input}}"], "depends_on": ["a", "b"], "inputs": {"input": "x"}},
    ]}))
    done = cli("validate", str(path), cwd=tmp_path)
    assert done.returncode == 1
    problems = done.stderr.splitlines()
    assert problems[-1] == f"3 problems in {path}", done.stderr
    assert "job 'alone', field 'command': {{input}} is filled only by `jobdeck trigger --input input=...`" in problems[0]
    assert "job 'both', field 'command': {{input}} is the output of a job's one dependency, but this job has 2" \
        in problems[1]
    assert "job 'mixed', field 'command': {{input}} would be the inbox file's path" in problems[2]


def test_a_second_trigger_with_inputs_before_the_first_runs_is_refused_unless_it_replaces(
        tmp_path: Path, cli: RunCli) -> None:
    """One run per trigger, as one per inbox file: a webhook's second file must not silently take the first's place."""
    deck = make_deck(tmp_path, [{"id": "load", "command": ["echo", "{{input}}"], "trigger": "*.csv"}])
    assert cli("trigger", "load", "--input", "input=/data/a.csv", cwd=deck.root).returncode == 0
    second = cli("trigger", "load", "--input", "input=/data/b.csv", cwd=deck.root)
    assert second.returncode == 1 and second.stdout == ""
    assert "waits to run with the inputs of an earlier trigger (input=/data/a.csv)" in second.stderr, second.stderr
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert cli("logs", "load", cwd=deck.root).stdout == "/data/a.csv\n"  # the first file ran
    assert cli("trigger", "load", "--input", "input=/data/b.csv", cwd=deck.root).returncode == 0  # it has started
    replaced = cli("trigger", "load", "--input", "input=/data/c.csv", "--replace", cwd=deck.root)
    assert replaced.returncode == 0, replaced.stderr
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert cli("logs", "load", cwd=deck.root).stdout == "/data/c.csv\n"


def test_an_input_a_prompt_cannot_take_is_refused_and_one_a_program_may_read_is_said(tmp_path: Path,
                                                                                   cli: RunCli) -> None:
    """A model's prompt reads inputs only through placeholders: an undeclared key would be dropped without a word.
    A program gets every input as $JOBDECK_VAR_<KEY>, declared or not: the key is said, and passed."""
    deck = make_deck(tmp_path, [{"id": "ask", "model": "openai/x", "mock_response": "ok",
                                 "prompt": "Greet {{inputs.name}}", "inputs": {"name": "world", "team": "ops"}},
                                {"id": "greet", "command": "echo hello $JOBDECK_VAR_LANG", "shell": True}])
    typo = cli("trigger", "ask", "--input", "name=Ana", "--input", "tem=x", cwd=deck.root)
    assert typo.returncode == 2 and typo.stdout == ""
    assert "job 'ask' has no input 'tem'; it takes input, name, team (hint: did you mean 'team'?" in typo.stderr
    assert [line for line in cli("events", "ask", cwd=deck.root).stdout.splitlines() if "triggered" in line] == []
    assert cli("trigger", "ask", "--input", "name=Ana", "--input", "team=dev", cwd=deck.root).returncode == 0
    shell = cli("trigger", "greet", "--input", "lang=de", cwd=deck.root)
    assert shell.returncode == 0, shell.stderr
    assert shell.stderr == ("jobdeck: greet: input 'lang' is not one the job declares (input): it reaches the "
                            "program as $JOBDECK_VAR_LANG only\n")
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert cli("logs", "greet", cwd=deck.root).stdout == "hello de\n"
