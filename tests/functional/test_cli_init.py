"""`jobdeck init`: a private deck with a commented, valid example, never over an existing one."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

from jobdeck.cli.main import main
from conftest import RunCli


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_private_deck(cli: RunCli, tmp_path: Path) -> None:
    done = cli("init", "mydeck", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "mydeck"
    assert done.stdout.startswith(f"created deck {root}")
    for directory in (root, root / ".jobdeck", root / ".jobdeck" / "runners", root / "workspaces",
                      root / "workspaces" / "default", root / "workspaces" / "default" / "inbox"):
        assert mode(directory) == 0o700, directory
    for file in (root / "jobs.json", root / ".jobdeck" / "lock"):
        assert mode(file) == 0o600, file
    assert not list(root.glob("**/.*.tmp"))


def test_init_json_names_the_deck_and_its_jobs_json(cli: RunCli, tmp_path: Path) -> None:
    done = cli("init", "--json", "mydeck", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made == {"deck": str(tmp_path / "mydeck"), "jobs_json": str(tmp_path / "mydeck" / "jobs.json")}
    assert Path(made["jobs_json"]).is_file()


def test_init_writes_state_files_private_too(cli: RunCli, tmp_path: Path) -> None:
    """Files created later (the event log, the ls cache) are 0600 as well."""
    cli("init", "d", cwd=tmp_path)
    root = tmp_path / "d"
    assert main(["--deck", str(root), "approve", "publish"]) == 0
    assert main(["--deck", str(root), "ls", "--json"]) == 0
    assert mode(root / ".jobdeck" / "events.jsonl") == 0o600
    assert mode(root / ".jobdeck" / "cards.jsonl") == 0o600


def test_example_jobs_json_is_valid_and_commented(cli: RunCli, tmp_path: Path) -> None:
    cli("init", "d", cwd=tmp_path)
    root = tmp_path / "d"
    assert main(["--deck", str(root), "validate"]) == 0
    document = json.loads((root / "jobs.json").read_text())
    assert "//" in document
    assert all("//" in job for job in document["jobs"])


def test_init_refuses_to_overwrite_a_deck(cli: RunCli, tmp_path: Path) -> None:
    cli("init", "d", cwd=tmp_path)
    jobs = tmp_path / "d" / "jobs.json"
    jobs.write_text('{"jobs": []}')
    done = cli("init", "d", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == f"jobdeck: {jobs} already exists (hint: this is already a deck)\n"
    assert jobs.read_text() == '{"jobs": []}'


def test_a_hand_written_jobs_json_is_a_deck_without_init(cli: RunCli, tmp_path: Path) -> None:
    """A fresh clone of a repository that keeps jobs.json but not .jobdeck/: every command works
    and the state directory appears, private, on first use."""
    root = tmp_path / "clone"
    root.mkdir()
    (root / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["echo", "hi"]}]}')
    (tmp_path / "more.jsonl").write_text('{"id": "b", "command": ["true"]}\n')
    listed = cli("--deck", str(root), "ls")
    assert listed.returncode == 0, listed.stderr
    assert "a   backlog" in listed.stdout
    assert mode(root / ".jobdeck") == 0o700
    shutil.rmtree(root / ".jobdeck")
    added = cli("--deck", str(root), "add", "--from", str(tmp_path / "more.jsonl"))  # takes the lock first
    assert (added.returncode, added.stderr) == (0, "")
    assert mode(root / ".jobdeck" / "lock") == 0o600
    ran = cli("--deck", str(root), "run", "--once", "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert (root / "workspaces" / "default" / "runs" / "a" / "1" / "output").read_text() == "hi\n"


def test_the_next_step_init_prints_runs_as_printed_for_a_name_with_a_space(cli: RunCli, tmp_path: Path) -> None:
    import subprocess

    done = cli("init", "my deck", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    step = done.stdout.splitlines()[-1]
    assert step.startswith("next: cd 'my deck' && "), step
    printed = step.removeprefix("next: ").split(" && ")[0]  # the cd, as a shell takes it
    assert subprocess.run(["sh", "-c", f"{printed} && pwd"], cwd=tmp_path, capture_output=True,
                          text=True).stdout.strip() == str(tmp_path / "my deck")


def test_init_where_it_cannot_make_the_deck_says_what_it_was_doing_in_one_line(cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("a file, not a directory\n")
    done = cli("init", str(tmp_path / "notes" / "deck"), cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"jobdeck: cannot create the deck: {tmp_path / 'notes'} is a file, not a directory "
                           "(hint: put the deck in a directory, or move the file)\n")
    assert done.stderr.count("\n") == 1
