"""Attempt directories: made with mkdir, never one an earlier attempt used, never reached through a link."""

from __future__ import annotations

from pathlib import Path

from tests.functional.runner_kit import board, jobdeck, make_deck, output_of, status


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
