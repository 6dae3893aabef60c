"""The log is one file: moved, truncated or missing under a runner, it is never split and nothing runs twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.functional.runner_kit import board, env_for, events, jobdeck, make_deck, status, wait_for


def _jobs(ledger: Path, gate: Path) -> list[dict[str, object]]:
    """a: quick; b: runs until the gate opens; c: after b. Each start appends to its ledger file."""
    return [
        {"id": "a", "command": ["sh", "-c", f"echo x >> {ledger}/a"]},
        {"id": "b", "command": ["sh", "-c", f"echo x >> {ledger}/b; while [ ! -e {gate} ]; do sleep 0.02; done"]},
        {"id": "c", "depends_on": ["b"], "command": ["sh", "-c", f"echo x >> {ledger}/c"]},
    ]


def _starts(ledger: Path) -> dict[str, int]:
    return {p.name: len(p.read_text().split()) for p in sorted(ledger.iterdir())}


@contextmanager
def _runner(deck: Path, out: Path) -> Iterator[subprocess.Popen[str]]:
    """`jobdeck run --json` with its lines going to ``out`` (read while it runs)."""
    with open(out, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--json", "--grace", "60"], cwd=deck,
                                env=env_for(deck), stdout=sink, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _reported(out: Path, kind: str) -> list[dict[str, object]]:
    return [r for r in map(json.loads, out.read_text().splitlines()) if r.get("type") == kind]


def _break_the_log_under_a_runner(tmp_path: Path, how: Callable[[Path], Path]) -> tuple[Path, Path, Path]:
    """Run a and b, break the log with ``how`` (which returns the copy to restore) while b runs,
    check that the runner stops without writing, then restore the copy; return (deck, ledger, log)."""
    ledger, gate = tmp_path / "ledger", tmp_path / "gate"
    ledger.mkdir()
    deck = make_deck(tmp_path, _jobs(ledger, gate))
    log = deck / ".jobdeck" / "events.jsonl"
    out = tmp_path / "runner.jsonl"
    with _runner(deck, out) as runner:
        wait_for(lambda: status(deck, "a") == "done" and (ledger / "b").exists(), what="a done, b running")
        kept = how(log)
        kept_bytes = kept.read_bytes()
        reported = wait_for(lambda: _reported(out, "log_replaced"), timeout=30, what="the runner to notice")
        assert "jobdeck never renames or truncates it" in str(reported[0]["message"])

        # Meanwhile an operator action must not start a new history at the path.
        refused = jobdeck(deck, "cancel", "c")
        assert refused.returncode == 2 and "history is lost" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr

        gate.touch()  # b finishes during the grace period; its result goes to result.json only
        assert runner.wait(60) == 2
        err = runner.stderr.read() if runner.stderr else ""
    assert err.count("\n") == 1 and "while the runner had it open" in err, err
    assert kept.read_bytes() == kept_bytes, "the runner wrote to the log after it was moved away"
    assert not _reported(out, "claimed") or all(r["job"] != "c" for r in _reported(out, "claimed"))
    assert _starts(ledger) == {"a": 1, "b": 1}
    assert (deck / "workspaces/default/runs/b/1/result.json").exists()
    return deck, ledger, log


def test_a_log_renamed_under_the_runner_stops_it_and_a_restart_runs_nothing_twice(tmp_path: Path) -> None:
    def rename(log: Path) -> Path:
        moved = log.with_name("events.jsonl.1")
        os.rename(log, moved)
        return moved

    deck, ledger, log = _break_the_log_under_a_runner(tmp_path, rename)
    assert not log.exists(), "something started a second log at the path"
    os.rename(log.with_name("events.jsonl.1"), log)

    assert jobdeck(deck, "run", "--once").returncode == 0
    assert _starts(ledger) == {"a": 1, "b": 1, "c": 1}
    states = board(deck)
    assert all(states[j].status.value == "done" for j in "abc")
    recovered = [e for e in events(deck) if e["job"] == "b" and e["type"] == "succeeded"]
    assert len(recovered) == 1 and recovered[0].get("recovered") is True  # read back from result.json
    assert jobdeck(deck, "audit", "verify").returncode == 0


def test_a_log_truncated_under_the_runner_copytruncate_style_stops_it_too(tmp_path: Path) -> None:
    def copytruncate(log: Path) -> Path:
        copy = log.with_name("events.jsonl.1")
        shutil.copyfile(log, copy)
        os.truncate(log, 0)
        return copy

    deck, ledger, log = _break_the_log_under_a_runner(tmp_path, copytruncate)
    assert log.stat().st_size == 0, "the runner appended to the truncated log"
    os.replace(log.with_name("events.jsonl.1"), log)

    assert jobdeck(deck, "run", "--once").returncode == 0
    assert _starts(ledger) == {"a": 1, "b": 1, "c": 1}
    assert all(st.status.value == "done" for st in board(deck).values())
    assert jobdeck(deck, "audit", "verify").returncode == 0


def test_a_missing_log_beside_earlier_attempts_refuses_to_run_everything_again(tmp_path: Path) -> None:
    ledger, gate = tmp_path / "ledger", tmp_path / "gate"
    ledger.mkdir()
    gate.touch()
    deck = make_deck(tmp_path, _jobs(ledger, gate))
    assert jobdeck(deck, "run", "--once").returncode == 0
    log = deck / ".jobdeck" / "events.jsonl"
    for lost in ("removed", "emptied"):
        if lost == "removed":
            log.unlink()
        else:
            log.write_bytes(b"")
        for command in (["run", "--once"], ["run"], ["cancel", "a"]):
            done = jobdeck(deck, *command, timeout=30)
            assert done.returncode == 2, (lost, command, done.stderr)
            assert "history is lost" in done.stderr and "runs/" in done.stderr and "Traceback" not in done.stderr
        assert _starts(ledger) == {"a": 1, "b": 1, "c": 1}
        assert not log.exists() or log.stat().st_size == 0


def test_the_cockpit_model_keeps_its_board_while_the_log_is_away_and_reads_on_once_it_is_back(tmp_path: Path) -> None:
    import time

    from jobdeck.cockpit.model import DeckModel
    from jobdeck.state.deck import Deck

    ledger, gate = tmp_path / "ledger", tmp_path / "gate"
    ledger.mkdir()
    gate.touch()
    deck = make_deck(tmp_path, _jobs(ledger, gate))
    assert jobdeck(deck, "run", "--job", "a").returncode == 0
    model = DeckModel(Deck(deck), time.time)
    model.load()
    assert model.cards["a"].column.value == "done" and model.log_error is None

    log = deck / ".jobdeck" / "events.jsonl"
    os.rename(log, log.with_name("events.jsonl.1"))
    model.refresh()
    assert model.log_error is not None and "moved or removed" in model.log_error
    assert model.cards["a"].column.value == "done"  # not an empty board

    os.rename(log.with_name("events.jsonl.1"), log)
    assert jobdeck(deck, "run", "--job", "b").returncode == 0
    model.refresh()
    assert model.log_error is None and model.cards["b"].column.value == "done"
