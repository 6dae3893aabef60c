"""How run_remote reads an engine's answers, with a scripted engine standing in for the batch system.

The real Slurm engine is tested against a real cluster in tests/slurm; these
cover the answers a single-node cluster cannot be made to give on demand (a
node failure, a purge, a controller that never answers), each on its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from jobdeck.agents.base import AttemptContext
from jobdeck.agents.output_sink import OutputSink
from jobdeck.agents.remote import (
    Engine,
    EngineUnreachable,
    NotTaken,
    RemoteState,
    Submission,
    SubmitRefused,
    Vanished,
    run_remote,
)
from jobdeck.state.attempts import REMOTE, REMOTE_OUT, REMOTE_RESULT
from jobdeck.state.loader import parse_spec
from jobdeck.state.redact import Redactor

SPEC = parse_spec(b'{"executors": {"fake": {"type": "slurm", "poll": 0.01}}, '
                  b'"jobs": [{"id": "j", "command": ["true"], "executor": "fake"}]}', "jobs.json").spec


class Scripted(Engine):
    """An engine whose every answer the test sets: ``states`` is what ``look`` says next."""

    kind = "scripted"

    def __init__(self, states: Sequence[RemoteState | None] = (), *, refuse: SubmitRefused | None = None,
                 unreachable: bool = False, named: str | None = None) -> None:
        super().__init__("fake", SPEC.executors["fake"], {})
        self.states = list(states)
        self.refuse, self.unreachable, self.named = refuse, unreachable, named
        self.submitted: list[Submission] = []
        self.signals: list[int] = []
        self.cancelled = 0

    async def submit(self, submission: Submission) -> str:
        self.submitted.append(submission)
        if self.refuse is not None:
            raise self.refuse
        if self.unreachable:
            raise EngineUnreachable("Unable to contact slurm controller (connect failure)")
        return "42"

    async def find(self, name: str) -> str | None:
        return self.named

    async def look(self, ids: Sequence[str]) -> dict[str, RemoteState]:
        state = self.states.pop(0) if len(self.states) > 1 else (self.states[0] if self.states else None)
        if state is None:
            raise EngineUnreachable("no answer")
        return {job_id: state for job_id in ids}

    async def signal(self, job_id: str, signum: int) -> None:
        self.signals.append(signum)

    async def cancel(self, job_id: str) -> None:
        self.cancelled += 1


def context(tmp_path: Path, **fields: Any) -> AttemptContext:
    attempt = tmp_path / "attempt"
    attempt.mkdir(exist_ok=True)
    redactor = Redactor({})
    return AttemptContext(job=SPEC.jobs[0], agent_spec=None, attempt=1, attempt_dir=attempt, workspace_dir=tmp_path,
                          output=OutputSink(attempt / "output", redactor), stderr_path=attempt / "stderr.log",
                          env={"PATH": "/usr/bin"}, redactor=redactor, executor=("fake", SPEC.executors["fake"]),
                          token=7, state_dir=tmp_path, **fields)


def run(engine: Engine, ctx: AttemptContext) -> Any:
    async def go() -> Any:
        try:
            return await run_remote(engine, ["true"], ctx, token=7)
        finally:
            ctx.output.close()

    return asyncio.run(go())


def ended(word: str, exit_code: int | None) -> RemoteState:
    return RemoteState("ended", word=word, exit_code=exit_code)


def test_the_wrappers_result_decides_and_the_scratch_files_go(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    (ctx.attempt_dir / REMOTE_OUT).write_bytes(b"hello\n")
    (ctx.attempt_dir / REMOTE_RESULT).write_text('{"exit": 4}')
    result = run(Scripted([RemoteState("running", where="n1")]), ctx)
    assert (result.returncode, result.timed_out) == (4, None)
    assert (ctx.attempt_dir / "output").read_bytes() == b"hello\n"
    left = {p.name for p in ctx.attempt_dir.iterdir()}
    assert REMOTE in left and left <= {"output", REMOTE, "stderr.log"}, "only the record stays of the scratch files"
    record = json.loads((ctx.attempt_dir / REMOTE).read_text())
    assert record["id"] == "42" and record["name"].endswith(".j.1.7") and record["executor"] == "fake"


def test_a_disagreeing_engine_is_noted_and_the_wrapper_stands(tmp_path: Path) -> None:
    said: list[dict[str, Any]] = []
    ctx = context(tmp_path, emit=said.append)
    engine = Scripted([ended("OUT_OF_MEMORY", -9)])

    async def go() -> Any:
        task = asyncio.ensure_future(run_remote(engine, ["true"], ctx, token=7))
        while engine.state("42") is None:  # the engine has answered before the result is seen
            await asyncio.sleep(0.01)
        (ctx.attempt_dir / REMOTE_RESULT).write_text('{"exit": 0}')
        return await task

    result = asyncio.run(go())
    assert result.returncode == 0
    assert [e for e in said if e.get("remote") == "disagrees"] == [
        {"type": "progress", "remote": "disagrees", "executor": "fake", "remote_id": "42", "state": "OUT_OF_MEMORY",
         "engine_exit": -9, "exit_code": 0}]


@pytest.mark.parametrize(("state", "expected"), [
    (ended("TIMEOUT", 0), (0, "hard_timeout")),
    (ended("COMPLETED", 0), (0, None)),
    (ended("FAILED", 3), (3, None)),
])
def test_an_end_without_a_result_is_read_from_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          state: RemoteState, expected: tuple[int, str | None]) -> None:
    monkeypatch.setattr("jobdeck.agents.remote.RESULT_LAG", 0.05)
    result = run(Scripted([state]), context(tmp_path))
    assert (result.returncode, result.timed_out) == expected


@pytest.mark.parametrize("word", ["CANCELLED", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY"])
def test_an_end_that_says_nothing_of_the_command_interrupts_the_attempt(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        word: str) -> None:
    monkeypatch.setattr("jobdeck.agents.remote.RESULT_LAG", 0.05)
    with pytest.raises(Vanished, match=word):
        run(Scripted([ended(word, 0)]), context(tmp_path))


def test_a_job_missing_from_two_looks_in_a_row_is_gone(tmp_path: Path) -> None:
    engine = Scripted([RemoteState("running"), RemoteState("gone"), RemoteState("running"), RemoteState("gone"),
                       RemoteState("gone")])
    with pytest.raises(Vanished, match="gone"):
        run(engine, context(tmp_path))
    assert not engine.states[1:], "one miss between two answers was not taken for gone"


def test_no_answer_is_not_an_answer(tmp_path: Path) -> None:
    """A controller that does not answer (restarting) leaves the attempt running until the result comes."""
    engine = Scripted([None])
    ctx = context(tmp_path)

    async def go() -> Any:
        task = asyncio.ensure_future(run_remote(engine, ["true"], ctx, token=7))
        await asyncio.sleep(0.3)
        assert not task.done()
        (ctx.attempt_dir / REMOTE_RESULT).write_text('{"exit": 0}')
        return await task

    assert asyncio.run(go()).returncode == 0


def test_a_refusal_is_one_line_with_the_engines_words(tmp_path: Path) -> None:
    refused = SubmitRefused("Batch job submission failed: Invalid account or account/partition combination")
    with pytest.raises(NotTaken) as caught:
        run(Scripted(refuse=refused), context(tmp_path))
    assert str(caught.value) == ("fake refused the job: Batch job submission failed: Invalid account or "
                                 "account/partition combination")
    assert not caught.value.transient


def test_a_submission_whose_answer_was_lost_is_found_by_name_not_sent_again(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    (ctx.attempt_dir / REMOTE_RESULT).write_text('{"exit": 0}')
    engine = Scripted([RemoteState("running")], unreachable=True, named="43")
    assert run(engine, ctx).returncode == 0
    assert len(engine.submitted) == 1
    assert json.loads((ctx.attempt_dir / REMOTE).read_text())["id"] == "43"


def test_an_unreachable_engine_that_took_nothing_is_a_transient_failure(tmp_path: Path) -> None:
    with pytest.raises(NotTaken) as caught:
        run(Scripted(unreachable=True, named=None), context(tmp_path))
    assert caught.value.transient and "did not take the job" in str(caught.value)


def test_a_hard_timeout_counts_from_the_start_of_running_and_stops_with_term_then_kill(
        tmp_path: Path) -> None:
    ctx = context(tmp_path, hard_timeout=0.3, grace=0.1)
    engine = Scripted([RemoteState("queued", why="Resources")] * 5 + [RemoteState("running")])
    result = run(engine, ctx)
    assert result.timed_out == "hard_timeout"
    record = json.loads((ctx.attempt_dir / REMOTE).read_text())
    assert record["running_since"] - record["submitted"] > 0.03, "the queued looks did not count"
    assert engine.signals == [15, 9] and engine.cancelled == 1


def test_a_cancel_while_queued_only_cancels(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    engine = Scripted([RemoteState("queued", why="Priority")])

    async def go() -> None:
        task = asyncio.ensure_future(run_remote(engine, ["true"], ctx, token=7))
        while engine.state("42") is None:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert engine.cancelled == 1 and engine.signals == []


def test_taking_over_while_the_engine_does_not_answer_waits_for_it(tmp_path: Path) -> None:
    class Restarting(Scripted):
        """A controller that answers a name lookup only on the third try."""

        tries = 0

        async def find(self, name: str) -> str | None:
            self.tries += 1
            if self.tries < 3:
                raise EngineUnreachable("Unable to contact slurm controller (connect failure)")
            return "44"

    engine = Restarting([RemoteState("running")])
    ctx = context(tmp_path, resume={"executor": "fake", "name": "jobdeck.x.j.1.7"})

    async def go() -> Any:
        task = asyncio.ensure_future(run_remote(engine, ["true"], ctx, token=7))
        while engine.state("44") is None:
            await asyncio.sleep(0.01)
        (ctx.attempt_dir / REMOTE_RESULT).write_text('{"exit": 0}')
        return await task

    assert asyncio.run(go()).returncode == 0
    assert engine.tries == 3 and not engine.submitted
    assert json.loads((ctx.attempt_dir / REMOTE).read_text())["id"] == "44"
