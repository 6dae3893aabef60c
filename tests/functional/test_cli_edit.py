"""`jobdeck edit` with a scripted $EDITOR: installs only valid edits of an unchanged file.

The editor is a small Python script. In "race" mode it also rewrites jobs.json
behind jobdeck's back while "editing", as a person saving the file in another
window would; that save must survive and the edit must not be installed.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, cli_env, run_cli
from jobdeck.state.deck import Deck
from jobdeck.state.loader import load_spec

EDITOR = '''
import json, os, sys
from pathlib import Path

copy = Path(sys.argv[1])
mode = os.environ["EDIT_MODE"]
calls = Path(os.environ["EDIT_LOG"])
calls.write_text(calls.read_text() + copy.read_text() + "\\n---\\n" if calls.exists() else copy.read_text() + "\\n---\\n")

def change(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc, indent=2) + "\\n")

def label_hello(doc):
    doc["jobs"][0]["labels"] = ["edited"]

def hand_save(doc):
    doc["jobs"].append({"id": "handmade", "command": ["echo", "saved by hand"]})

if mode == "change":
    change(copy, label_hello)
elif mode == "race" or (mode == "race-then-redo" and calls.read_text().count("---") == 1):
    change(copy, label_hello)
    change(Path(os.environ["JOBS_JSON"]), hand_save)   # the concurrent hand save
elif mode == "race-then-redo":
    change(copy, label_hello)                           # re-apply on top of the file on disk
elif mode == "invalid":
    copy.write_text('{"jobs": [{"id": "hello", "comand": ["echo", "hi"]}]}\\n')
elif mode == "fail":
    sys.exit(3)
elif mode == "change-then-fail":
    change(copy, label_hello)
    sys.exit(3)
elif mode == "remove-copy":
    change(copy, label_hello)
    copy.unlink()                                       # a cleaner took the copy while it was being edited
elif mode == "then-read-only":
    change(copy, label_hello)
    os.chmod(os.environ["JOBS_JSON"], 0o444)            # made read-only while it was being edited
'''


@pytest.fixture
def editor_env(tmp_path: Path, deck: Deck) -> dict[str, str]:
    """Environment that makes $EDITOR the scripted editor, for this deck."""
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    return {"EDITOR": f"{sys.executable} {script}", "JOBS_JSON": str(deck.spec_path),
            "EDIT_LOG": str(tmp_path / "editor-calls.log")}


def kept_copy(stderr: str) -> Path:
    """The path jobdeck says it kept the user's copy at."""
    match = re.search(r"your copy is kept at (\S+)", stderr)
    assert match, stderr
    return Path(match.group(1))


def test_edit_installs_a_valid_change(deck: Deck, editor_env: dict[str, str]) -> None:
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "change"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"installed {deck.spec_path}"
    spec = load_spec(deck.spec_path).spec
    assert spec.job("hello").labels == ["edited"]
    assert [p.name for p in deck.state_dir.glob("jobs.*")] == []
    assert deck.spec_path.stat().st_mode & 0o777 == 0o600


def test_edit_with_no_change_leaves_the_file_alone(deck: Deck, editor_env: dict[str, str]) -> None:
    before = deck.spec_path.read_bytes()
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "nothing"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no changes"
    assert deck.spec_path.read_bytes() == before


def test_concurrent_hand_save_survives_and_the_edit_is_not_installed(
        deck: Deck, editor_env: dict[str, str]) -> None:
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "race"})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "changed on disk while you were editing" in done.stderr
    assert "+++ jobs.json (now on disk)" in done.stderr  # the diff shows what the hand save changed
    assert '+      "id": "handmade",' in done.stderr
    spec = load_spec(deck.spec_path).spec
    assert [job.id for job in spec.jobs] == ["hello", "world", "handmade"]
    assert spec.job("hello").labels == []
    mine = json.loads(kept_copy(done.stderr).read_text())
    assert mine["jobs"][0]["labels"] == ["edited"]
    assert "handmade" not in [job["id"] for job in mine["jobs"]]


