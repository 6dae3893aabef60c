"""`jobdeck validate` on a corpus of broken jobs.json files: one clear line per problem.

Each file in tests/corpus/ is paired in expected.json with the substrings its errors
must contain (one per problem, in order) and, where it makes sense, the line of the
first problem. Each file is validated by its own process running the CLI's entry
point with its real stdout, stderr and exit status. Those processes are forked from
this one with the spec model already imported, so 60 files cost about a second
instead of 60 interpreter starts; the last tests run `python -m jobdeck` itself.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import jobdeck.state.loader  # noqa: F401  (imported before forking, so each child starts warm)
import jobdeck.state.spec  # noqa: F401
from jobdeck.cli.main import main
from conftest import ROOT, run_cli

CORPUS = ROOT / "tests" / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())


def forked_cli(argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `jobdeck ARGV` in a forked child process; its exit status, stdout and stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 70
            try:
                os.chdir(cwd)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), "utf-8", write_through=True)
                sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), "utf-8", write_through=True)
                code = main(list(argv))
            except BaseException:  # noqa: BLE001 - report it the way an interpreter would
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code if isinstance(code, int) else 1)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(list(argv), os.waitstatus_to_exitcode(status),
                                           out.read().decode(), err.read().decode())


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    """`jobdeck validate tests/corpus/FILE` for every corpus file, each in its own process."""
    return {name: forked_cli(["validate", f"tests/corpus/{name}"], ROOT) for name in EXPECTED}


def test_corpus_is_complete() -> None:
    """Every corpus file has an expectation, and there are at least 30 broken files."""
    files = {p.name for p in CORPUS.glob("*.json")} - {"expected.json"}
    assert files == set(EXPECTED)
    assert sum(1 for e in EXPECTED.values() if not e.get("valid")) >= 30


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if not e.get("valid")))
def test_broken_file_gives_one_clear_line_per_problem(
        name: str, results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    """Exit 1; each problem is one line naming the file and a line:col or a job and field."""
    expected = EXPECTED[name]
    done = results[name]
    path = f"tests/corpus/{name}"
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    *problems, summary = done.stderr.splitlines()
    wanted = expected["errors"]
    assert summary == f"{len(wanted)} problem{'s' if len(wanted) != 1 else ''} in {path}"
    assert len(problems) == len(wanted), done.stderr
    for line, substring in zip(problems, wanted):
        assert line.startswith(f"{path}:"), line
        assert re.match(re.escape(path) + r":\d+:\d+: ", line) or "job '" in line, line
        assert substring in line, line
    if "line" in expected:
        first_line = int(re.match(re.escape(path) + r":(\d+):", problems[0]).group(1))
        assert first_line == expected["line"], problems[0]


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e.get("valid")))
def test_valid_file_is_accepted(name: str, results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    """The ok-cases (terse form, a UTF-8 BOM, comment keys) validate."""
    done = results[name]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"tests/corpus/{name}: valid (")


def test_validate_json_lists_every_problem() -> None:
    """--json gives the problems as records a script can use."""
    done = run_cli("validate", "--json", "tests/corpus/several-problems.json", cwd=ROOT)
    assert done.returncode == 1
    problems = json.loads(done.stdout)
    assert [(p["job"], p["field"], p["line"], p["column"]) for p in problems] == [
        ("hello", "command", 3, 21), ("world", "comand", 4, 21), ("../up", "id", 5, 6)]
    assert problems[1]["hint"] == "did you mean 'command'?"
    text = run_cli("validate", "tests/corpus/several-problems.json", cwd=ROOT).stderr.splitlines()
    assert [line.split(": ")[0] for line in text[:-1]] == [  # the same places as the text gives
        f"tests/corpus/several-problems.json:{p['line']}:{p['column']}" for p in problems]


def test_validate_checks_the_deck_jobs_json(tmp_path: Path) -> None:
    """Without a FILE, validate checks the deck's own jobs.json found from the cwd."""
    (tmp_path / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["true"], "depends_on": ["b"]}]}')
    done = run_cli("validate", cwd=tmp_path)
    assert done.returncode == 1
    assert f"{tmp_path / 'jobs.json'}:1:44: job 'a', field 'depends_on': depends on unknown job 'b'" in done.stderr


def test_problems_are_listed_in_file_order(tmp_path: Path) -> None:
    """A dependency problem above a field error is listed above it, as a compiler lists them."""
    path = tmp_path / "jobs.json"
    path.write_text('{"jobs": [\n  {"id": "e", "command": ["true"], "depends_on": ["f"]},\n'
                    '  {"id": "a", "command": ["true"], "retry": {"max_attempts": 0}},\n'
                    '  {"id": "b", "command": ["true"], "schedule": "61 * * * *"}\n]}\n')
    done = forked_cli(["validate", str(path)], tmp_path)
    assert done.returncode == 1
    assert [int(line.split(":")[1]) for line in done.stderr.splitlines()[:-1]] == [2, 3, 4]
