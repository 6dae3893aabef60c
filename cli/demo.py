"""`jobdeck demo`: the nightly enrichment example in a fresh deck, running, in the cockpit.

A newcomer's first command. It copies the ``nightly-enrichment`` example (package data) into a
new deck, fires the pipeline's head once (its cron would wait for 02:00),
starts ``jobdeck run`` in the background and opens the cockpit; quitting the
cockpit, or the demo ending any other way (a hang-up, a kill), stops that
runner. ``--headless`` runs the same deck with ``jobdeck run --once`` and prints
where every job ended up, exiting 0 only when that is the end state the example
is built to reach: a smoke test for CI.
The runner is a separate process in both modes, exactly as a user would run it;
its output goes to ``<deck>/logs/runner.log``, outside the folders the runner
and the cockpit watch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobdeck.state.atomic import make_private_dir
from jobdeck.state.deck import Deck, init_deck
from jobdeck.state.errors import JobdeckError
from jobdeck.state.heartbeat import read_heartbeats

if TYPE_CHECKING:
    from jobdeck.state.machine import Attempt, JobState
    from jobdeck.state.spec import Spec

EXAMPLE = "nightly-enrichment"
DEFAULT_PACE = "1"
"""Seconds each shell step pauses in the interactive demo ($JOBDECK_DEMO_PACE), so cards visibly move."""
RUNNER_START_TIMEOUT = 30.0
RUN_ONCE_TIMEOUT = 600.0
STOP_TIMEOUT = 20.0
"""How long a stopped runner may take to let attempts finish (its own grace is 10 s)."""

#: Where each job of the example ends after one fire, offline: the column, and a
#: phrase its reason or flags must contain.
EXPECTED: dict[str, tuple[str, str | None]] = {
    "load-leads": ("done", None),
    "clean-leads": ("done", None),
    "firmographics": ("done", None),
    "company-research": ("done", None),
    "news-signals": ("review", "invalid output"),
    "lead-scoring": ("done", None),
    "hot-leads": ("done", None),
    "merge-enrichment": ("done", None),
    "account-brief": ("backlog", "blocked by news-signals"),
    "outreach-drafts": ("review", "review required"),
    "queue-outreach": ("backlog", "blocked by outreach-drafts"),
    "crm-writeback": ("backlog", "awaiting approval"),
    "nightly-report": ("backlog", "blocked by crm-writeback"),
}
RETRIED = "firmographics"
"""The job whose first attempt fails on purpose (exit 75) and is retried."""


def example_dir() -> Path:
    """The example, installed with jobdeck as package data (``jobdeck.examples``)."""
    from importlib import resources

    found = Path(str(resources.files("jobdeck.examples") / EXAMPLE))
    if not (found / "jobs.json").is_file():
        raise JobdeckError(f"the {EXAMPLE} example is missing from this install of jobdeck ({found})",
                           hint="reinstall jobdeck: pip install --force-reinstall jobdeck")
    return found


def create_demo_deck(root: Path, example: Path | None = None) -> Deck:
    """A new deck at ``root`` holding the example; refuses an existing non-empty directory."""
    example = example or example_dir()
    if example.resolve() in (root.resolve(), *root.resolve().parents):
        raise JobdeckError(f"{root} is inside the example {example}; the demo copies it elsewhere",
                           hint="pick a directory outside it, e.g. `jobdeck demo /tmp/jobdeck-demo`")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise JobdeckError(f"{root} already exists and is not empty; the demo needs a fresh directory",
                           hint=f"pick a new one, e.g. `jobdeck demo {root}-2`")
    deck = init_deck(root, (example / "jobs.json").read_bytes())
    for entry in sorted(example.iterdir()):
        if entry.name == "jobs.json" or entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        target = deck.root / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(entry, target)
    spec = _spec(deck)
    for workspace in sorted({job.workspace for job in spec.jobs}):
        make_private_dir(deck.inbox_dir(workspace))
    return deck


def fire_head(deck: Deck) -> str:
    """Start a cycle of the scheduled head job (and everything downstream) now; return its id."""
    from jobdeck.state.actions import act
    from jobdeck.state.board import open_store

    spec = _spec(deck)
    heads = [job.id for job in spec.jobs if job.schedule is not None]
    if not heads:
        raise JobdeckError(f"{deck.spec_path} has no scheduled job to fire")
    with open_store(deck) as store:
        act(store, spec, heads[0], "trigger", via="demo",
            reason="jobdeck demo: fired once now instead of waiting for its schedule")
    return heads[0]


def runner_log(deck: Deck) -> Path:
    """Where the demo's runner writes: not in a watched folder, so its own log wakes no one."""
    return deck.root / "logs" / "runner.log"


