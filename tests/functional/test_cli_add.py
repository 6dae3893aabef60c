"""`jobdeck add`: one job from flags, many from JSON/JSONL, always one validated atomic change.

Two tests run the CLI as a subprocess (flags, and JSONL on a real stdin); the rest
call the same entry point in this process, which is quicker and sees the same code.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobdeck.cli.main import main
from conftest import RunCli
from jobdeck.state.deck import Deck, init_deck
from jobdeck.state.loader import load_spec


@pytest.fixture
def add(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``add(deck, *args, input=...)`` runs `jobdeck --deck DECK add ARGS` in-process."""
    def run(deck: Deck, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(input))
        capsys.readouterr()
        code = main(["--deck", str(deck.root), "add", *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["jobdeck", "add", *args], code, out, err)
    return run


def jobs_of(deck: Deck) -> dict[str, dict]:
    """The jobs in the deck's jobs.json as written, keyed by id."""
    return {job["id"]: job for job in json.loads(deck.spec_path.read_text())["jobs"]}


def test_add_from_flags(deck: Deck, cli: RunCli) -> None:
    done = cli("--deck", str(deck.root), "add", "--id", "greet", "--label", "daily", "--max-attempts", "3",
               "--idle-timeout", "30s", "--depends-on", "hello", "--priority", "5", "--", "echo", "-n", "hi there")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "added 1 job: greet"
    assert jobs_of(deck)["greet"] == {
        "id": "greet", "command": ["echo", "-n", "hi there"], "priority": 5, "depends_on": ["hello"],
        "labels": ["daily"], "retry": {"max_attempts": 3}, "timeout": {"idle": "30s"},
    }
    job = load_spec(deck.spec_path).spec.job("greet")
    assert job.timeout.idle == 30.0 and job.retry.max_attempts == 3


def test_add_gives_the_defaults_a_jobs_inputs_need_and_a_trigger_overrides_them(deck: Deck, cli: RunCli) -> None:
    refused = cli("--deck", str(deck.root), "add", "--id", "tr", "--", "echo", "{{inputs.lang}}")
    assert refused.returncode == 1 and "{{inputs.lang}} is filled only by" in refused.stderr
    done = cli("--deck", str(deck.root), "add", "--id", "tr", "--input", "lang=fr", "--input", "tone=dry", "--",
               "echo", "{{inputs.lang}}")
    assert done.returncode == 0, done.stderr
    assert jobs_of(deck)["tr"]["inputs"] == {"lang": "fr", "tone": "dry"}
    assert cli("--deck", str(deck.root), "run", "--once", "--quiet").returncode == 0
    assert cli("--deck", str(deck.root), "logs", "tr").stdout == "fr\n"
    assert cli("--deck", str(deck.root), "trigger", "tr", "--input", "lang=de").returncode == 0
    assert cli("--deck", str(deck.root), "run", "--once", "--quiet").returncode == 0
    assert cli("--deck", str(deck.root), "logs", "tr").stdout == "de\n"
    bad = cli("--deck", str(deck.root), "add", "--id", "x", "--input", "lang", "--", "true")
    assert bad.returncode == 2 and bad.stderr == "jobdeck: --input 'lang' is not KEY=VALUE (hint: e.g. --input lang=fr)\n"


def test_add_json_lists_the_ids_added(deck: Deck, cli: RunCli) -> None:
    done = cli("--deck", str(deck.root), "add", "--json", "--from", "-",
               input='{"id": "one", "command": ["true"]}\n{"id": "two", "command": ["true"]}\n')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"added": ["one", "two"], "history": {}}


def test_add_llm_job_and_shell_job_from_flags(deck: Deck, add: Callable[..., Any]) -> None:
    llm = add(deck, "--id", "sum", "--model", "openai/gpt-4o-mini",
              "--prompt", "Summarise {{input}}", "--depends-on", "hello")
    shell = add(deck, "--id", "piped", "--shell", "--", "echo hi | tr a-z A-Z")
    assert (llm.returncode, shell.returncode) == (0, 0), llm.stderr + shell.stderr
    jobs = jobs_of(deck)
    assert jobs["sum"] == {"id": "sum", "model": "openai/gpt-4o-mini", "prompt": "Summarise {{input}}",
                           "depends_on": ["hello"]}
    assert jobs["piped"] == {"id": "piped", "command": "echo hi | tr a-z A-Z", "shell": True}


