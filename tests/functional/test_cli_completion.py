"""Tab completion, through a real bash and the code `jobdeck completion bash` prints: commands, options, and the
ids an action applies to now, read from the deck the command line names."""

from __future__ import annotations

import json
import shutil
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import RunCli, cli_env
from jobdeck.state.board import open_store
from jobdeck.state.deck import Deck, init_deck

JOBS = {"jobs": [
    {"id": "draft", "command": ["true"], "risk": "medium", "workspace": "crm", "labels": ["nightly"]},
    {"id": "publish", "command": ["true"], "risk": "high", "labels": ["nightly", "web"]},
    {"id": "fetch", "command": ["true"]},
    {"id": "broken", "command": ["false"]},
    {"id": "quiet", "command": ["true"], "paused": True},
]}

BASH = r"""
source <(jobdeck completion bash)
for line in "$@"; do
  COMP_LINE="$line"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
  read -ra COMP_WORDS <<< "$line"
  [[ "$line" == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  _python_argcomplete jobdeck "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\t' "${COMPREPLY[@]}"
  printf '\n'
done
"""


@pytest.fixture()
def tab(tmp_path: Path) -> object:
    """``tab(cwd, *lines)``: what bash offers at the end of each command line, as sets of words."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "jobdeck"  # the console script, whatever the install: this interpreter's jobdeck
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m jobdeck \"$@\"\n")
    wrapper.chmod(0o755)

    def complete(cwd: Path, *lines: str) -> list[set[str]]:
        env = cli_env({"PATH": f"{bin_dir}:/usr/bin:/bin"})
        done = subprocess.run(["bash", "-c", BASH, "bash", *lines], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        return [{word.strip() for word in out.split("\t") if word.strip()} for out in done.stdout.split("\n")[:-1]]

    return complete


@pytest.fixture()
def deck(tmp_path: Path) -> Deck:
    """draft in review, publish awaiting approval, fetch done, broken failed, quiet paused."""
    deck = init_deck(tmp_path / "deck", json.dumps(JOBS).encode())
    with open_store(deck) as store:
        for job, end in (("draft", {"type": "succeeded", "review": True}), ("fetch", {"type": "succeeded"}),
                         ("broken", {"type": "failed", "reason": "exit 1", "exit_code": 1})):
            store.commit([{"type": "claimed", "job": job, "attempt": 1, "runner": "r"}])
            store.commit([{**end, "job": job, "token": store.board.state(job).token}])
    return deck


def test_commands_options_and_the_ids_each_action_applies_to(deck: Deck, tab: object, cli: RunCli) -> None:
    assert cli("validate", cwd=deck.root).returncode == 0
    said = tab(deck.root, "jobdeck appr", "jobdeck approve ", "jobdeck reject ", "jobdeck retry ",
               "jobdeck resume ", "jobdeck pause ", "jobdeck show ", "jobdeck logs d", "jobdeck rm draft ",
               "jobdeck approve --r", "jobdeck ls --status review,f", "jobdeck ls --workspace ",
               "jobdeck ls --label ", "jobdeck run --job f")
    assert said == [
        {"approve"},
        {"draft", "publish"},  # in review, and awaiting approval: not the others
        {"draft", "publish"},
        {"draft", "fetch", "broken"},  # reviewed, done or failed
        {"quiet"},  # only the paused one
        {"draft", "publish", "fetch", "broken"},
        {"draft", "publish", "fetch", "broken", "quiet"},
        {"draft"},
        {"publish", "fetch", "broken", "quiet"},  # not the one typed already
        {"--reason"},
        {"review,failed"},
        {"crm", "default"},
        {"nightly", "web"},
        {"fetch"},
    ]


def test_the_deck_named_on_the_line_is_read_and_none_completes_nothing_quietly(deck: Deck, tab: object,
                                                                               tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    said = tab(elsewhere, "jobdeck show ", f"jobdeck --deck {deck.root} approve ", f"jobdeck show --deck {deck.root} q")
    assert said == [set(), {"draft", "publish"}, {"quiet"}]
    deck.spec_path.write_text('{"jobs": [{"id": "draft", "comand": ["true"]}]}')  # mid-edit: its last valid version
    assert tab(deck.root, "jobdeck show q", "jobdeck val") == [{"quiet"}, {"validate"}]
    (deck.state_dir / "spec.kept.json").unlink()  # no version kept: nothing, no error
    assert tab(deck.root, "jobdeck show ", "jobdeck val") == [set(), {"validate"}]


def test_completion_prints_each_shells_code_and_refuses_another(cli: RunCli, tmp_path: Path) -> None:
    for shell, marker in (("bash", "complete -o nospace"), ("zsh", "compdef"), ("fish", "complete --command jobdeck")):
        done = cli("completion", shell, cwd=tmp_path)
        assert done.returncode == 0 and marker in done.stdout, (shell, done.stdout[:200])
    refused = cli("completion", "tcsh", cwd=tmp_path)
    assert refused.returncode == 2 and "invalid choice: 'tcsh'" in refused.stderr


def test_trigger_offers_no_job_whose_cycle_would_overlap_a_running_one_and_a_tab_writes_nothing(
        tmp_path: Path, tab: object) -> None:
    deck = init_deck(tmp_path / "deck", json.dumps({"jobs": [
        {"id": "up", "command": ["true"]}, {"id": "down", "command": ["true"], "depends_on": ["up"]},
        {"id": "alone", "command": ["true"]}]}).encode())
    fresh = init_deck(tmp_path / "fresh", b'{"jobs": [{"id": "solo", "command": ["true"]}]}')
    shutil.rmtree(fresh.state_dir)  # a deck nothing has run in, as a clone of its repository has it
    with open_store(deck) as store:
        store.commit([{"type": "claimed", "job": "down", "attempt": 1, "runner": "r"}])
    assert tab(deck.root, "jobdeck trigger ") == [{"alone"}]  # up's cycle would overlap down, running
    assert tab(fresh.root, "jobdeck approve ", "jobdeck show ") == [set(), {"solo"}]
    assert not fresh.state_dir.exists()
