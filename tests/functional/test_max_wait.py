"""max_wait in a real runner: a breach is told once, on time, with what kept the job back; a short bound that is
safe leaves your order alone, and goes ahead of it only when the bound comes near.

Decks are real directories; `jobdeck run --once` runs as a subprocess and the chain of work is read back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import RunCli, records
from jobdeck.state.deck import Deck, init_deck


def make_deck(root: Path, mode: str, jobs: list[dict[str, Any]], *, parallel: int = 1, **decide: Any) -> Deck:
    spec = {"limits": {"parallel": parallel}, "decide": {"mode": mode, **decide},
            "jobs": [{"command": ["true"], **job} for job in jobs]}
    return init_deck(root, json.dumps(spec, indent=1).encode())


def overdue(deck: Deck) -> list[dict[str, Any]]:
    return [r for r in records(deck) if r["type"] == "decided" and r.get("action") == "overdue"]


def closed_window() -> str:
    """A one-minute window twelve hours from now (UTC): closed for the whole test."""
    start = time.gmtime(time.time() + 12 * 3600)
    return f"{start.tm_hour:02d}:{start.tm_min:02d}-{start.tm_hour:02d}:{(start.tm_min + 1) % 60:02d}"


def test_a_wait_past_max_wait_is_told_once_on_time_with_what_kept_the_job_back(tmp_path: Path, cli: RunCli) -> None:
    # One slot, taken by hog for 6s: tidy waits for the slot, held for the operator, night for its window.
    deck = make_deck(tmp_path / "deck", "shadow", [
        {"id": "hog", "command": ["sleep", "6"], "priority": 5},
        {"id": "tidy", "max_wait": "1s"},
        {"id": "held", "max_wait": "1s"},
        {"id": "night", "max_wait": "1s", "window": closed_window()},
    ])
    assert cli("trigger", "held", cwd=deck.root).returncode == 0  # (its wait begins here)
    assert cli("hold", "held", "--reason", "site down", cwd=deck.root).returncode == 0
    run = cli("run", "--once", cwd=deck.root)
    assert run.returncode == 0, run.stderr
    told = {r["job"]: r for r in overdue(deck)}
    assert set(told) == {"tidy", "held", "night"}
    assert told["tidy"]["kept_by"] == "slots" and told["held"]["kept_by"] == "held"
    assert told["night"]["kept_by"] == "window"
    assert told["tidy"]["reasons"][0].endswith("not started: every slot busy (1 of 1: hog)")
    assert told["held"]["reasons"][0].endswith(  # as `why` says it (state/blocking.py)
        "not started: held is held by the operator: site down (`jobdeck release held`)")
    assert told["night"]["reasons"][0].startswith("waited ") and "past its max_wait 1.0s" in told["night"]["reasons"][0]
    hog_done = next(r["ts"] for r in records(deck) if r["type"] == "succeeded" and r["job"] == "hog")
    for event in told.values():
        assert event["max_wait"] == 1.0 and event["waited"] >= 2.0  # a second after the crossing, not at it
        # told while hog still ran: the runner looked at the crossing, not only when something else happened
        assert event["ts"] < hog_done and event["ts"] - (event["since"] + 1.0) < 4.0
    assert "tidy: waited " in run.stdout and "every slot busy" in run.stdout
    # a second runner sees the board's record: nothing is told twice
    again = cli("run", "--once", cwd=deck.root)
    assert again.returncode == 0, again.stderr
    assert sorted(r["job"] for r in overdue(deck)) == ["held", "night", "tidy"]
    status = cli("status", "--check", "--json", cwd=deck.root)
    assert status.returncode == 1
    problems = {p["job"]: p for p in json.loads(status.stdout)["problems"] if p["kind"] == "max_wait_passed"}
    assert set(problems) == {"held", "night"}  # tidy started at last
    assert problems["held"]["message"].startswith("held has waited ")
    assert problems["held"]["message"].endswith("past its max_wait 1.0s, and has not started; see `jobdeck why held`")


def test_a_job_that_starts_by_its_max_wait_is_not_told(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "deck", "live", [{"id": "a", "max_wait": "2s"}, {"id": "b", "max_wait": "2s"}],
                     parallel=2)
    run = cli("run", "--once", cwd=deck.root)
    assert run.returncode == 0, run.stderr
    assert overdue(deck) == []
    problems = json.loads(cli("status", "--json", cwd=deck.root).stdout)["problems"]
    assert not [p for p in problems if p["kind"] == "max_wait_passed"]


def test_a_safe_short_max_wait_keeps_your_order_and_goes_ahead_as_its_bound_nears(tmp_path: Path,
                                                                                    cli: RunCli) -> None:
    # Six jobs at priority 5, one second each, one slot. low (priority 0) may wait 6s: its lead is half of that
    # (a slot comes free within default_duration, 1s), so it waits in your order for 3s, then goes first.
    high = [{"id": f"high{n}", "command": ["sleep", "1"], "priority": 5} for n in range(1, 7)]
    deck = make_deck(tmp_path / "deck", "live", [*high, {"id": "low", "max_wait": "6s"}], default_duration="1s")
    run = cli("run", "--once", cwd=deck.root)
    assert run.returncode == 0, run.stderr
    claimed = [r for r in records(deck) if r["type"] == "claimed"]
    order = [r["job"] for r in claimed]
    place = order.index("low")
    assert order[:2] == ["high1", "high2"]  # its bound safe, it did not jump the higher priorities at once
    assert place < len(order) - 1  # near its bound, it went ahead of the rest
    low = claimed[place]
    assert low["ts"] < low["ready"] + 6.0  # and started before its bound
    assert overdue(deck) == []
    why = next(r for r in records(deck) if r["type"] == "decided" and r["job"] == "low")["reasons"][0]
    assert why.startswith("must start by ") and "(max_wait 6.0s)" in why


def test_a_job_held_or_paused_before_any_runner_saw_it_has_its_wait_counted(tmp_path: Path, cli: RunCli) -> None:
    """Its first record was the operator's: it had a state, but no wait begun, and the runner listed only jobs with
    no state, so its max_wait was never counted: no breach told, `status --check` ok, a claim with no `ready`."""
    deck = make_deck(tmp_path / "deck", "live", [{"id": "heldone", "max_wait": "1s"},
                                                 {"id": "pausedone", "max_wait": "1s"},
                                                 {"id": "hog", "command": ["sleep", "3"], "priority": 5}])
    assert cli("hold", "heldone", cwd=deck.root).returncode == 0
    assert cli("pause", "pausedone", cwd=deck.root).returncode == 0

    run = cli("run", "--once", cwd=deck.root)

    assert run.returncode == 0, run.stderr
    told = {r["job"]: r for r in overdue(deck)}
    assert set(told) == {"heldone", "pausedone"}
    assert (told["heldone"]["kept_by"], told["pausedone"]["kept_by"]) == ("held", "paused")
    problems = json.loads(cli("status", "--json", cwd=deck.root).stdout)["problems"]
    assert sorted(p["job"] for p in problems if p["kind"] == "max_wait_passed") == ["heldone", "pausedone"]


def test_off_mode_counts_a_max_wait_for_status_check(tmp_path: Path, cli: RunCli) -> None:
    """Off ranks nothing and writes no decision, but a job's max_wait is the operator's word in every mode: the
    runner lists the jobs that have one, so their waits begin, and `status --check` says when one is passed."""
    deck = make_deck(tmp_path / "deck", "off", [{"id": "hog", "command": ["sleep", "60"], "priority": 5},
                                                {"id": "plainw", "max_wait": "1s"}])
    runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run"], cwd=deck.root, stdout=subprocess.DEVNULL)
    try:
        def passed() -> list[str]:
            report = json.loads(cli("status", "--json", cwd=deck.root).stdout)
            return [p["job"] for p in report["problems"] if p["kind"] == "max_wait_passed"]

        deadline = time.monotonic() + 30
        while passed() != ["plainw"]:
            assert time.monotonic() < deadline, "status --check never told plainw's wait past its max_wait"
            time.sleep(0.2)
    finally:
        runner.terminate()
        runner.wait(30)
    listed = [r["jobs"] for r in records(deck) if r["type"] == "listed"]
    assert listed == [["plainw"]]  # only the job with a max_wait: off writes nothing else it did not write before
    assert not [r for r in records(deck) if r["type"] == "decided" and r.get("action") == "overdue"]  # (off decides
    # nothing: the breach is for `status --check` to tell)


def test_status_check_keeps_what_the_runners_told_while_jobs_json_is_invalid(tmp_path: Path, cli: RunCli) -> None:
    """With jobs.json broken, the bounds cannot be read: the check said only spec_error, going quiet on a wait past
    max_wait just while the operator mended the file. It reports what the runners recorded, and says so."""
    deck = make_deck(tmp_path / "deck", "live", [{"id": "heldone", "max_wait": "1s"},
                                                 {"id": "hog", "command": ["sleep", "2.5"], "priority": 5}])
    assert cli("hold", "heldone", cwd=deck.root).returncode == 0
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    assert [r["job"] for r in overdue(deck)] == ["heldone"]
    deck.spec_path.write_text('{"jobs": [\n')

    kept = {p["kind"]: p for p in json.loads(cli("status", "--json", cwd=deck.root).stdout)["problems"]}
    assert kept["max_wait_passed"]["job"] == "heldone" and "as a runner told it" not in kept["max_wait_passed"]["message"]
    assert "checked against that version meanwhile" in kept["spec_error"]["message"]  # (the version runners keep)
    (deck.state_dir / "spec.kept.json").unlink()  # none kept: only what the runners recorded
    report = json.loads(cli("status", "--json", cwd=deck.root).stdout)

    kinds = {p["kind"]: p for p in report["problems"]}
    assert kinds["max_wait_passed"]["job"] == "heldone"
    assert kinds["max_wait_passed"]["message"].startswith("heldone has waited ")
    assert "as a runner told it" in kinds["max_wait_passed"]["message"]
    assert "deadlines and max_wait are checked only as the runners told them" in kinds["spec_error"]["message"]