def runner_command(deck: Deck, *args: str) -> list[str]:
    """``jobdeck --deck DECK run ARGS`` in this interpreter (no dependence on $PATH)."""
    return [sys.executable, "-m", "jobdeck", "--deck", str(deck.root), "run", *args]


def runner_env(pace: str | None) -> dict[str, str]:
    """The runner's environment: ours and the step pace."""
    env = dict(os.environ)
    if pace is None:
        env.pop("JOBDECK_DEMO_PACE", None)
    else:
        env["JOBDECK_DEMO_PACE"] = pace
    return env


def start_runner(deck: Deck, pace: str | None) -> subprocess.Popen[bytes]:
    """A long-running `jobdeck run` in the background; returns once it is up (or fails clearly).

    It stops when this process ends, however it ends (``runner/lifeline.py``): the
    write end of its lifeline stays open here, unreferenced, until this process exits.
    In a session of its own, it gets no SIGHUP or ^C from the terminal, which would
    end it without its grace: it stops through ``stop_runner`` or its lifeline.
    """
    from jobdeck.runner import lifeline

    log_path = runner_log(deck)
    make_private_dir(log_path.parent)
    read_end, _ = lifeline.hand_out()
    env = {**runner_env(pace), lifeline.ENV: str(read_end)}
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(runner_command(deck), cwd=deck.root, env=env, pass_fds=(read_end,),
                                    start_new_session=True, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
    finally:
        os.close(read_end)
    deadline = time.monotonic() + RUNNER_START_TIMEOUT
    pause = 0.02
    while not _heartbeat_of(deck, proc.pid):
        if proc.poll() is not None:
            raise JobdeckError(f"the runner exited with code {proc.returncode} before it started",
                               hint=f"see {log_path}")
        if time.monotonic() > deadline:
            stop_runner(proc)
            raise JobdeckError(f"the runner did not start within {RUNNER_START_TIMEOUT:g}s",
                               hint=f"see {log_path}")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.2)
    return proc


def _heartbeat_of(deck: Deck, pid: int) -> bool:
    """Whether the runner with this pid has written its heartbeat (it does so on its first turn)."""
    return any(beat.pid == pid for beat in read_heartbeats(deck.runners_dir))


def stop_runner(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM (the runner lets running attempts finish), then SIGKILL if it takes too long."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def run_once(deck: Deck) -> int:
    """`jobdeck run --once` until nothing more can run; its exit code (1 = some job is not done)."""
    log_path = runner_log(deck)
    make_private_dir(log_path.parent)
    with open(log_path, "ab") as log:
        try:
            result = subprocess.run(runner_command(deck, "--once"), cwd=deck.root, env=runner_env(None),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    timeout=RUN_ONCE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise JobdeckError(f"the runner did not finish within {RUN_ONCE_TIMEOUT:g}s",
                               hint=f"see {log_path}") from None
    if result.returncode not in (0, 1):
        raise JobdeckError(f"the runner failed with exit code {result.returncode}", hint=f"see {log_path}")
    return result.returncode


# -- the summary ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One job in the headless summary."""

    job: str
    workspace: str
    column: str
    tries: int
    why: str
    problem: str | None


def summarise(deck: Deck) -> list[Row]:
    """Every job's column, tries this cycle and reason, checked against the expected end state."""
    from jobdeck.state.board import open_store
    from jobdeck.state.views import card

    spec = _spec(deck)
    now = time.time()
    rows = []
    with open_store(deck) as store:
        board = store.board
        for job in spec.jobs:
            state = board.state(job.id)
            shown = card(job, state, board, now)
            why = _why(state, shown.flags)
            rows.append(Row(job.id, job.workspace, state.status.value, state.tries, why,
                            _problem(job.id, state, why)))
    return rows


def _why(state: JobState, flags: tuple[str, ...]) -> str:
    cycle_attempts = state.attempts[len(state.attempts) - state.tries:] if state.tries else ()
    retried = [f"attempt {a.n} failed ({_reason_words(a)}), retried" for a in cycle_attempts[:-1]
               if a.outcome == "failed"]
    parts = list(retried)
    if state.reason and state.status.value in ("review", "failed", "cancelled"):
        parts.append(state.reason + (f": {state.reasons[0]}" if state.reasons else ""))
    parts += [flag for flag in flags if not flag.startswith("next fire") and flag != state.reason]
    return "; ".join(parts)


def _reason_words(attempt: Attempt) -> str:
    """'exit code 75', 'idle timeout'... from an attempt's reason code."""
    words = (attempt.reason or "failed").replace("_", " ")
    return f"{words} {attempt.exit_code}" if attempt.reason == "exit_code" else words


def _problem(job_id: str, state: JobState, why: str) -> str | None:
    expected = EXPECTED.get(job_id)
    if expected is None:
        return "not part of the example's expected end state"
    column, phrase = expected
    if state.status.value != column:
        return f"expected {column}"
    if phrase and phrase not in why:
        return f"expected {phrase!r}"
    if job_id == RETRIED and state.tries != 2:
        return f"expected 2 attempts (first exits 75), saw {state.tries}"
    return None


def print_summary(deck: Deck, rows: list[Row], head: str) -> None:
    """The --headless table: one aligned line per job (plain text, for CI logs), then the counts."""
    headers = ("JOB", "WORKSPACE", "COLUMN", "TRIES", "WHY")
    cells = [(r.job, r.workspace, r.column, str(r.tries), r.why + (f"  <-- {r.problem}" if r.problem else ""))
             for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers[:-1])]
    for line in [headers, *cells]:
        print(("  ".join(value.ljust(width) for value, width in zip(line, widths)) + "  " + line[-1]).rstrip())
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.column] = counts.get(row.column, 0) + 1
    print()
    print(", ".join(f"{counts[c]} {c}" for c in ("done", "review", "backlog", "running", "failed", "cancelled")
                    if c in counts) + f" (after firing {head} once; runner log: {runner_log(deck)})")


