#!/usr/bin/env python3
"""What an attempt's boundary costs the runner, per `true` attempt.

    .venv/bin/python bench/boundary.py [--jobs 400] [--runs 3]

Runs `true` the way run_process does (Child.spawn, keep the leader unreaped,
stop the boundary, release), one attempt after another, with each boundary:
the process group alone (what every attempt had before boundaries), the
subreaper fallback and, where this user may make cgroups, a cgroup per attempt.
Each boundary runs in a fresh interpreter (the runner process becomes a
subreaper or moves into a cgroup). Prints medians of the runner's CPU time and
wall time per attempt (wall includes the child's own run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("group", "subreaper", "cgroup")


async def attempts(kind: str, jobs: int) -> tuple[float, float]:
    from jobdeck.agents.boundary import Boundary, GroupBoundary
    from jobdeck.agents.child import Child
    from jobdeck.agents.containment import Containment

    directory = Path(tempfile.mkdtemp(prefix="jobdeck-boundary-"))
    containment = None if kind == "group" else Containment.detect(kind)
    null = os.open(os.devnull, os.O_WRONLY)
    lease = os.open(directory / "stderr.log", os.O_RDONLY | os.O_CREAT, 0o600)
    (directory / "output").touch()
    env = {"PATH": os.environ["PATH"]}
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(jobs):
        boundary: Boundary = GroupBoundary() if containment is None else containment.open(directory, lease)
        boundary.prepare()
        child = Child.spawn(["true"], cwd=directory, env={**env, **boundary.env}, stdout=null, stderr=null,
                            pass_fds=(lease,), keep_zombie=boundary.keeps_leader, started=boundary.adopt)
        await child.wait()
        await boundary.stop(5.0)
        child.release()
        boundary.release_leader()
        boundary.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if containment is not None:
        containment.close()
    return cpu / jobs * 1000, wall / jobs * 1000


def one_run(kind: str, jobs: int) -> dict[str, float] | None:
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--jobs", str(jobs)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cpu, wall = asyncio.run(attempts(args.child, args.jobs))
        print(json.dumps({"cpu": cpu, "wall": wall}))
        return
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    for _ in range(args.runs):  # interleaved, so drift hits all alike
        for kind in KINDS:
            figures = one_run(kind, args.jobs)
            if figures is not None:
                results[kind].append(figures)
    print(f"## {args.jobs} `true` attempts in a row, {args.runs} runs, load {os.getloadavg()[0]:.1f} "
          f"(ms per attempt, median)")
    for kind, runs in results.items():
        if not runs:
            print(f"{kind:10} unavailable here")
            continue
        print(f"{kind:10} runner cpu {statistics.median(r['cpu'] for r in runs):.3f}   "
              f"wall {statistics.median(r['wall'] for r in runs):.3f}")


if __name__ == "__main__":
    main()