def test_add_many_from_a_json_list(deck: Deck, add: Callable[..., Any], tmp_path: Path) -> None:
    source = tmp_path / "new.json"
    source.write_text(json.dumps([{"id": f"batch-{n}", "command": ["echo", str(n)]} for n in range(3)]))
    done = add(deck, "--from", str(source))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "added 3 jobs: batch-0, batch-1, batch-2"
    assert list(jobs_of(deck)) == ["hello", "world", "batch-0", "batch-1", "batch-2"]


def test_add_from_a_jobs_document(deck: Deck, add: Callable[..., Any], tmp_path: Path) -> None:
    source = tmp_path / "other-deck.json"
    source.write_text('{"jobs": [{"id": "imported", "command": ["true"]}]}')
    done = add(deck, "--from", str(source))
    assert done.returncode == 0, done.stderr
    assert "imported" in jobs_of(deck)


def test_add_jsonl_from_stdin(deck: Deck, cli: RunCli) -> None:
    lines = "".join(json.dumps({"id": f"line-{n}", "command": ["echo", str(n)], "depends_on": ["hello"]}) + "\n"
                    for n in range(4))
    done = cli("--deck", str(deck.root), "add", "--from", "-", input=lines)
    assert done.returncode == 0, done.stderr
    assert [j for j in jobs_of(deck) if j.startswith("line-")] == ["line-0", "line-1", "line-2", "line-3"]
    assert len(load_spec(deck.spec_path).spec.jobs) == 6


def test_a_jsonl_mistake_is_told_at_its_own_line_and_empty_input_says_what_to_give(deck: Deck, cli: RunCli) -> None:
    before = deck.spec_path.read_bytes()
    lines = '{"id": "k1", "command": ["echo"]}\n\n{"id": "k2", "command": ["echo"]}\n{"id": "k3", "command": ["echo"],}\n'
    done = cli("--deck", str(deck.root), "add", "--from", "-", input=lines)
    assert done.returncode == 1 and done.stderr.startswith("jobdeck: stdin:4:"), done.stderr
    for empty in ("", "\n\n", "[]"):
        done = cli("--deck", str(deck.root), "add", "--from", "-", input=empty)
        assert done.returncode == 1 and "stdin: no jobs given" in done.stderr, done.stderr
    done = cli("--deck", str(deck.root), "add")
    assert done.returncode == 1 and "give a command after --" in done.stderr, done.stderr
    assert deck.spec_path.read_bytes() == before


def test_an_exit_code_is_retried_only_when_named_and_why_says_so(deck: Deck, cli: RunCli) -> None:
    root = str(deck.root)
    assert cli("--deck", root, "add", "--id", "flaky", "--max-attempts", "3", "--", "sh", "-c", "exit 3").returncode == 0
    assert cli("--deck", root, "add", "--id", "temp", "--retry-exit", "75", "--", "sh", "-c", "exit 75").returncode == 0
    jobs = {job["id"]: job for job in json.loads(deck.spec_path.read_text())["jobs"]}
    assert jobs["temp"]["retry"] == {"max_attempts": 3, "retryable_exit_codes": [75]}
    cli("--deck", root, "run", "--job", "flaky")
    why = cli("--deck", root, "why", "flaky").stdout
    assert why.startswith("flaky: it failed: exited with code 3 (not tried again: an exit code is only if "
                          "retry.retryable_exit_codes names it (none named); 2 of its 3 attempts unused)"), why


def test_retry_exit_takes_a_number_or_the_sysexits_name_its_help_offers(deck: Deck, cli: RunCli) -> None:
    root = str(deck.root)
    done = cli("--deck", root, "add", "--id", "temp", "--retry-exit", "EX_TEMPFAIL", "--retry-exit", "3", "--", "true")
    assert done.returncode == 0, done.stderr
    assert json.loads(deck.spec_path.read_text())["jobs"][-1]["retry"] == {
        "max_attempts": 3, "retryable_exit_codes": [3, 75]}
    before = deck.spec_path.read_bytes()
    for code, why in (("EX_TEMPFAL", "'EX_TEMPFAL' is not a sysexits.h name (EX_TEMPFAIL is 75)"),
                      ("EX_OK", "'EX_OK' is not an exit code a failing process can have (1-255)"),
                      ("256", "'256' is not an exit code a failing process can have (1-255)")):
        refused = cli("--deck", root, "add", "--id", "bad", "--retry-exit", code, "--", "true")
        assert refused.returncode == 2 and why in refused.stderr, refused.stderr
    assert deck.spec_path.read_bytes() == before


