"""A deck the user may not read or write: one line, exit 2, and never a hang or a traceback.

These run the CLI as a user file permissions apply to (tests/fixtures/unprivileged.py:
root ignores file modes). Every run has a timeout: a command that hangs fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.unprivileged import User, unprivileged
from tests.functional.runner_kit import wait_for

HINT = "(hint: check the owner and mode of that file and that every directory above it can be entered (x))"
JOBS = [{"id": "done-once", "command": ["echo", "hi"]}, {"id": "gate", "command": ["true"], "risk": "high"}]


@pytest.fixture
def user() -> User:
    found = unprivileged()
    if found is None:
        pytest.skip("no Python the throwaway user may run (the suite's interpreter is not reachable to it)")
    return found


@pytest.fixture
def deck(user: User) -> Iterator[Path]:
    """A deck owned by ``user`` whose first job has run, with a second job ready to run."""
    with user.home() as home:
        root = home / "deck"
        root.mkdir()
        (root / "jobs.json").write_text(json.dumps({"jobs": JOBS[:1]}))
        user.own(root)
        assert user.jobdeck("run", "--once", cwd=root).returncode == 0
        (root / "jobs.json").write_text(json.dumps({"jobs": [*JOBS, {"id": "ready", "command": ["true"]}]}))
        yield root


def log_of(deck: Path) -> Path:
    return deck / ".jobdeck" / "events.jsonl"


def unwritable_log_error(deck: Path, doing: str) -> str:
    return f"jobdeck: cannot {doing}: {log_of(deck)}: Permission denied {HINT}"


@pytest.mark.parametrize("mode", [[], ["--json"], ["--quiet"], ["--job", "ready"]], ids=" ".join)
def test_run_once_on_a_log_it_cannot_write_says_so_in_one_line_and_exits_2(user: User, deck: Path,
                                                                          mode: list[str]) -> None:
    log_of(deck).chmod(0o444)
    before = log_of(deck).read_bytes()
    started = time.monotonic()
    done = user.jobdeck("run", *(mode if "--job" in mode else ["--once", *mode]), cwd=deck, timeout=30)
    assert time.monotonic() - started < 15
    assert done.returncode == 2
    assert done.stderr.splitlines() == [unwritable_log_error(deck, "record the runner's work")]
    if "--json" in mode:
        reports = [json.loads(line) for line in done.stdout.splitlines()]
        assert [r["type"] for r in reports if r["type"] == "write_error"] == ["write_error"]
    assert log_of(deck).read_bytes() == before


def test_the_long_running_runner_reports_an_unwritable_log_once_and_exits_2_when_stopped(
        user: User, deck: Path) -> None:
    log_of(deck).chmod(0o444)
    stderr = deck.parent / "runner.err"
    with stderr.open("w") as err:
        runner = user.start(user.cli("run"), cwd=deck, stderr=err)
    try:
        wait_for(lambda: "refuses writes" in stderr.read_text(), timeout=30)
        time.sleep(2.5)  # not a race: the runner retries its writes every second; let it retry twice
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(30) == 2
    finally:
        if runner.poll() is None:
            runner.kill()
    lines = stderr.read_text().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith(f"the deck refuses writes, starting nothing new; retrying every second: "
                             f"{log_of(deck)}: Permission denied")
    assert lines[1] == unwritable_log_error(deck, "record the runner's work")


def test_an_action_on_a_log_it_cannot_write_is_one_line_and_exit_2(user: User, deck: Path) -> None:
    log_of(deck).chmod(0o444)
    done = user.jobdeck("approve", "gate", "ready", cwd=deck)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [unwritable_log_error(deck, "record approve of job 'gate'")]


def test_ls_where_jobs_json_cannot_be_reached_is_one_line_and_exit_2(user: User, deck: Path) -> None:
    deck.chmod(0o600)  # the deck directory cannot be entered
    done = user.jobdeck("--deck", str(deck), "ls", cwd=deck.parent)
    assert (done.returncode, done.stderr.splitlines()) == (2, [
        f"jobdeck: cannot look for the deck: {deck / 'jobs.json'}: Permission denied {HINT}"])
    deck.chmod(0o700)
    (deck / "jobs.json").chmod(0)
    done = user.jobdeck("ls", cwd=deck)
    assert (done.returncode, done.stderr.splitlines()) == (2, [
        f"jobdeck: {deck / 'jobs.json'}: cannot open it: Permission denied (hint: check the file's owner and "
        "mode, and that every directory on its path can be entered (x))"])


def _log_read_only(deck: Path) -> None:
    log_of(deck).chmod(0o444)


def _log_unreadable(deck: Path) -> None:
    log_of(deck).chmod(0)


def _lock_read_only(deck: Path) -> None:
    (deck / ".jobdeck" / "lock").chmod(0o444)


def _state_dir_read_only(deck: Path) -> None:
    (deck / ".jobdeck").chmod(0o500)


def _state_dir_closed(deck: Path) -> None:
    (deck / ".jobdeck").chmod(0)


def _spec_unreadable(deck: Path) -> None:
    (deck / "jobs.json").chmod(0)


def _fresh_read_only_deck(deck: Path) -> None:
    shutil.rmtree(deck / ".jobdeck")
    shutil.rmtree(deck / "workspaces")
    deck.chmod(0o500)  # only jobs.json, in a directory nothing can be created in


#: Every command but init and demo (which make decks) and cockpit (a terminal UI), with arguments.
COMMANDS = [
    ["validate"], ["schema"], ["ls"], ["ls", "--json"], ["show", "gate"], ["logs", "done-once"],
    ["add", "--id", "added", "--", "true"], ["edit"], ["approve", "gate"], ["reject", "gate"],
    ["retry", "done-once"], ["cancel", "ready"], ["pause", "ready"], ["resume", "ready"], ["trigger", "gate"],
    ["events"], ["events", "gate"], ["audit", "verify"], ["stats"], ["run", "--once"], ["run", "--job", "ready"],
    ["gc"], ["gc", "--dry-run", "--verbose", "--json"],
]

#: Runs each command in one interpreter and reports, per command, its exit code, its stderr and
#: any exception that escaped main() (a traceback the user would have seen).
DRIVER = """
import contextlib, io, json, sys, traceback
from jobdeck.cli.main import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())), contextlib.redirect_stderr(err):
        try:
            code, escaped = main(argv), None
        except SystemExit as exc:
            code, escaped = exc.code, None
        except BaseException:
            code, escaped = None, traceback.format_exc()
    results.append([argv, code, err.getvalue(), escaped])
