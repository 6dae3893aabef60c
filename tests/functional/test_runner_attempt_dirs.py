"""Attempt directories: made with mkdir, never one an earlier attempt used, never reached through a link."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.runner_kit import board, env_for, jobdeck, make_deck, output_of, status


def _deck_with_history(tmp_path: Path, command: list[str]) -> Path:
    """A deck whose log has a history (job `other` ran) and a job `a` that has not run yet."""
    deck = make_deck(tmp_path, [{"id": "a", "command": command}, {"id": "other", "command": ["true"]}])
    assert jobdeck(deck, "run", "--job", "other").returncode == 0
    return deck


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every file (its bytes), link (its target) and directory under ``root``, by relative path."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = f"-> {path.readlink()}"
        elif path.is_dir():
            found[key] = "dir"
        else:
            found[key] = path.read_bytes()
    return found


def test_an_attempt_directory_an_earlier_attempt_used_is_never_written_into(tmp_path: Path) -> None:
    """runs/a/1 with output and result.json, unknown to the log (e.g. a log restored from an older copy)."""
    deck = _deck_with_history(tmp_path, ["sh", "-c", "echo new"])
    used = deck / "workspaces/default/runs/a/1"
    used.mkdir(parents=True)
    (used / "output").write_text("old output\n")
    (used / "result.json").write_text('{"event": {"type": "succeeded"}}')
    before = _tree(used)

    done = jobdeck(deck, "run", "--once")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert _tree(used) == before, "the runner wrote into another attempt's directory"
    state = board(deck)["a"]
    assert state.status.value == "failed" and state.attempts[-1].reason == "attempt_refused"
    assert "runs/a/1 already holds" in (state.reason or "") and "nothing ran" in (state.reason or "")

    # The operator looks, then retries: the next attempt gets a directory of its own.
    assert jobdeck(deck, "retry", "a").returncode == 0
    assert jobdeck(deck, "run", "--once").returncode == 0
    assert status(deck, "a") == "done" and board(deck)["a"].attempts[-1].n == 2
    assert output_of(deck, "a", 2) == "new\n"
    assert _tree(used) == before


def test_the_empty_directory_of_a_claim_the_log_never_stored_is_used_again(tmp_path: Path) -> None:
    """What a runner that died during its claim's fsync leaves: empty stderr.log and output, nothing ran."""
    deck = _deck_with_history(tmp_path, ["sh", "-c", "echo new"])
    left = deck / "workspaces/default/runs/a/1"
    left.mkdir(parents=True)
    (left / "output").touch()
    (left / "stderr.log").touch()

    assert jobdeck(deck, "run", "--once").returncode == 0
    assert status(deck, "a") == "done" and board(deck)["a"].attempts[-1].n == 1
    assert output_of(deck, "a", 1) == "new\n"


def _outside(tmp_path: Path) -> Path:
    """A directory outside the deck holding a file and a directory named like an attempt's."""
    outside = tmp_path / "outside"
    (outside / "1").mkdir(parents=True)
    (outside / "keep.txt").write_text("not the deck's\n")
    (outside / "output").write_text("not the deck's either\n")
    return outside


@pytest.mark.parametrize("planted", ["runs", "runs/a", "runs/a/1"])
def test_a_link_on_the_way_to_an_attempt_directory_is_refused_and_nothing_is_written_outside(
        tmp_path: Path, planted: str) -> None:
    """As an archive a job unpacked in its workspace may leave: a link where runs/, runs/<job>/ or <n>/ goes."""
    outside = _outside(tmp_path)
    before = _tree(outside)
    deck = _deck_with_history(tmp_path, ["sh", "-c", "echo new; echo oops >&2"])
    workspace = deck / "workspaces/default"
    if planted == "runs":  # the history's own attempts move aside, as `mv runs runs.old` would
        (workspace / "runs").rename(workspace / "runs.old")
    link = workspace / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)

    done = jobdeck(deck, "run", "--once")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert _tree(outside) == before, "the runner wrote outside the deck"
    state = board(deck)["a"]
    assert state.status.value == "failed" and state.attempts[-1].reason == "attempt_refused"
    assert f"default/{planted} is a symbolic link" in (state.reason or "")
    assert link.is_symlink()


def test_a_link_a_job_put_in_place_of_another_attempts_output_is_not_followed(tmp_path: Path) -> None:
    """Job `unpack` leaves runs/a/1/output as a link to a file outside the deck; then `a` runs."""
    outside = _outside(tmp_path)
    before = _tree(outside)
    deck = make_deck(tmp_path, [
        {"id": "unpack", "command": ["sh", "-c", f"mkdir -p runs/a/1 && ln -s {outside}/output runs/a/1/output"]},
        {"id": "a", "depends_on": ["unpack"], "command": ["sh", "-c", "echo new"]},
    ])
    done = jobdeck(deck, "run", "--once")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert _tree(outside) == before, "the runner wrote through the link"
    assert status(deck, "unpack") == "done"
    state = board(deck)["a"]
    assert state.status.value == "failed" and state.attempts[-1].reason == "attempt_refused"

    # Once the link is removed, a retry runs in a directory of its own.
    (deck / "workspaces/default/runs/a/1/output").unlink()
    assert jobdeck(deck, "retry", "a").returncode == 0
    assert jobdeck(deck, "run", "--once").returncode == 0
    assert output_of(deck, "a", 2) == "new\n" and _tree(outside) == before


def test_links_a_job_makes_in_its_own_attempt_directory_are_not_followed(tmp_path: Path) -> None:
    """While it runs, a job replaces its attempt's stderr.log and result.json with links to files outside;
    jobdeck's own writes (stderr, result.json) go into the attempt directory, never through them."""
    outside = _outside(tmp_path)
    before = _tree(outside)
    script = (f'cd "$JOBDECK_ATTEMPT_DIR" && rm stderr.log && ln -s {outside}/keep.txt stderr.log '
              f'&& ln -s {outside}/keep.txt result.json && echo fine && echo "$SECRET" >&2')
    deck = make_deck(tmp_path, [{"id": "a", "command": ["sh", "-c", script], "env": {"SECRET": {"env": "API_KEY"}}}])
    done = jobdeck(deck, "run", "--once", env={**env_for(deck), "API_KEY": "k" * 24})
    assert _tree(outside) == before, "the runner wrote through a link the job made"
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    attempt = deck / "workspaces/default/runs/a/1"
    assert (attempt / "result.json").is_file() and not (attempt / "result.json").is_symlink()
    assert not (attempt / "stderr.log").is_symlink()
    assert (attempt / "stderr.log").read_text() == "[REDACTED:API_KEY]\n"
    assert output_of(deck, "a") == "fine\n"