def test_the_examples_of_add_help_are_accepted_in_order(tmp_path: Path, cli: RunCli) -> None:
    """Each `jobdeck add` line of `add --help` (but the one reading stdin) adds its job to a new deck."""
    from test_cli_help import examples

    root = str(init_deck(tmp_path / "deck", b'{"jobs": []}').root)
    shown = [argv for argv in examples(cli("add", "--help", cwd=tmp_path).stdout) if "--from" not in argv]
    assert len(shown) >= 4, shown
    for argv in shown:
        done = cli("--deck", root, *argv)
        assert done.returncode == 0, (argv, done.stderr)


def test_duplicate_id_is_refused_and_nothing_is_written(deck: Deck, add: Callable[..., Any]) -> None:
    before = deck.spec_path.read_bytes()
    done = add(deck, "--id", "hello", "--", "echo", "again")
    assert done.returncode == 1
    assert "job 'hello', field 'id': job 'hello' already exists (hint: pick another id, or pass --replace)" \
        in done.stderr
    assert "Traceback" not in done.stderr
    assert deck.spec_path.read_bytes() == before


def test_replace_swaps_the_job_in_place(deck: Deck, add: Callable[..., Any]) -> None:
    done = add(deck, "--replace", "--id", "hello", "--", "echo", "replaced")
    assert done.returncode == 0, done.stderr
    jobs = jobs_of(deck)
    assert list(jobs) == ["hello", "world"]
    assert jobs["hello"]["command"] == ["echo", "replaced"]


def test_one_invalid_job_in_a_batch_writes_nothing(deck: Deck, add: Callable[..., Any]) -> None:
    """The batch is one change: a single bad job (here a cycle) and none of them is added."""
    before = deck.spec_path.read_bytes()
    lines = "\n".join([
        json.dumps({"id": "fine", "command": ["true"]}),
        json.dumps({"id": "loop-a", "command": ["true"], "depends_on": ["loop-b"]}),
        json.dumps({"id": "loop-b", "command": ["true"], "depends_on": ["loop-a"]}),
    ])
    done = add(deck, "--from", "-", input=lines)
    assert done.returncode == 1
    assert "dependency cycle: loop-a -> loop-b -> loop-a" in done.stderr
    assert deck.spec_path.read_bytes() == before


def test_invalid_job_from_flags_is_refused(deck: Deck, add: Callable[..., Any]) -> None:
    before = deck.spec_path.read_bytes()
    done = add(deck, "--id", "../escape", "--", "true")
    bad_dep = add(deck, "--id", "late", "--depends-on", "helo", "--", "true")
    assert (done.returncode, bad_dep.returncode) == (1, 1)
    assert "job '../escape', field 'id': must be 1-64 letters" in done.stderr
    assert "depends on unknown job 'helo' (hint: did you mean 'hello'?)" in bad_dep.stderr
    assert deck.spec_path.read_bytes() == before


def test_a_bad_job_is_told_at_its_source_not_at_a_line_of_a_jobs_json_never_written(
        deck: Deck, add: Callable[..., Any], tmp_path: Path) -> None:
    """The loader judges the jobs.json the addition would make; its line numbers are that file's, which
    does not exist. What is wrong with an added job is told where it came from."""
    before = deck.spec_path.read_bytes()
    source = tmp_path / "new.jsonl"
    source.write_text('{"id": "x1", "command": ["true"]}\n{"id": "x2", "comand": ["true"]}\n')
    from_file = add(deck, "--from", str(source))
    from_stdin = add(deck, "--from", "-", input='{"id": "n2", "comand": ["echo"]}')
    from_flags = add(deck, "--id", "n5", "--depends-on", "n5", "--", "true")
    assert [done.returncode for done in (from_file, from_stdin, from_flags)] == [1, 1, 1]
    assert from_file.stderr == (f"jobdeck: {source}:2:14: job 'x2', field 'comand': unknown field 'comand' "
                                "(hint: did you mean 'command'?)\n")  # at its line and column in the file
    assert from_stdin.stderr.startswith("jobdeck: stdin:1:14: job 'n2', field 'comand': unknown field 'comand'")
    assert from_flags.stderr == ("jobdeck: the command line: job 'n5', field 'depends_on': "
                                 "a job cannot depend on itself\n")
    assert deck.spec_path.read_bytes() == before


def test_bad_input_file_is_located(deck: Deck, add: Callable[..., Any], tmp_path: Path) -> None:
    source = tmp_path / "new.json"
    source.write_text('[\n  {"id": "x", "command": ["true"]},\n]\n')
    done = add(deck, "--from", str(source))
    assert done.returncode == 1
    assert f"{source}:3:1: " in done.stderr and "trailing comma" in done.stderr


