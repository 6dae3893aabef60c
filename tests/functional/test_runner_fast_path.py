"""The idempotent fast path: an idempotent job starts while its claim's fsync is still under way.

Its claim rides the group commit; a non-idempotent job still waits for the
fsync. The fsync is held back by a test hook (no sleeps): the idempotent job's
program is seen running (it opens a FIFO the test reads) while the fsync has
not returned, and the other job has no task yet.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.functional.runner_kit import board, events, jobdeck, make_deck


def _fifo_job(job_id: str, fifo: Path, **extra: object) -> dict[str, object]:
    return {"id": job_id, "command": ["sh", "-c", f"echo started > {fifo}"], **extra}


def _read(fifo: Path) -> str:
    with open(fifo) as f:  # blocks until the job opens it to write
        return f.read()


def _unblock(fifo: Path) -> None:
    """A reader of ``fifo`` still waiting for its writer gets end of file (it holds an executor thread
    that a failed test's loop would otherwise wait for without end)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # ENXIO: nobody is reading
        pass


class HeldSync:
    """Replaces the log's background fdatasync: each one waits for ``release`` (optionally fails)."""

    def __init__(self, fail: OSError | None = None) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = fail
        self.pool = ThreadPoolExecutor(max_workers=1)

    def __call__(self, fd: int) -> Future[None]:
        def sync() -> None:
            self.entered.set()
            assert self.release.wait(30), "the test never released the fsync"
            if self.fail is not None:
                error, self.fail = self.fail, None
                raise error
            os.fdatasync(fd)
        return self.pool.submit(sync)


async def _until_idle(runner: object) -> None:
    for _ in range(200):
        tasks = list(runner.tasks.values())  # type: ignore[attr-defined]
        if tasks:
            await asyncio.wait(tasks)
        await runner.turn()  # type: ignore[attr-defined]
        if runner.idle(runner.clock()):  # type: ignore[attr-defined]
            return
    raise AssertionError("the runner did not become idle")


def test_an_idempotent_job_starts_before_its_claim_is_durable_and_a_plain_one_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobdeck.runner.loop import Runner
    from jobdeck.state import events as event_log
    from jobdeck.state.deck import Deck

    fast, plain = tmp_path / "fast.fifo", tmp_path / "plain.fifo"
    os.mkfifo(fast)
    os.mkfifo(plain)
    deck_path = make_deck(tmp_path, [_fifo_job("fast", fast, idempotent=True), _fifo_job("plain", plain),
                                     {"id": "first", "command": ["true"]}])
    assert jobdeck(deck_path, "run", "--job", "first").returncode == 0  # the log's first batch is never early
    held = HeldSync()
    monkeypatch.setattr(event_log, "_background_sync", held)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        runner = Runner(Deck(deck_path), parallel=2, once=True, watch=False)
        runner.start()
        try:
            turn = asyncio.create_task(runner.turn())
            # the idempotent job's program runs although the claims' fsync has not returned
            said = await asyncio.wait_for(loop.run_in_executor(None, _read, fast), 30)
            assert said == "started\n"
            assert held.entered.is_set() and not held.release.is_set() and not turn.done()
            claims = [json.loads(line) for line in (deck_path / ".jobdeck/events.jsonl").read_bytes().splitlines()
                      if b'"claimed"' in line]
            assert {c["job"] for c in claims} >= {"fast", "plain"}, "both claims are written (one batch)"
            assert runner.store.log.pending, "and not yet counted as stored"
            # the plain job has no task, so no program, while the fsync is pending
            assert "fast" in runner.tasks and "plain" not in runner.tasks
            await asyncio.sleep(0)
            assert "plain" not in runner.tasks
            held.release.set()
            await turn
            assert not runner.store.log.pending
            assert "plain" in runner.tasks, "started once its claim is durable"
            said = await asyncio.wait_for(loop.run_in_executor(None, _read, plain), 30)
            assert said == "started\n"
            await _until_idle(runner)
        finally:
            held.release.set()
            await runner.shutdown(0)
        held.pool.shutdown()

    asyncio.run(scenario())
    states = board(deck_path)
    assert states["fast"].status.value == "done" and states["plain"].status.value == "done"
    log = events(deck_path)
    claim = next(e for e in log if e["type"] == "claimed" and e["job"] == "fast")
    ends = [e for e in log if e.get("job") == "fast" and e.get("token") == claim["seq"]]
    assert ends and all(e["seq"] > claim["seq"] for e in ends), "no outcome before its claim"
    assert jobdeck(deck_path, "audit", "verify").returncode == 0


def test_a_failed_fsync_stops_an_early_attempt_and_records_nothing_of_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobdeck.runner.loop import Runner
    from jobdeck.state import events as event_log
    from jobdeck.state.deck import Deck

    fast = tmp_path / "fast.fifo"
    os.mkfifo(fast)
    deck_path = make_deck(tmp_path, [_fifo_job("fast", fast, idempotent=True), {"id": "first", "command": ["true"]}])
    assert jobdeck(deck_path, "run", "--job", "first").returncode == 0
    held = HeldSync(fail=OSError(errno.EIO, "Input/output error"))
    monkeypatch.setattr(event_log, "_background_sync", held)
    reported: list[dict[str, object]] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        clock = [1_000_000.0]
        runner = Runner(Deck(deck_path), parallel=2, once=True, watch=False, clock=lambda: clock[0],
                        report=reported.append)
        runner.start()
        try:
            turn = asyncio.create_task(runner.turn())
            assert await asyncio.wait_for(loop.run_in_executor(None, _read, fast), 30) == "started\n"
            held.release.set()
            await turn  # the fsync failed: the claim was cut off again, the attempt is not ours to record
            assert not [e for e in events(deck_path) if e["type"] == "claimed" and e["job"] == "fast"], reported
            first = runner.claims["fast"]
            assert first.unstored
            await asyncio.wait(list(runner.tasks.values()))
            clock[0] += 5  # past the write pause
            await runner.turn()
            assert first.lease_fd == -1, "its lease is let go, nothing recorded"
            # the next claim has the same number; the used directory is moved aside, the job runs again
            # (in this turn or a later one: the turns go on until it is seen running)
            reading = loop.run_in_executor(None, _read, fast)
            for _ in range(300):
                if (await asyncio.wait([reading], timeout=0.1))[0]:
                    break
                await runner.turn()
            assert await asyncio.wait_for(reading, 1) == "started\n"
            await _until_idle(runner)
        finally:
            _unblock(fast)
            held.release.set()
            await runner.shutdown(0)
        held.pool.shutdown()

    asyncio.run(scenario())
    log = events(deck_path)
    assert [e["attempt"] for e in log if e["type"] == "claimed" and e["job"] == "fast"] == [1]
    assert board(deck_path)["fast"].status.value == "done"
    assert not [r for r in reported if r.get("type") == "refused"], "nothing of the lost attempt was offered"
    assert jobdeck(deck_path, "audit", "verify").returncode == 0


def _lost_attempt(deck_path: Path, job: str) -> Path:
    """Attempt 1's directory as a lost early claim leaves it: output written, no claim in the log."""
    directory = deck_path / "workspaces/default/runs" / job / "1"
    directory.mkdir(parents=True)
    (directory / "stderr.log").write_text("")
    (directory / "output").write_text("partial\n")
    return directory


def test_a_used_directory_no_claim_recorded_is_moved_aside_for_an_idempotent_job_only(tmp_path: Path) -> None:
    deck_path = make_deck(tmp_path, [{"id": "fast", "command": ["echo", "again"], "idempotent": True},
                                     {"id": "plain", "command": ["echo", "again"]},
                                     {"id": "first", "command": ["true"]}])
    assert jobdeck(deck_path, "run", "--job", "first").returncode == 0  # some history
    _lost_attempt(deck_path, "fast")
    _lost_attempt(deck_path, "plain")
    result = jobdeck(deck_path, "run", "--once", "--json")
    states = board(deck_path)
    assert states["fast"].status.value == "done"
    runs = deck_path / "workspaces/default/runs/fast"
    aside = [p.name for p in runs.iterdir() if p.name != "1"]
    assert len(aside) == 1 and aside[0].startswith("1.lost-"), aside
    assert (runs / aside[0] / "output").read_text() == "partial\n", "the lost attempt's files are kept"
    assert (runs / "1" / "output").read_text() == "again\n"
    moved = [json.loads(line) for line in result.stdout.splitlines()
             if line.startswith("{") and '"attempt_moved_aside"' in line]
    assert [m["job"] for m in moved] == ["fast"]
    # a job that may not run twice keeps the refusal: the operator looks first
    assert states["plain"].status.value == "failed"
    assert [e["reason"] for e in events(deck_path) if e["type"] == "failed" and e["job"] == "plain"] == ["attempt_refused"]
    assert (deck_path / "workspaces/default/runs/plain/1/output").read_text() == "partial\n"
    assert jobdeck(deck_path, "audit", "verify").returncode == 0
