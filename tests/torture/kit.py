"""Shared checks for the torture tests: a ledger of starts, and the "nothing lost" audit.

Every torture test ends with the same questions, asked of the files alone (not of
any process that may have lied before it died): does every file parse, does the
chain of work verify, did any attempt start twice, did any job vanish.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.functional.runner_kit import ROOT, board, env_for, jobdeck, wait_for

FINAL = {"done", "review", "failed", "cancelled"}


def ledger_script(ledger: Path, pause: str = "0.0$((RANDOM % 3))") -> str:
    """A bash job that records each start and detects two concurrent runs of one job.

    ``mkdir`` is atomic: a second concurrent start of the same job fails it and
    writes DOUBLE; every start appends the attempt number to ``<job>.starts``.
    """
    return (f"mkdir {ledger}/$JOBDECK_JOB.running 2>/dev/null || echo $JOBDECK_JOB >> {ledger}/doubles; "
            f"echo $JOBDECK_ATTEMPT >> {ledger}/$JOBDECK_JOB.starts; sleep {pause}; "
            f"rmdir {ledger}/$JOBDECK_JOB.running")


def ledger_jobs(ledger: Path, count: int, prefix: str = "j", **extra: Any) -> list[dict[str, Any]]:
    """``count`` ledger jobs (ids ``<prefix>0000``...)."""
    script = ledger_script(ledger)
    return [{"id": f"{prefix}{i:04d}", "command": ["bash", "-c", script], **extra} for i in range(count)]


def starts(ledger: Path, job_id: str) -> list[str]:
    """Attempt numbers the job was started with, in order."""
    path = ledger / f"{job_id}.starts"
    return path.read_text().split() if path.exists() else []


@dataclass
class Audit:
    """What a deck's files say after the torture: every count should be 0."""

    corrupt_files: list[str] = field(default_factory=list)
    leftover_temp_files: list[str] = field(default_factory=list)
    chain_ok: bool = True
    double_starts: list[str] = field(default_factory=list)
    lost_jobs: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)


def corrupt_files(deck: Path) -> tuple[list[str], list[str]]:
    """(files that do not parse, leftover temp files) under the deck's state and runs."""
    corrupt, temps = [], []
    for path in deck.rglob("*"):
        if not path.is_file() or "inbox" in path.parts:
            continue
        name = path.name
        if name.endswith(".tmp"):
            temps.append(str(path.relative_to(deck)))
            continue
        try:
            if name.endswith(".json"):
                json.loads(path.read_bytes())
            elif name.endswith(".jsonl"):
                data = path.read_bytes()
                if data and not data.endswith(b"\n"):
                    raise ValueError("torn last line")
                for line in data.splitlines():
                    json.loads(line)
        except ValueError:
            corrupt.append(str(path.relative_to(deck)))
    return corrupt, temps


def audit(deck: Path, ledger: Path, job_ids: list[str]) -> Audit:
    """Read the deck and the ledger; list every corruption, double start and lost job."""
    result = Audit()
    result.corrupt_files, result.leftover_temp_files = corrupt_files(deck)
    result.chain_ok = jobdeck(deck, "audit", "verify").returncode == 0
    states = board(deck)
    if (ledger / "doubles").exists():
        result.double_starts.extend((ledger / "doubles").read_text().split())
    for job_id in job_ids:
        st = states.get(job_id)
        status = st.status.value if st else "backlog"
        result.states[job_id] = status
        tries = starts(ledger, job_id)
        if len(tries) != len(set(tries)):
            result.double_starts.append(job_id)  # one attempt number started twice
        if status not in FINAL:
            result.lost_jobs.append(job_id)
        elif status == "done" and not tries:
            result.lost_jobs.append(job_id)  # done without ever running
        elif status == "review" and st is not None and st.reason != "interrupted" and not tries:
            result.lost_jobs.append(job_id)
    return result


def start_runner(deck: Path, *args: str, env: dict[str, str] | None = None,
                 preexec_fn: Any = None, stdout: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """`jobdeck run --json ARGS` in the background (JSON lines on stdout).

    Pass a file as ``stdout`` to keep the lines; never an unread pipe: a runner
    that prints an event per transition fills a pipe's 64 KiB and blocks on it.
    """
    return subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--json", *args], cwd=deck,
                            env=env or env_for(deck), stdout=stdout, stderr=subprocess.PIPE,
                            text=True, preexec_fn=preexec_fn)


def stop(proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """SIGTERM and wait (SIGKILL if it will not stop)."""
    if proc.poll() is None:
        if proc.returncode is None:
            try:
                os.kill(proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def claims_by_pid(deck: Path, pid: int) -> int:
    """How many claims the runner with this pid has made (read from the log)."""
    path = deck / ".jobdeck" / "events.jsonl"
    count = 0
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        for line in f:
            if b'"claimed"' in line and f'"pid":{pid}'.encode() in line:
                count += 1
    return count


def drain(deck: Path, job_ids: list[str], rounds: int = 40) -> None:
    """Run `jobdeck run --once` until every job is final (orphans finish, recovery records them)."""
    for _ in range(rounds):
        states = board(deck)
        if all(states.get(j) is not None and states[j].status.value in FINAL for j in job_ids):
            return
        jobdeck(deck, "run", "--once", timeout=120)


def restart_to_running(deck: Path, *args: str) -> tuple[subprocess.Popen[str], float]:
    """Start a runner; return it and the seconds until its first claim is durable."""
    began = time.monotonic()
    proc = start_runner(deck, *args)
    wait_for(lambda: claims_by_pid(deck, proc.pid) > 0 or proc.poll() is not None, timeout=30,
             what="the restarted runner's first claim")
    return proc, time.monotonic() - began


def write_figure(name: str, row: dict[str, Any]) -> None:
    """Append one result row to $JOBDECK_TORTURE_LOG (JSON lines), if set, for docs/RELIABILITY.md."""
    target = os.environ.get("JOBDECK_TORTURE_LOG")
    if target:
        with open(target, "a") as f:
            f.write(json.dumps({"test": name, **row}) + "\n")


__all__ = ["ROOT", "Audit", "audit", "board", "claims_by_pid", "drain", "env_for", "jobdeck",
           "ledger_jobs", "restart_to_running", "start_runner", "starts", "stop", "wait_for", "write_figure"]


def reports(path: Path) -> list[dict]:
    """The JSON lines a runner printed to ``path`` (`run --json`); other lines are skipped."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pass
    return records


def total_starts(ledger: Path, ids: list[str]) -> int:
    """How many attempts of ``ids`` the ledger saw start."""
    return sum(len(starts(ledger, j)) for j in ids)