def print_alerts(deck: Deck) -> None:
    """What the example's notify hook kept in alerts.log: the alerts that would reach a phone."""
    from jobdeck.state.terminal import one_line

    try:
        lines = (deck.root / "alerts.log").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    print(f"\nalerts for the operator (notify section; kept in {deck.root / 'alerts.log'}):")
    for line in lines:
        if not line.startswith(" "):  # the title lines; each message's body follows, indented
            print("  " + one_line(line))


def _spec(deck: Deck) -> Spec:
    from jobdeck.state.loader import load_spec

    return load_spec(deck.spec_path).spec


# -- the command ---------------------------------------------------------------------


DEFAULT_DIR = "demo-deck"


def free_demo_dir(cwd: Path) -> Path:
    """``demo-deck`` in ``cwd``, or the first of ``demo-deck-2``, ``-3``... that is free (a second demo is new)."""
    n = 1
    while True:
        candidate = cwd / (DEFAULT_DIR if n == 1 else f"{DEFAULT_DIR}-{n}")
        if not candidate.exists() or (candidate.is_dir() and not any(candidate.iterdir())):
            return candidate
        n += 1


def command_name() -> str:
    """How to type jobdeck again from here: ``jobdeck`` when that is on $PATH and is this one, else this path."""
    invoked = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    on_path = shutil.which("jobdeck")
    if invoked is not None and invoked.name == "jobdeck":
        if on_path is not None and Path(on_path).resolve() == invoked.resolve():
            return "jobdeck"
        try:
            return str(invoked.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(invoked.resolve())
    if on_path is not None:
        return "jobdeck"
    return f"{sys.executable} -m jobdeck"


def run_demo(path: Path | None, *, headless: bool = False) -> int:
    """`jobdeck demo [DIR] [--headless]`; returns the exit code."""
    if not headless:  # (before a deck is made or a runner started for a cockpit that cannot open)
        from jobdeck.cockpit.tty import need_terminal

        need_terminal("`jobdeck demo --headless` runs the demo to its end and prints a summary")
    if path is None:
        path = free_demo_dir(Path.cwd())
        if path.name != DEFAULT_DIR:
            print(f"{DEFAULT_DIR} is taken (an earlier demo): making {path.name}", flush=True)
        path = Path(path.name)
    deck = create_demo_deck(path)
    head = fire_head(deck)
    shown = str(path)
    me = command_name()
    if headless:
        print(f"demo deck {deck.root}: fired {head}; running until nothing more can run...", flush=True)
        run_once(deck)
        rows = summarise(deck)
        print_summary(deck, rows, head)
        print_alerts(deck)
        problems = [row for row in rows if row.problem]
        if problems:
            print(f"jobdeck demo: {len(problems)} job(s) not in the expected end state", file=sys.stderr)
            return 1
        print("end state as expected. Next: approve the CRM write-back and run again:")
        print(f"  {me} --deck {shown} approve crm-writeback && {me} --deck {shown} run --once")
        return 0
    from jobdeck.cockpit.app import run_cockpit

    runner = start_runner(deck, os.environ.get("JOBDECK_DEMO_PACE") or DEFAULT_PACE)
    try:
        code = run_cockpit(deck)
    finally:
        print("stopping the runner (running attempts may finish first)...", flush=True)
        stop_runner(runner)
    print(f"demo deck: {deck.root}  (runner log: {runner_log(deck)})")
    print(f"  continue:   {me} --deck {shown} run   # in one terminal")
    print(f"              {me} --deck {shown} cockpit   # in another")
    print(f"  the inbox:  cp {shown}/samples/late-leads.csv {shown}/workspaces/crm/inbox/")
    return code
