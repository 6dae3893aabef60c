"""`jobdeck run`: the long-running runner, `--once` for scripts, `--job ID` for one job."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from typing import TYPE_CHECKING

from jobdeck.runner import lifeline
from jobdeck.runner.loop import Runner
from jobdeck.cli.report import Reporter
from jobdeck.state.deck import Deck
from jobdeck.state.errors import DeckAccessError, JobdeckError, deck_access_error
from jobdeck.state.loader import SpecSource
from jobdeck.state.machine import Status
from jobdeck.state.terminal import one_line

if TYPE_CHECKING:
    from jobdeck.state.board import Board, KeptBack
    from jobdeck.state.spec import Spec


def _upstream(spec: Spec, job_id: str, board: Board) -> set[str]:
    """The job and every dependency (transitively) that is not done yet."""
    wanted, stack = set(), [job_id]
    while stack:
        current = stack.pop()
        if current in wanted:
            continue
        wanted.add(current)
        for dep in spec.dependencies[current]:
            if board.state(dep).status != Status.DONE:
                stack.append(dep)
    return wanted


def run_command(deck: Deck, args: argparse.Namespace) -> int:
    """Run the runner as the CLI asked; return the exit code."""
    source = SpecSource(deck.spec_path)  # read once, here; the runner takes it over
    source.refresh()
    if source.error is not None and (args.once or args.job):
        raise source.error
    spec = source.current.spec if source.current else None  # the long-running runner waits for a valid one
    # A run that ends by itself ends with the deck's refusal, if any, as its one error line.
    ends = bool(args.once or args.job)
    reporter = Reporter(json_lines=args.json, quiet=args.quiet,
                        unprinted=frozenset({"write_error", "write_resumed"} if ends else ()))
    only = None
    if args.job:
        assert spec is not None  # refresh() leaves a spec or an error, and the error was raised above
        only = _prepare_job(deck, spec, args.job)
    lifeline_fd = lifeline.take(os.environ)  # (before the runner copies the environment its attempts get)
    runner = Runner(deck, parallel=args.parallel, once=bool(args.once or args.job), only=only,
                    report=reporter, grace=args.grace, source=source)
    if args.job:
        return asyncio.run(_run_job(runner, args.job, wait=args.wait))
    stopped_by = asyncio.run(_serve(runner, lifeline_fd))
    _raise_unwritable(runner)
    if not stopped_by:
        _raise_not_started(runner)
    if args.once:
        board = runner.store.board
        failed = [job for job in sorted(runner.ran) if board.state(job).status != Status.DONE]
        # what a runner that is gone left running, and this run recorded the end of, is the run's news too
        recovered = [job for job in sorted(runner.recovered - runner.ran) if board.state(job).status != Status.DONE]
        later = {job: board.state(job).not_before for job in failed  # retries left to the next run
                 if board.state(job).status == Status.BACKLOG and board.state(job).not_before is not None}
        cooling = runner.waiting_for_cooldown(runner.clock())  # starts left to the next run
        if args.json and not args.quiet:  # the summary as the last JSON line, for a script
            import json

            elsewhere, orphaned = _running_elsewhere(runner)
            sys.stdout.write(json.dumps({
                "type": "summary", "ran": sorted(runner.ran), "attempts": runner.attempts_started,
                "not_done": failed, "retry_later": later, "cooling": cooling, "left_not_done": recovered,
                "running_elsewhere": elsewhere,
                "orphaned": orphaned,
                "stopped_by": signal.Signals(stopped_by).name if stopped_by else None}) + "\n")
        if not args.quiet and not args.json:
            done = len(runner.ran) - len(failed)
            elsewhere, orphaned = _running_elsewhere(runner)
            runs = runner.attempts_started
            print(f"ran {len(runner.ran)} job{'s' if len(runner.ran) != 1 else ''}"
                  + (f" ({runs} attempts)" if runs > len(runner.ran) else "") + f": {done} done"
                  + (f", not done: {', '.join(failed[:10])}" if failed else "")
                  + (f"; retrying after this run: {_retries(later)}" if later else "")
                  + (f"; waiting for a model's cooldown: {_retries(cooling, 'until')}" if cooling else "")
                  + (f"; left by a runner that is gone, not done: {_listed(recovered, board)}" if recovered else "")
                  + (f"; running under another runner: {', '.join(elsewhere[:10])}" if elsewhere else "")
                  + (f"; still running, its runner gone: {', '.join(orphaned[:10])} (stopped at its timeout, or "
                     f"`jobdeck cancel`)" if orphaned else "")
                  + (f"; stopped by {signal.Signals(stopped_by).name}" if stopped_by else ""), file=sys.stderr)
        if stopped_by:
            return 128 + stopped_by
        return 1 if failed or recovered else 0
    return 0  # a long-running runner stopped on request has done its job


def _running_elsewhere(runner: Runner) -> tuple[list[str], list[str]]:
    """The jobs another runner's attempt was running when this one last looked (a --once that overlapped), and
    those of them whose runner is gone (``Runner.orphans``): their processes outlived it."""
    elsewhere = sorted(job_id for job_id, state in runner.store.board.jobs.items()
                       if state.status == Status.RUNNING and state.attempt is not None
                       and state.attempt.runner != runner.runner_id)
    return [job for job in elsewhere if job not in runner.orphans], [job for job in elsewhere if job in runner.orphans]


def _retries(later: dict[str, float], word: str = "at") -> str:
    """``first at 14:12:30 UTC``: the retries (or starts) a run left to the next one, and when each is due."""
    return ", ".join(f"{job} {word} {time.strftime('%H:%M:%S UTC', time.gmtime(at))}"
                     for job, at in list(later.items())[:10])


def _listed(jobs: list[str], board: Board) -> str:
    """``stuck (failed), long (review)``: the first ten jobs, each with its column."""
    return ", ".join(f"{job} ({board.state(job).status.value})" for job in jobs[:10])


def _prepare_job(deck: Deck, spec: Spec, job_id: str) -> set[str]:
    from jobdeck.state.actions import act
    from jobdeck.state.board import open_store
    from jobdeck.state.errors import UnknownJob

    job = spec.job(job_id)
    if job is None:
        raise UnknownJob.among([job_id], (j.id for j in spec.jobs), "jobs.json")
    with open_store(deck) as store:
        state = store.board.state(job_id)
        if state.status == Status.RUNNING:
            raise JobdeckError(f"job '{job_id}' is already running", hint=f"follow it with `jobdeck logs {job_id} -f`")
        if state.status not in (Status.BACKLOG, Status.REVIEW):  # (output in review waits for you: not thrown away)
            act(store, spec, job_id, "retry", reason="jobdeck run --job", via="runner")
        elif job.schedule or job.trigger:
            if state.cycle == 0:
                act(store, spec, job_id, "trigger", reason="jobdeck run --job", via="runner")
        return _upstream(spec, job_id, store.board)


def _raise_unwritable(runner: Runner) -> None:
    """The runner ended while the deck still refused its writes: say so, as an environment error."""
    error = runner.writes.error
    if isinstance(error, JobdeckError):
        raise error
    if error is not None:
        raise deck_access_error(error, "record the runner's work", runner.deck.events_path)


def _raise_not_started(runner: Runner) -> None:
    """Attempts this run claimed but could not set up (the deck refused their files): an environment error.

    Nothing ran and each job waits to be retried with its try given back, so the
    run's outcome is the deck's refusal (exit 2), one line per job.
    """
    lines = []
    for job_id, state in sorted(runner.store.board.jobs.items()):
        last = state.attempt
        if state.status == Status.BACKLOG and last is not None and last.reason == "not_started" \
                and last.runner == runner.runner_id:
            lines.append(f"job '{job_id}': {state.reason} (hint: let jobdeck write in the directory it goes in "
                         "(owner, mode, free space); its try is given back and the next `jobdeck run` retries it)")
    if lines:
        raise DeckAccessError("\n".join(lines))


async def _serve(runner: Runner, lifeline_fd: int | None = None) -> int | None:
    """Run until done or stopped; the first signal that stopped it, if one did.

    The first SIGINT, SIGTERM or SIGHUP stops claiming and gives attempts ``--grace``
    seconds; a second stops them at once. SIGHUP is a terminal closing (an SSH session
    dropped) or a log rotation's ``kill -HUP``: by default it killed the runner at once,
    its attempts left orphaned; stdout is inherited, so there is no log to reopen (rotate
    with copytruncate). A runner started under ``nohup`` keeps SIGHUP ignored, as asked. The end of the parent's lifeline (``runner/lifeline.py``) stops it
    as a first signal does.
    """
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            runner.request_stop(by=signal.Signals(signum).name)
        else:
            runner.cancel_all(by=signal.Signals(signum).name)

    hangup = [] if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN else [signal.SIGHUP]  # (nohup: left ignored)
    for sig in (signal.SIGTERM, signal.SIGINT, *hangup):
        loop.add_signal_handler(sig, on_signal, sig)
    if lifeline_fd is not None:
        try:
            lifeline.watch(lifeline_fd, lambda: runner.request_stop(by=lifeline.STOPPED_BY))
        except OSError:  # not open here: no parent to follow (a stale variable)
            pass
    await runner.run()
    return received[0] if received else None


async def _run_job(runner: Runner, job_id: str, *, wait: bool) -> int:
    """Run until the job is done or cannot progress (without --wait)."""
    task = asyncio.create_task(_serve(runner))
    runner.once = False
    told = None
    waits: list[str] = []
    try:
        while not task.done():
            await asyncio.wait([task], timeout=0.05)
            if not runner.started or runner.spec is None:
                continue
            state = runner.store.board.state(job_id)
            kept_back = runner.store.board.kept_back.get(job_id)
            if wait and kept_back is not None and kept_back != told:  # waiting: say once what it waits for
                told = kept_back
                print(f"jobdeck run: job '{job_id}' waits: {one_line(_kept_back_text(job_id, kept_back))}",
                      file=sys.stderr)
            if wait and (now_waits := _waits_for_you(runner, job_id)) != waits:  # ... or for you: each once
                for said in now_waits:
                    if said not in waits:
                        print(f"jobdeck run: job '{job_id}' waits for you: {one_line(said)}", file=sys.stderr)
                waits = now_waits
            if state.status == Status.DONE or state.status in (Status.FAILED, Status.CANCELLED) \
                    or (state.status == Status.REVIEW and not wait):
                break
            if not wait and not runner.tasks and runner.idle(runner.clock()):
                break
            if runner.stuck(runner.clock()):
                break
    finally:
        runner.request_stop()
        stopped_by = await task
    _raise_unwritable(runner)
    if stopped_by:
        return 128 + stopped_by
    _raise_not_started(runner)
    state = runner.store.board.state(job_id)
    if state.status != Status.DONE:
        from jobdeck.state.views import card

        job = runner.spec.job(job_id) if runner.spec is not None else None
        flags = card(job, state, runner.store.board, runner.clock()).flags if job is not None else ["no longer in jobs.json"]
        kept_back = runner.store.board.kept_back.get(job_id) if state.status == Status.BACKLOG else None
        if kept_back is not None:  # the decision service holds or defers it: say why, and how to start it anyway
            flags = [flag for flag in flags if flag != kept_back.note]
        detail = "; ".join(filter(None, [state.reason, *(flag for flag in flags if flag != state.reason)]))
        said = f"job '{job_id}' is {state.status.words}" + (f" ({detail})" if detail else "") \
            + (f": {_kept_back_text(job_id, kept_back)}" if kept_back is not None else "")
        print(f"jobdeck run: {one_line(said)}", file=sys.stderr)  # a reason may hold a job's words: inert
        return 1
    return 0


def _waits_for_you(runner: Runner, job_id: str) -> list[str]:
    """What only the operator can give on the path to ``job_id`` (it and what it needs upstream), as `why` says
    it (``state.blocking``), each with its command: the deck's release, approvals, reviews, resumes, releases."""
    from jobdeck.state.blocking import blocking

    board, spec = runner.store.board, runner.spec
    said: dict[str, None] = {}  # (in order, each once: the deck's hold is every job's)
    for on_path in sorted(runner.index.only or {job_id}):
        job = spec.job(on_path) if spec is not None else None
        if job is None:
            continue
        for blocker in blocking(job, board.state(on_path), board, runner.clock()):
            if blocker.by_operator:
                said[blocker.said(on_path)] = None
    return list(said)


def _kept_back_text(job_id: str, kept_back: KeptBack) -> str:
    """'held: review queue 1 of capacity 1, ... (hint: `jobdeck pin ID` starts it now anyway)'."""
    from jobdeck.state.views import kept_back_words

    action, needs = kept_back.said()  # (of several gates, the one that keeps it back longest)
    return kept_back_words(job_id, action, needs, kept_back.reason or kept_back.note or needs or action)
