"""Time `jobdeck ls --json` on a deck of 10,000 jobs (target: under 300 ms).

Usage: .venv/bin/python bench/ls.py [--jobs N] [--runs N] [--keep DIR]

Builds a deck with N jobs (chains of dependencies, some labels, a few cron
schedules and high-risk jobs) and a log of events (claims and results for a
tenth of the jobs), then runs `jobdeck ls --json` as a subprocess: ``--runs``
times cold (no .jobdeck/cards.jsonl: jobs.json is validated, the log folded and
the cache written) and ``--runs`` times warm (served from the cache), and prints
median, min and max wall time, plus the CPU time (user+sys) of the median run,
which other load on the machine disturbs less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from jobdeck.state.board import Store  # noqa: E402
from jobdeck.state.cardcache import CARDS_NAME  # noqa: E402
from jobdeck.state.deck import init_deck  # noqa: E402


def build_deck(root: Path, jobs: int) -> None:
    """A deck at ``root`` with ``jobs`` jobs and events for a tenth of them."""
    spec_jobs = []
    for n in range(jobs):
        job: dict[str, object] = {"id": f"job-{n:05d}", "command": ["echo", str(n)]}
        if n % 10:
            job["depends_on"] = [f"job-{n - 1:05d}"]
        if n % 7 == 0:
            job["labels"] = ["nightly", f"group-{n % 5}"]
        if n % 500 == 0:
            job["schedule"] = "0 2 * * *"
        if n % 250 == 3:
            job["risk"] = "high"
        spec_jobs.append(job)
    init_deck(root, (json.dumps({"jobs": spec_jobs}, indent=2) + "\n").encode())
    deck_events = []
    for n in range(0, jobs, 10):
        job_id = f"job-{n:05d}"
        deck_events.append({"type": "claimed", "job": job_id, "attempt": 1, "runner": "bench"})
    from jobdeck.state.deck import Deck

    with Store(Deck(root)) as store:
        store.commit(deck_events)
        tokens = {job: st.token for job, st in store.board.jobs.items()}
        store.commit([{"type": "succeeded", "job": job, "token": token, "exit_code": 0}
                      for job, token in tokens.items()])


def time_ls(root: Path, *, cold: bool) -> tuple[float, float, bytes]:
    """Wall and CPU time of one `jobdeck ls --json` subprocess, and its output."""
    if cold:
        (root / ".jobdeck" / CARDS_NAME).unlink(missing_ok=True)
    argv = [sys.executable, "-m", "jobdeck", "--deck", str(root), "ls", "--json"]
    env = dict(os.environ)
    cpu_before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, cwd=ROOT, check=True)
    return time.perf_counter() - start, _children_cpu() - cpu_before, done.stdout


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report(label: str, runs: list[tuple[float, float, bytes]]) -> None:
    walls = sorted(run[0] for run in runs)
    median = statistics.median(walls)
    cpu = statistics.median(run[1] for run in runs)
    print(f"ls --json {label} x{len(runs)}: median {median * 1000:.0f} ms, min {walls[0] * 1000:.0f} ms, "
          f"max {walls[-1] * 1000:.0f} ms (CPU {cpu * 1000:.0f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", metavar="DIR", help="build the deck here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep) if args.keep else Path(scratch) / "deck"
        start = time.perf_counter()
        build_deck(root, args.jobs)
        print(f"deck: {args.jobs} jobs, {args.jobs // 10 * 2} events, built in {time.perf_counter() - start:.2f}s")
        cold = [time_ls(root, cold=True) for _ in range(args.runs)]
        warm = [time_ls(root, cold=False) for _ in range(args.runs)]
        assert all(run[2] == cold[0][2] for run in cold + warm), "cached and computed answers differ"
        print(f"cards: {len(json.loads(cold[0][2]))}; load average {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} CPUs")
        report("cold (validate + fold, cache written)", cold)
        report("warm (from .jobdeck/cards.jsonl)", warm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