print(json.dumps(results))
"""


def run_every_command(user: User, deck: Path, timeout: float = 120) -> list[tuple[list[str], int, str, str]]:
    done = user.run(user.python_argv(DRIVER, json.dumps([["--deck", str(deck), *argv] for argv in COMMANDS])),
                    cwd=deck.parent, timeout=timeout, env={"EDITOR": "sed -i s/true/false/"})
    assert done.returncode == 0, done.stderr
    return [tuple(result) for result in json.loads(done.stdout)]


@pytest.mark.parametrize("fault", [_log_read_only, _log_unreadable, _lock_read_only, _state_dir_read_only,
                                   _state_dir_closed, _spec_unreadable, _fresh_read_only_deck],
                         ids=lambda fault: fault.__name__.strip("_"))
def test_every_command_on_a_deck_it_cannot_read_or_write_ends_cleanly(user: User, deck: Path,
                                                                      fault: Callable[[Path], None]) -> None:
    fault(deck)
    for argv, code, stderr, escaped in run_every_command(user, deck):
        command = " ".join(argv[2:])
        assert escaped is None, f"`jobdeck {command}` raised:\n{escaped}"
        assert code in (0, 1, 2), f"`jobdeck {command}` exited {code}: {stderr}"
        if code == 2:
            lines = stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("jobdeck: "), f"`jobdeck {command}`: {stderr}"



def test_add_does_not_replace_a_jobs_json_of_another_owner_that_it_may_not_write(user: User, deck: Path) -> None:
    """The deck's directory is the user's, so a rename could replace jobs.json; its mode says no."""
    spec = deck / "jobs.json"
    os.chown(spec, 0, 0)
    spec.chmod(0o644)
    before = spec.read_bytes()
    done = user.jobdeck("add", "--id", "extra", "--", "true", cwd=deck)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"jobdeck: cannot change {spec}: it is read-only for you (hint: it belongs to uid 0: "
                           "change it as that user, or let yours write it)\n")
    assert spec.read_bytes() == before and spec.stat().st_uid == 0


@pytest.mark.parametrize("command", [["pause", "ready"], ["log", "rotate"], ["gc"], ["run", "--once"]], ids=" ".join)
def test_another_user_writing_the_deck_is_refused_before_it_makes_a_file_there(user: User, deck: Path,
                                                                                command: list[str]) -> None:
    """sudo jobdeck ... on someone's deck made root-owned 0600 files there (a new live log at a rotation,
    board.json) that locked the owner out; the deck now stays its owner's, whole."""
    if not user.switching:
        pytest.skip("needs root, to act on a deck another user owns")
    import pwd
    import subprocess
    import sys

    try:
        owner = pwd.getpwuid(user.uid).pw_name
    except KeyError:  # a throwaway uid, with no account
        owner = f"uid {user.uid}"
    state = deck / ".jobdeck"
    before = {path: path.stat().st_uid for path in state.rglob("*")}
    done = subprocess.run([sys.executable, "-m", "jobdeck", *command], cwd=deck, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"jobdeck: {state} belongs to {owner}, not to root: what this would write there would be root's "
        f"alone and lock {owner} out of the deck (hint: run it as {owner} (sudo -u {owner} jobdeck ...))"]
    assert {path: path.stat().st_uid for path in state.rglob("*")} == before  # nothing made, nothing taken over
    read = subprocess.run([sys.executable, "-m", "jobdeck", "ls"], cwd=deck, capture_output=True, text=True, timeout=60)
    assert read.returncode == 0 and "ready" in read.stdout  # reading is fine, and leaves no cache behind
    asked = subprocess.run([sys.executable, "-m", "jobdeck", "gc", "--dry-run"], cwd=deck, capture_output=True,
                           text=True, timeout=60)
    assert asked.returncode == 0 and "would remove" in asked.stdout, asked.stderr  # a dry run writes nothing
    assert {path: path.stat().st_uid for path in state.rglob("*")} == before
    assert user.jobdeck("pause", "ready", cwd=deck).returncode == 0  # the owner's deck works as before