def test_add_refuses_when_jobs_json_itself_is_broken(deck: Deck, add: Callable[..., Any]) -> None:
    deck.spec_path.write_text('{"jobs": [\n  {"id": "hello", "command": ["echo"]},\n]}\n')
    before = deck.spec_path.read_bytes()
    done = add(deck, "--id", "more", "--", "true")
    assert done.returncode == 1
    assert f"{deck.spec_path}:3:1:" in done.stderr
    assert deck.spec_path.read_bytes() == before


def test_add_keeps_comment_keys(deck: Deck, add: Callable[..., Any]) -> None:
    deck.spec_path.write_text('{"//": "top note", "jobs": [{"id": "hello", "//": "job note", "command": ["true"]}]}')
    done = add(deck, "--id", "more", "--", "true")
    assert done.returncode == 0, done.stderr
    document = json.loads(deck.spec_path.read_text())
    assert document["//"] == "top note" and document["jobs"][0]["//"] == "job note"


def test_add_keeps_a_hand_written_layout(deck: Deck, add: Callable[..., Any]) -> None:
    """jobs.json is edited by hand: `add` puts its job in and leaves every other byte alone."""
    hand = ('{\n  "//": "my notes",\n  "jobs": [\n    {"id": "hello", "command": ["echo", "hello"]}\n  ],\n'
            '  "limits": {"parallel": 3}\n}\n')
    deck.spec_path.write_text(hand)
    done = add(deck, "--id", "bye", "--", "echo", "bye")
    assert done.returncode == 0, done.stderr
    assert deck.spec_path.read_text() == hand.replace(
        '"hello"]}\n', '"hello"]},\n    {\n      "id": "bye",\n      "command": ["echo", "bye"]\n    }\n')


def _link_jobs_json(deck: Deck, tmp_path: Path) -> Path:
    """Move the deck's jobs.json into tmp_path/repo (0644, as a repository keeps it) and link it back."""
    target = tmp_path / "repo" / "jobs.json"
    target.parent.mkdir()
    deck.spec_path.rename(target)
    target.chmod(0o644)
    deck.spec_path.symlink_to(Path("..") / "repo" / "jobs.json")
    return target


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_add_and_rm_keep_the_mode_the_operator_gave_jobs_json(deck: Deck, cli: RunCli, mode: int) -> None:
    """A hand-written 0644 jobs.json (a repository's, a group's) stays 0644: add and rm change its text only."""
    deck.spec_path.chmod(mode)
    assert cli("--deck", str(deck.root), "add", "--id", "greet", "--", "echo", "hi").returncode == 0
    assert deck.spec_path.stat().st_mode & 0o777 == mode
    assert cli("--deck", str(deck.root), "rm", "greet").returncode == 0
    assert deck.spec_path.stat().st_mode & 0o777 == mode


def test_add_through_a_linked_jobs_json_writes_the_file_it_leads_to(
        deck: Deck, cli: RunCli, tmp_path: Path) -> None:
    target = _link_jobs_json(deck, tmp_path)
    done = cli("--deck", str(deck.root), "add", "--id", "greet", "--", "echo", "hi")
    assert done.returncode == 0, done.stderr
    assert deck.spec_path.is_symlink() and os.readlink(deck.spec_path) == "../repo/jobs.json"
    assert [job["id"] for job in json.loads(target.read_text())["jobs"]] == ["hello", "world", "greet"]
    assert target.stat().st_mode & 0o777 == 0o644  # the operator's file keeps its permissions
    assert sorted(p.name for p in target.parent.iterdir()) == ["jobs.json"]  # no temp file left
    assert [job.id for job in load_spec(deck.spec_path).spec.jobs] == ["hello", "world", "greet"]


def test_a_link_to_anything_but_a_regular_file_is_refused(deck: Deck, tmp_path: Path) -> None:
    from jobdeck.state.errors import JobdeckError
    from jobdeck.state.specfile import install

    base = deck.spec_path.read_bytes()
    (tmp_path / "a-directory").mkdir()
    deck.spec_path.unlink()
    deck.spec_path.symlink_to(tmp_path / "a-directory")
    with pytest.raises(JobdeckError, match="not a regular file"):
        install(deck, base, base.replace(b'"hi"', b'"hey"', 1))
    assert deck.spec_path.is_symlink() and list((tmp_path / "a-directory").iterdir()) == []


