"""The CLI on a deck with executors, no cluster needed: validate counts them, an unknown one is one line."""

from __future__ import annotations

from pathlib import Path

from tests.functional.runner_kit import jobdeck, make_deck


def test_validate_counts_executors_only_where_there_are_any(tmp_path: Path) -> None:
    deck = make_deck(tmp_path / "a", [{"id": "train", "command": ["./train.sh"], "executor": "gpu"}],
                     executors={"gpu": {"type": "slurm", "partition": "gpu"}})
    assert jobdeck(deck, "validate").stdout.endswith(": valid (1 job, 0 agents, 1 executor)\n")
    plain = make_deck(tmp_path / "b", [{"id": "here", "command": ["true"]}])
    assert jobdeck(plain, "validate").stdout.endswith(": valid (1 job, 0 agents)\n")


def test_an_unknown_executor_stops_the_runner_before_anything_runs(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "train", "command": ["true"], "executor": "gpus"}],
                     executors={"gpu": {"type": "slurm"}})
    done = jobdeck(deck, "run", "--once")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown executor 'gpus' (hint: did you mean 'gpu'?)" in lines[0], done.stderr
    assert not (deck / "workspaces" / "default" / "runs").exists()