def test_after_a_conflict_re_editing_starts_from_the_file_on_disk(
        deck: Deck, editor_env: dict[str, str], tmp_path: Path) -> None:
    """Answering yes on a terminal re-opens the editor on the hand-saved file: both changes land."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "jobdeck", "--deck", str(deck.root), "edit"],
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True,
            env=cli_env({**editor_env, "EDIT_MODE": "race-then-redo"}),
        )
        os.write(controller, b"y\n")  # the answer waits in the terminal until asked
        out, err = process.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    assert process.returncode == 0, err
    assert out.strip().endswith(f"installed {deck.spec_path}")
    second_opening = Path(editor_env["EDIT_LOG"]).read_text().split("---")[1]
    assert "handmade" in second_opening
    spec = load_spec(deck.spec_path).spec
    assert [job.id for job in spec.jobs] == ["hello", "world", "handmade"]
    assert spec.job("hello").labels == ["edited"]
    kept = Path(re.search(r"your version is kept at (\S+)", err).group(1))
    assert json.loads(kept.read_text())["jobs"][0]["labels"] == ["edited"]


def test_invalid_edit_is_not_installed(deck: Deck, editor_env: dict[str, str]) -> None:
    """Non-interactive: no re-edit prompt; the error is shown, the copy kept, exit 1."""
    before = deck.spec_path.read_bytes()
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "invalid"})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "job 'hello', field 'comand': unknown field 'comand'" in done.stderr
    assert deck.spec_path.read_bytes() == before
    assert "comand" in kept_copy(done.stderr).read_text()


def test_failing_editor_installs_nothing(deck: Deck, editor_env: dict[str, str]) -> None:
    before = deck.spec_path.read_bytes()
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "fail"})
    assert done.returncode == 2
    assert "the editor exited with code 3; nothing was installed" in done.stderr
    assert deck.spec_path.read_bytes() == before
    # no editor at all: nothing was edited, so no copy is left behind (one each time, before)
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDITOR": "no-such-editor-here"})
    assert done.returncode == 2 and "editor not found: no-such-editor-here" in done.stderr, done.stderr
    assert not list(deck.state_dir.glob("jobs.*.json"))


def test_edit_through_a_linked_jobs_json_installs_into_the_file_it_leads_to(
        deck: Deck, editor_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "repo" / "jobs.json"
    target.parent.mkdir()
    deck.spec_path.rename(target)
    deck.spec_path.symlink_to(target)
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "change"})
    assert done.returncode == 0, done.stderr
    assert deck.spec_path.is_symlink() and deck.spec_path.resolve() == target
    assert json.loads(target.read_text())["jobs"][0]["labels"] == ["edited"]
    assert load_spec(deck.spec_path).spec.job("hello").labels == ["edited"]


def test_a_read_only_jobs_json_is_refused_before_editing_and_an_edit_made_meanwhile_is_kept(
        deck: Deck, editor_env: dict[str, str]) -> None:
    before = deck.spec_path.read_bytes()
    deck.spec_path.chmod(0o444)
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "change"})
    assert done.returncode == 2 and "it is read-only" in done.stderr and "chmod u+w" in done.stderr, done.stderr
    assert not Path(editor_env["EDIT_LOG"]).exists()  # the editor never opened: nothing to lose
    deck.spec_path.chmod(0o644)

    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "then-read-only"})
    assert done.returncode == 2, done.stderr
    said = f"jobdeck: cannot change {deck.spec_path}: it is read-only; nothing installed"
    assert done.stderr.startswith(said), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert deck.spec_path.read_bytes() == before
    assert json.loads(kept_copy(done.stderr).read_text())["jobs"][0]["labels"] == ["edited"]


def test_a_failing_editor_is_said_once_and_the_copy_named_only_when_kept(
        deck: Deck, editor_env: dict[str, str]) -> None:
    """"...; nothing was installed; your copy is kept at P (hint: your copy is kept at P)": said twice; and with
    no edit, "(hint: your copy is kept at P)" of a copy already removed."""
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "fail"})
    assert done.returncode == 2
    assert done.stderr == "jobdeck: the editor exited with code 3; nothing was installed\n", done.stderr
    assert not list(deck.state_dir.glob("jobs.*.json"))
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "change-then-fail"})
    assert done.returncode == 2
    said = "jobdeck: the editor exited with code 3; nothing was installed, your copy is kept at "
    assert done.stderr.startswith(said), done.stderr
    assert done.stderr.count("kept at") == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert json.loads(kept_copy(done.stderr).read_text())["jobs"][0]["labels"] == ["edited"]


def test_a_copy_removed_while_it_was_being_edited_is_one_clear_error(deck: Deck, editor_env: dict[str, str]) -> None:
    """It was "jobdeck: PATH: No such file or directory", with no word of what it meant or what to do."""
    before = deck.spec_path.read_bytes()
    done = run_cli("--deck", str(deck.root), "edit", env={**editor_env, "EDIT_MODE": "remove-copy"})
    assert done.returncode == 2
    assert done.stderr.startswith("jobdeck: your copy of jobs.json was removed while you edited it: "), done.stderr
    assert "nothing was installed" in done.stderr and "(hint: " in done.stderr and "kept at" not in done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert deck.spec_path.read_bytes() == before