@pytest.mark.parametrize("linked", [False, True], ids=["jobs.json", "linked jobs.json"])
def test_a_read_only_jobs_json_is_not_replaced(deck: Deck, cli: RunCli, tmp_path: Path, linked: bool) -> None:
    """The directory would let a rename replace it, but its mode says it is not to be changed."""
    target = _link_jobs_json(deck, tmp_path) if linked else deck.spec_path
    assert cli("--deck", str(deck.root), "ls").returncode == 0  # accepted: add's plain path is open too
    before = target.read_bytes()
    target.chmod(0o444)
    for argv in (["add", "--id", "greet", "--", "echo", "hi"],
                 ["add", "--id", "greet", "--model", "m", "--prompt", "p"]):
        done = cli("--deck", str(deck.root), *argv)
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"jobdeck: cannot change {target}: it is read-only (hint: make it writable to let " \
                              f"jobdeck change it: chmod u+w {target})\n"
        assert target.read_bytes() == before and target.stat().st_mode & 0o777 == 0o444
    target.chmod(0o644)
    assert cli("--deck", str(deck.root), "add", "--id", "greet", "--", "echo", "hi").returncode == 0


def test_an_argument_that_is_not_utf8_is_one_line_and_writes_nothing(deck: Deck, cli: RunCli) -> None:
    before = deck.spec_path.read_bytes()
    done = cli("--deck", str(deck.root), "add", "--id", "bad", "--", "printf", os.fsdecode(b"\xff"))
    assert (done.returncode, done.stderr) == (1, "jobdeck: jobs.json: job 'bad' has text that is not UTF-8 (hint: "
                                                 "jobs.json is UTF-8: give the arguments as UTF-8 text)\n")
    assert deck.spec_path.read_bytes() == before


def test_add_takes_the_decision_services_fields_from_flags(deck: Deck, add: Callable[..., Any]) -> None:
    done = add(deck, "--id", "report", "--deadline", "06:00", "--max-wait", "3h", "--window", "22:00-06:00",
               "--idempotent", "--", "echo", "hi")
    assert done.returncode == 0, done.stderr
    assert jobs_of(deck)["report"] == {"id": "report", "command": ["echo", "hi"], "deadline": "06:00",
                                       "max_wait": "3h", "window": "22:00-06:00", "idempotent": True}
    bad = add(deck, "--id", "late", "--window", "25:00-06:00", "--", "true")
    assert bad.returncode == 1 and "job 'late', field 'window'" in bad.stderr and "late" not in jobs_of(deck)


def test_a_duration_flag_given_as_a_bare_number_is_seconds(deck: Deck, add: Callable[..., Any]) -> None:
    done = add(deck, "--id", "z", "--hard-timeout", "90", "--idle-timeout", "1.5", "--max-wait", "300",
               "--", "true")
    assert done.returncode == 0, done.stderr
    assert jobs_of(deck)["z"]["timeout"] == {"idle": 1.5, "hard": 90} and jobs_of(deck)["z"]["max_wait"] == 300
    for odd in ("nan", "1e3", ".5"):  # not a plain number of seconds: judged as written
        refused = add(deck, "--id", "y", "--hard-timeout", odd, "--", "true")
        assert refused.returncode == 1 and f"'{odd}' is not a duration" in refused.stderr, refused.stderr


def test_a_number_in_quotes_in_jobs_json_is_told_to_lose_its_quotes(tmp_path: Path, cli: RunCli) -> None:
    path = tmp_path / "jobs.json"
    path.write_text('{"jobs": [{"id": "a", "command": ["true"], "timeout": {"hard": "90"}}]}')
    said = cli("validate", str(path))
    assert said.returncode == 1
    assert "'90' is a string with no unit; write the number 90 (seconds, no quotes) or '90s'" in said.stdout + said.stderr


def test_a_job_added_again_under_a_removed_ids_name_says_it_takes_up_that_history(deck: Deck, cli: RunCli) -> None:
    assert cli("add", "--id", "tod", "--", "echo", "old", cwd=deck.root).returncode == 0
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert cli("rm", "tod", cwd=deck.root).returncode == 0
    again = cli("add", "--id", "tod", "--", "echo", "new", cwd=deck.root)
    assert again.returncode == 0 and again.stdout == "added 1 job: tod\n"
    assert again.stderr == ("jobdeck: tod: takes up the history of the job once declared under its id (done, 1 "
                            "attempt), and dependents read its last output; `jobdeck retry tod` runs it anew\n")
    edited = cli("add", "--id", "tod", "--replace", "--json", "--", "echo", "newer", cwd=deck.root)
    assert json.loads(edited.stdout) == {"added": ["tod"], "history": {}} and edited.stderr == ""  # an edit
    fresh = cli("add", "--id", "other", "--json", "--", "true", cwd=deck.root)
    assert json.loads(fresh.stdout) == {"added": ["other"], "history": {}}