def test_log_rotate_into_a_log_directory_it_cannot_write_names_that_directory(user: User, deck: Path) -> None:
    """The closed segment is a new name in .jobdeck/log/: that directory refuses it, not events.jsonl."""
    segments = deck / ".jobdeck" / "log"
    segments.mkdir(exist_ok=True)
    user.own(segments)
    segments.chmod(0o500)
    before = log_of(deck).read_bytes()
    done = user.jobdeck("log", "rotate", cwd=deck)
    assert (done.returncode, done.stderr.splitlines()) == (2, [
        f"jobdeck: cannot rotate the chain of work: {segments}: Permission denied (hint: check the owner and mode "
        "of that directory (it must be writable) and that every directory above it can be entered (x))"])
    assert log_of(deck).read_bytes() == before and os.listdir(segments) == []


def test_an_attempt_that_cannot_be_set_up_is_recorded_with_the_full_path_refused(user: User, deck: Path) -> None:
    """The attempt's directory is made relative to runs/<job>/: its OSError names only '2', which says nothing."""
    job_dir = deck / "workspaces" / "default" / "runs" / "done-once"
    assert user.jobdeck("retry", "done-once", cwd=deck).returncode == 0
    job_dir.chmod(0o500)
    user.jobdeck("run", "--once", cwd=deck)
    shown = json.loads(user.jobdeck("show", "done-once", "--json", cwd=deck).stdout)["state"]
    assert shown["status"] == "backlog" and shown["attempts"][-1]["reason"] == "not_started"
    assert shown["reason"] == ("the attempt could not be set up, nothing ran: "
                               f"{job_dir}/{shown['attempts'][-1]['n']}: Permission denied")



@pytest.mark.parametrize("how", [["--once"], ["--once", "--quiet"], ["--job", "done-once"]], ids=" ".join)
def test_a_run_whose_attempt_cannot_be_set_up_exits_2_naming_the_attempt_directory(user: User, deck: Path,
                                                                                   how: list[str]) -> None:
    """The claim is durable but runs/<job>/ refuses the attempt's directory: nothing ran, and the run says so."""
    job_dir = deck / "workspaces" / "default" / "runs" / "done-once"
    assert user.jobdeck("retry", "done-once", cwd=deck).returncode == 0
    job_dir.chmod(0o500)
    done = user.jobdeck("run", *how, cwd=deck)
    assert done.returncode == 2, (done.stdout, done.stderr)
    [line] = done.stderr.splitlines()
    assert re.fullmatch(
        rf"jobdeck: job 'done-once': the attempt could not be set up, nothing ran: {re.escape(str(job_dir))}/\d+: "
        r"Permission denied \(hint: let jobdeck write in the directory it goes in \(owner, mode, free space\); "
        r"its try is given back and the next `jobdeck run` retries it\)", line), line

    job_dir.chmod(0o700)  # mended: the job runs once its retry is due
    done = user.jobdeck("run", "--job", "done-once", "--wait", cwd=deck)
    assert done.returncode == 0, done.stderr


def test_the_metrics_textfile_goes_into_a_directory_another_user_owns(user: User) -> None:
    """node_exporter's textfile directory is rarely the operator's: only the deck's own caches are kept to
    directories of the user's."""
    if not user.switching:
        pytest.skip("needs root, to make a directory another user owns")
    with user.home() as home:
        collector = home / "collector"
        collector.mkdir()
        collector.chmod(0o777)  # root's, writable by the operator (as a group would make it)
        root = home / "deck"
        root.mkdir()
        (root / "jobs.json").write_text(json.dumps({"metrics": {"textfile": str(collector / "jobdeck.prom")},
                                                    "jobs": JOBS[:1]}))
        user.own(root)
        assert collector.stat().st_uid != user.uid
        done = user.jobdeck("run", "--once", cwd=root)
        assert done.returncode == 0, done.stderr
        assert "jobdeck_jobs" in (collector / "jobdeck.prom").read_text()
