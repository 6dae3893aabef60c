#!/usr/bin/env python3
"""How to spawn a child fastest from a runner-sized Python process.

    .venv/bin/python bench/spawn.py [--jobs 300] [--runs 3]

Compares, for `true` with stdio on /dev/null and its own session:
subprocess.Popen with pass_fds (what asyncio uses), the same from two threads
(does fork_exec overlap?), and os.posix_spawn with setsid and a dup2 of an
extra descriptor (how a lease could be passed). Prints ms per job, medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import jobdeck.state.spec  # noqa: E402,F401  (make the process as big as a runner)

TRUE = shutil.which("true") or "/bin/true"


def popen(n: int) -> None:
    for _ in range(n):
        subprocess.Popen([TRUE], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, pass_fds=(0,)).wait()


def popen_two_threads(n: int) -> None:
    threads = [threading.Thread(target=popen, args=(n // 2,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def posix_spawn(n: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    env = dict(os.environ)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2, 3)]
    for _ in range(n):
        os.waitpid(os.posix_spawn(TRUE, [TRUE], env, setsid=True, file_actions=actions), 0)
    os.close(devnull)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ways = {"Popen(setsid, pass_fds)": popen, "Popen from 2 threads": popen_two_threads,
            "posix_spawn(setsid, dup2)": posix_spawn}
    results: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.runs):
        for name, way in ways.items():  # interleaved, so load drift hits all alike
            start = time.perf_counter()
            way(args.jobs)
            results[name].append((time.perf_counter() - start) / args.jobs * 1000)
    print(f"load average {os.getloadavg()[0]:.2f}; ms per job, median (min-max) of {args.runs} runs")
    for name, values in results.items():
        print(f"{name:28} {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
