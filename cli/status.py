"""`jobdeck status [--check]`: is a runner alive, and is anything stuck? For people, monitors and scripts."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.health import Problem
    from jobdeck.state.spec import Spec

MIN_FREE = 100 * 1024 * 1024
"""The default floor of `--min-free`: less free on the deck's filesystem is a problem."""
UNHEALTHY = 1
"""Exit code of `status --check` when it found a problem (the table's 1: the answer is "no")."""


def duration(text: str) -> float:
    """An argparse type: a duration such as 30m, 2h or 90 (seconds)."""
    from jobdeck.state.durations import parse_duration

    value: float | str = text.strip()
    try:
        value = float(value)
    except ValueError:
        pass
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def min_free(text: str) -> int:
    """An argparse type: a size such as 500MB or 1GiB, or 0 for no floor."""
    from jobdeck.state.sizes import parse_size

    if text.strip() == "0":
        return 0
    try:
        return parse_size(int(text) if text.strip().isdigit() else text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(command: Any) -> None:
    """Declare `status` with the parser's ``command`` helper."""
    p = command("status", "is a runner alive and is anything stuck? (--check: exit 1 when not, for monitors)",
                "One line per runner, the jobs per column, then one line per problem: no runner, a dead\n"
                "runner or a stale heartbeat, the deck held (`jobdeck hold`: a hold forgotten after\n"
                "maintenance starts nothing), a job running past its hard timeout, and with\n"
                "--review-age an output waiting for review (or a high-risk job for approval) longer\n"
                "than that, a job whose deadline passed before it was done, and the deck's filesystem\n"
                "with less than --min-free left.",
                examples=["jobdeck status --check --review-age 4h || notify-me   cron or a systemd timer",
                          "jobdeck status --json | jq '.problems[].message'"],
                notes="exit codes with --check: 0 healthy, 1 a problem was found, 2 no deck or unreadable state.\n")
    p.add_argument("--check", action="store_true", help="exit 1 when anything needs a person (0 when healthy)")
    p.add_argument("--review-age", type=duration, metavar="DURATION",
                   help="report reviews and approvals waiting longer than this, e.g. 4h")
    p.add_argument("--min-free", type=min_free, default=MIN_FREE, metavar="SIZE",
                   help=f"report the deck's filesystem with less free than this (default {MIN_FREE >> 20} MiB; "
                        f"0: never)")
    p.add_argument("--json", action="store_true", help="runners, counts and problems as one JSON object")
    p.set_defaults(handler="jobdeck.cli.status:cmd_status")


def gather(deck_dir: str | None, now: float, *, waiting_age: float | None, floor: int = MIN_FREE) -> dict[str, Any]:
    """What `status` shows: runners, jobs per column and the problems found (plain data, JSON-ready)."""
    from collections import Counter

    from jobdeck.state.board import open_store
    from jobdeck.state.deck import find_deck
    from jobdeck.state.errors import SpecError
    from jobdeck.state.health import Problem, job_problems, room_problems, runner_problems
    from jobdeck.state.space import room
    from jobdeck.state.heartbeat import read_heartbeats
    from jobdeck.state.lightspec import mark_valid
    from jobdeck.state.loader import load_spec

    deck = find_deck(deck_dir)
    beats = read_heartbeats(deck.runners_dir)
    problems = runner_problems(beats, now)
    problems += room_problems(str(deck.root), room(deck.root), floor)
    spec = None
    try:
        loaded = load_spec(deck.spec_path)
    except SpecError as exc:  # the runner keeps its last good spec: say so, and check against it if it is known here
        from jobdeck.cli.commands import kept_validated

        kept = kept_validated(deck, exc)
        spec = kept.spec if kept is not None else None
        checked = "against that version meanwhile" if spec is not None else \
            "only as the runners told them until it is valid"
        problems.append(Problem("spec_error", f"jobs.json is invalid, runners keep the last good spec: "
                                              f"{str(exc).splitlines()[0]}; deadlines and max_wait are checked "
                                              f"{checked}"))
    else:
        spec = loaded.spec
        mark_valid(deck, loaded)  # the version the deck is at: the last valid one, should it break (state/lightspec)
    with open_store(deck) as store:
        board = store.board
        problems += job_problems(spec, board, now, waiting_age=waiting_age, deck=deck)
        if spec is not None:
            problems += missed_deadlines(spec, board, now)
            problems += waits_past_max_wait(spec, board, now)
        else:
            problems += told_by_runners(board, now)
        if spec is not None:  # the jobs jobs.json declares: a past job's history stays on the board
            declared = {job.id for job in spec.jobs}
            counts = Counter(board.state(job_id).status.value for job_id in declared)
            past: int | None = sum(1 for job_id in board.jobs if job_id not in declared)
        else:
            counts, past = Counter(state.status.value for state in board.jobs.values()), None
    return {
        "ok": not problems,
        "deck": str(deck.root),
        "runners": [{"id": b.runner, "pid": b.pid, "host": b.host, "heartbeat": b.at, "age": round(now - b.at, 1),
                     "alive": b.alive(now), "gone": b.gone(), "running": list(b.running)} for b in beats],
        "jobs": dict(sorted(counts.items())),
        "jobs_complete": spec is not None,  # (an invalid jobs.json: only jobs with history are counted)
        "jobs_past": past,  # jobs with history that jobs.json no longer declares, not counted (None: not known)
        "problems": [problem.to_json() for problem in problems],
    }


def told_by_runners(board: Board, now: float) -> list[Problem]:
    """While jobs.json is invalid (so its deadlines and bounds cannot be read): the misses and waits past max_wait
    the runners recorded (``decided`` missed and overdue, in every mode but off) that still stand, so the check does
    not go quiet while the operator mends the file."""
    from jobdeck.state.durations import format_duration
    from jobdeck.state.health import Problem
    from jobdeck.state.machine import Status

    problems = []
    for job_id, (cycle, deadline) in sorted(board.late.items()):
        state = board.state(job_id)
        if state.cycle == cycle and state.status != Status.DONE:
            ago = f" {format_duration(now - deadline)} ago" if isinstance(deadline, int | float) else ""
            problems.append(Problem("deadline_missed", f"{job_id} missed its deadline{ago} and is not done "
                                                       f"({state.status.value}), as a runner told it; see "
                                                       f"`jobdeck why {job_id}`", job_id,
                                    now - deadline if isinstance(deadline, int | float) else None))
    for job_id, since in sorted(board.overdue.items()):
        state = board.state(job_id)
        if state.status == Status.BACKLOG and not (state.attempts and state.attempts[-1].started >= since):
            problems.append(Problem("max_wait_passed", f"{job_id} has waited {format_duration(now - since)}, past its "
                                                       f"max_wait, and has not started, as a runner told it; see "
                                                       f"`jobdeck why {job_id}`", job_id))  # (past by how long:
            # its max_wait is in jobs.json)
    return problems


def missed_deadlines(spec: Spec, board: Board, now: float) -> list[Problem]:
    """A problem for each job whose deadline passed while it is not done (in every ``decide.mode``: the deadline
    is the operator's own word in jobs.json)."""
    from jobdeck.decide.heuristic import Heuristic
    from jobdeck.decide.policy import policy_of
    from jobdeck.decide.times import zoned_text
    from jobdeck.state.durations import format_duration
    from jobdeck.state.health import Problem

    if not any(job.deadline is not None for job in spec.jobs):
        return []
    heuristic = Heuristic(policy_of(spec), board)
    problems = []
    for job_id, deadline in heuristic.missed(now):
        state = board.state(job_id)
        when = zoned_text(deadline, heuristic.policy.jobs[job_id].timezone, now)
        problems.append(Problem("deadline_missed", f"{job_id} missed its deadline {when} "
                                                   f"{format_duration(now - deadline)} ago and is not done "
                                                   f"({state.status.value}); see `jobdeck why {job_id}`",
                                job_id, now - deadline))
    return problems


def waits_past_max_wait(spec: Spec, board: Board, now: float) -> list[Problem]:
    """A problem for each job waiting past its max_wait, not started (in every ``decide.mode``, as a deadline)."""
    from jobdeck.decide.heuristic import Heuristic
    from jobdeck.decide.policy import policy_of
    from jobdeck.state.durations import format_duration
    from jobdeck.state.health import Problem

    if not any(job.max_wait is not None for job in spec.jobs):
        return []
    heuristic = Heuristic(policy_of(spec), board)
    problems = []
    for job_id, since in heuristic.waits_past(now)[0]:
        max_wait = heuristic.policy.jobs[job_id].max_wait or 0.0
        problems.append(Problem("max_wait_passed", f"{job_id} has waited {format_duration(now - since)}, past its "
                                                   f"max_wait {format_duration(max_wait)}, and has not started; see "
                                                   f"`jobdeck why {job_id}`", job_id, now - since - max_wait))
    return problems


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from jobdeck.state.terminal import one_line

    report = gather(args.deck, time.time(), waiting_age=args.review_age, floor=args.min_free)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        for runner in report["runners"]:
            state = "alive" if runner["alive"] else "process gone" if runner["gone"] else "stale"
            print(one_line(f"runner {runner['id']} (pid {runner['pid']}, {runner['host']}): {state}, "
                           f"beat {runner['age']:g}s ago, {len(runner['running'])} running"))
        counted = ", ".join(f"{n} {status}" for status, n in report["jobs"].items())
        if report["jobs_complete"]:
            past = f" ({report['jobs_past']} no longer in jobs.json, not counted)" if report["jobs_past"] else ""
            print("jobs: " + (counted or "none") + past)
        else:  # the jobs that never ran are in jobs.json alone
            print(f"jobs with history: {counted or 'none'} (jobs.json is invalid: those that never ran are not known)")
        for problem in report["problems"]:
            print(one_line(f"problem: {problem['message']}"))
        if report["ok"]:
            print("ok")
    return UNHEALTHY if args.check and not report["ok"] else 0
