"""Four runners on one deck; one is frozen (SIGSTOP) while it holds claims, and its claims are revoked.

While it is frozen the others must not run its jobs (its leases are still held).
The operator then cancels one of its jobs and retries it, so another runner runs
it again under a new fencing token. When the frozen runner wakes (SIGCONT) and
tries to record the outcome of its old attempt, the token is stale: the write
must be refused and nothing from the old token may appear after the cancel.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.functional.runner_kit import events, make_deck
from tests.torture.kit import (
    audit,
    board,
    jobdeck,
    ledger_script,
    start_runner,
    starts,
    stop,
    wait_for,
    write_figure,
)


def _jobs(ledger: Path, count: int) -> list[dict]:
    quick, slow = ledger_script(ledger), ledger_script(ledger, pause="0.4")
    return [{"id": f"r{i:05d}", "command": ["bash", "-c", slow if i % 10 == 0 else quick]} for i in range(count)]


def _all_done(deck: Path, ids: list[str]) -> bool:
    states = board(deck)
    return all(states.get(j) is not None and states[j].status.value == "done" for j in ids)


def _holds_deck_lock(deck: Path, pid: int) -> bool:
    """Whether ``pid`` holds the flock on .jobdeck/lock (from /proc/locks)."""
    inode = (deck / ".jobdeck" / "lock").stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[4] == str(pid) and fields[5].endswith(f":{inode}"):
            return True
    return False


def _running_of(deck: Path, pid: int) -> list[str]:
    """Jobs whose current attempt was claimed by the runner with this pid."""
    claimed_by = {e["job"]: e["pid"] for e in events(deck) if e["type"] == "claimed"}
    return [job for job, st in board(deck).items()
            if st.status.value == "running" and claimed_by.get(job) == pid]


def _several_runners(tmp_path: Path, jobs: int, freezes: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    spec = _jobs(ledger, jobs)
    ids = [j["id"] for j in spec]
    deck = make_deck(tmp_path, spec, limits={"parallel": 3})
    outs = [tmp_path / f"runner{n}.out" for n in range(4)]
    runners = []
    for out in outs:
        with open(out, "w") as sink:
            runners.append(start_runner(deck, stdout=sink))
    victim = runners[0]
    revoked: list[tuple[str, int]] = []  # (job, stale token)
    try:
        tries = 0
        while len(revoked) < freezes and tries < 20 * freezes:  # a try fails if the moment was wrong
            tries += 1
            if _all_done(deck, ids):
                break  # the others finished the deck: no claim left to freeze on
            wait_for(lambda: _running_of(deck, victim.pid) or _all_done(deck, ids), timeout=60,
                     what="the victim to hold a claim")
            assert victim.poll() is None, "the victim runner died"
            if _all_done(deck, ids):
                break
            time.sleep(rng.uniform(0.0, 0.1))  # a random moment to freeze at
            os.kill(victim.pid, signal.SIGSTOP)
            held = _running_of(deck, victim.pid)
            if not held or _holds_deck_lock(deck, victim.pid):
                # frozen inside the deck lock, every runner would wait for it (see docs/RELIABILITY.md)
                os.kill(victim.pid, signal.SIGCONT)
                continue
            job = held[0]
            token = board(deck)[job].token
            # its child, if it was started, is not frozen: wait for it to end so the retry
            # cannot overlap it (a claim frozen before its spawn has no child at all)
            frozen_at = time.monotonic()
            wait_for(lambda: not (ledger / f"{job}.running").exists()
                     and (starts(ledger, job) or time.monotonic() - frozen_at > 2.0),
                     timeout=30, what="the frozen runner's child to finish")
            others_done = sum(1 for st in board(deck).values() if st.status.value == "done")

            def others_kept_working() -> bool:  # one read of the board per look (it folds the whole log)
                states = board(deck)
                return sum(1 for st in states.values() if st.status.value == "done") > others_done + 5 \
                    or all(states.get(j) is not None and states[j].status.value != "backlog" for j in ids)

            wait_for(others_kept_working, timeout=60, what="the other runners to keep working")
            assert board(deck)[job].status.value == "running", "a frozen runner's claim was taken over"
            assert jobdeck(deck, "cancel", job, "--reason", "torture").returncode == 0
            assert jobdeck(deck, "retry", job, "--reason", "torture").returncode == 0
            revoked.append((job, token))
            # the retry queues it behind the backlog (priority, then age): allow for the whole deck
            wait_for(lambda: board(deck)[job].status.value == "done", timeout=600,
                     what="the retried job to be run by another runner")
            os.kill(victim.pid, signal.SIGCONT)
        wait_for(lambda: _all_done(deck, ids), timeout=600, what="every job done")
    finally:
        for runner in runners:
            stop(runner)
    refused = [json.loads(line) for line in outs[0].read_text().splitlines()
               if line.startswith("{") and json.loads(line).get("type") == "refused"]
    log = events(deck)
    for job, token in revoked:
        assert any(r.get("job") == job for r in refused), f"the stale outcome of {job} was not refused"
        tries = starts(ledger, job)
        assert tries in (["1", "2"], ["2"]), f"{job}: the revoked attempt started after its retry: {tries}"
        cancel_seq = max(e["seq"] for e in log if e["job"] == job and e["type"] == "cancelled") if log else 0
        stale = [e for e in log if e.get("job") == job and e.get("token") == token and e["seq"] > cancel_seq]
        assert stale == [], f"a transition with the stale token {token} of {job} was stored: {stale}"
    result = audit(deck, ledger, ids)
    assert result.corrupt_files == [] and result.chain_ok
    assert result.double_starts == [], result.double_starts
    assert result.lost_jobs == []
    assert revoked, "the victim was never frozen holding a claim: the test proved nothing"
    runners_used = {e["runner"] for e in log if e["type"] == "claimed"}
    assert len(runners_used) == 4, "every runner should have claimed work"
    return {"jobs": jobs, "runners": 4, "freezes": len(revoked), "refused": len(refused),
            "double": len(result.double_starts), "lost": len(result.lost_jobs), "corrupt": 0,
            "stale_stored": 0}


def test_four_runners_one_frozen_stale_writes_refused(tmp_path: Path) -> None:
    write_figure("several_runners", _several_runners(tmp_path, jobs=400, freezes=1, seed=3))


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_four_runners_long(tmp_path: Path) -> None:
    write_figure("several_runners_long", _several_runners(tmp_path, jobs=5000, freezes=10, seed=5))
