#!/usr/bin/env python3
"""Runner throughput and latency, side by side with peer job runners in the same run.

    .venv/bin/python bench/throughput.py [--jobs 1000] [--parallel 2] [--runs 3] [--dir /dev/shm]

1. 1,000 `true` jobs: `jobdeck add --from` (one atomic change) + `jobdeck run --once
   --parallel 2`, and the same with every job `idempotent` (the fast path: each
   attempt starts without waiting for its claim's fsync), against task-spooler (`tsp -S 2`; with `-n`, output discarded, and
   by default, each job's output kept in a file as jobdeck keeps it), `nq`, GNU
   `parallel -j2` and `xargs -P2`, whichever are installed (apt-get install
   task-spooler nq parallel).
2. Dependency-done to dependent-started latency on a chain of 50 jobs.
3. Claim-to-start with 100 and with 100,000 past events in the log.
The "durable floor" rows are not tools: they are ``bench/durable_floor.py``, the
per-job file and process work jobdeck's guarantees require (claim synced before
the job starts, attempt directory, lease, output, result.json, and where this
process can make cgroups, as jobdeck's runner then does, a cgroup per job) in a
bare Python loop, so jobdeck's distance from them is its own overhead. "idempotent
floor" is the same loop with the fast path's rule: a job starts without waiting
for its claim's sync.
Prints medians (min-max) of --runs runs and ratios against each peer.

Every timed run starts on a settled disk (``os.sync()`` first): the deck is on
ext4 mounted with ``discard``, so the blocks freed by deleting the previous
run's files are discarded at the next journal commit, which a tool that fsyncs
(jobdeck) would otherwise pay for another tool's clean-up (it made single runs
swing between 2.3 and 7 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOBDECK = [sys.executable, "-m", "jobdeck"]


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out.update(extra)
    return out


def timed(argv: list[str] | str, **kwargs: object) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def new_deck(tmp: Path, jobs: list[dict[str, object]] | None = None) -> Path:
    from jobdeck.state.deck import init_deck

    deck = tmp / f"deck{time.perf_counter_ns()}"
    init_deck(deck, json.dumps({"jobs": jobs or []}).encode())
    return deck


def jobdeck_run(tmp: Path, n: int, parallel: int, idempotent: bool = False) -> float:
    """``idempotent``: every job ``"idempotent": true``, so each starts without waiting for its claim's fsync."""
    deck = new_deck(tmp)
    jobs = tmp / "jobs.jsonl"
    extra = {"idempotent": True} if idempotent else {}
    jobs.write_text("".join(json.dumps({"id": f"t{i:05d}", "command": ["true"], **extra}) + "\n" for i in range(n)))
    os.sync()
    add = timed([*JOBDECK, "--deck", str(deck), "add", "--from", str(jobs)], env=env())
    run = timed([*JOBDECK, "--deck", str(deck), "run", "--once", "--quiet", "--parallel", str(parallel)], env=env())
    PARTS.setdefault("add --from" + (", idempotent" if idempotent else ""), []).append(add)
    shutil.rmtree(deck)
    return add + run


PARTS: dict[str, list[float]] = {}
"""jobdeck's fixed costs, timed apart: the ``add`` of the jobs, and a ``run --once`` with nothing to run."""


def idle_run(tmp: Path) -> float:
    """``run --once`` on a deck with no jobs: start-up, spec, board, exit."""
    deck = new_deck(tmp)
    elapsed = timed([*JOBDECK, "--deck", str(deck), "run", "--once", "--quiet"], env=env())
    shutil.rmtree(deck)
    return elapsed


def writable_cgroup() -> str | None:
    """The cgroup v2 directory this process is in, if it may make groups below it (as jobdeck's runner checks)."""
    from jobdeck.agents.cgroups import own_directory

    home = own_directory()
    if home is None:
        return None
    probe = home / f"jobdeck-floor-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return None
    probe.rmdir()
    return str(home)


def durable_floor(tmp: Path, n: int, parallel: int, idempotent: bool = False) -> float:
    """bench/durable_floor.py: the file and process work jobdeck's guarantees need, and nothing else."""
    work = tmp / f"floor{time.perf_counter_ns()}"
    cgroup = writable_cgroup()
    elapsed = timed([sys.executable, str(ROOT / "bench" / "durable_floor.py"), str(work),
                     "--jobs", str(n), "--parallel", str(parallel),
                     *(["--idempotent"] if idempotent else []), *(["--cgroup", cgroup] if cgroup else [])])
    shutil.rmtree(work)
    return elapsed


def peers(n: int, parallel: int) -> dict[str, object]:
    found: dict[str, object] = {"durable floor": lambda tmp: durable_floor(tmp, n, parallel),
                                "idempotent floor": lambda tmp: durable_floor(tmp, n, parallel, idempotent=True)}
    if shutil.which("xargs"):
        found["xargs -P"] = lambda tmp: timed(f"seq {n} | xargs -P{parallel} -n1 true", shell=True)
    if shutil.which("parallel"):
        found["GNU parallel"] = lambda tmp: timed(f"seq {n} | parallel -j{parallel} true", shell=True)
    if shutil.which("tsp"):
        def tsp(tmp: Path, keep_output: bool) -> float:
            socket = str(tmp / f"tsp{time.perf_counter_ns()}")
            outputs = tmp / f"tsp-out{time.perf_counter_ns()}"
            outputs.mkdir()
            e = env(TS_SOCKET=socket, TS_MAXFINISHED=str(n + 10), TMPDIR=str(outputs))
            start = time.perf_counter()
            subprocess.run(["tsp", "-S", str(parallel)], env=e, check=True, stdout=subprocess.DEVNULL)
            for _ in range(n):
                subprocess.run(["tsp", "true"] if keep_output else ["tsp", "-n", "true"],
                               env=e, check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["tsp", "-w"], env=e, stdout=subprocess.DEVNULL)
            elapsed = time.perf_counter() - start
            subprocess.run(["tsp", "-K"], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return elapsed
        # -n: output discarded (the harder peer); default: each job's output kept in a file, as jobdeck does
        found["task-spooler"] = lambda tmp: tsp(tmp, False)
        found["tsp (outputs)"] = lambda tmp: tsp(tmp, True)
    if shutil.which("nq"):
        def nq(tmp: Path) -> float:
            qdir = tmp / f"nq{time.perf_counter_ns()}"
            qdir.mkdir()
            e = env(NQDIR=str(qdir))
            start = time.perf_counter()
            for _ in range(n):
                subprocess.run(["nq", "-q", "true"], env=e, check=True)
            subprocess.run(["nq", "-w"], env=e, check=True)
            return time.perf_counter() - start
        found["nq (serial)"] = nq
    return found


def chain_latency(tmp: Path, length: int = 50) -> list[float]:
    """ms from a job's last instruction to its dependent's first, along a chain."""
    stamp = ["sh", "-c", "date +%s.%N; date +%s.%N"]
    jobs = [{"id": f"c{i:03d}", "command": stamp, **({"depends_on": [f"c{i - 1:03d}"]} if i else {})}
            for i in range(length)]
    deck = new_deck(tmp, jobs)
    subprocess.run([*JOBDECK, "--deck", str(deck), "run", "--once", "--quiet"], env=env(), check=True)
    marks = []
    for i in range(length):
        out = (deck / "workspaces/default/runs" / f"c{i:03d}" / "1" / "output").read_text().split()
        marks.append((float(out[0]), float(out[1])))
    shutil.rmtree(deck)
    return [(marks[i + 1][0] - marks[i][1]) * 1000 for i in range(length - 1)]


def claim_to_start(tmp: Path, history: int) -> float:
    """ms from the claim event to the job's first instruction, with ``history`` past events."""
    from jobdeck.state.board import open_store
    from jobdeck.state.deck import Deck

    deck = new_deck(tmp, [{"id": "target", "command": ["date", "+%s.%N"]}, {"id": "filler", "command": ["true"]}])
    with open_store(Deck(deck)) as store:
        batch = 5000
        for start in range(0, history, batch):
            store.commit([{"type": "progress", "job": "filler", "what": "history", "n": k}
                          for k in range(start, min(history, start + batch))])
    subprocess.run([*JOBDECK, "--deck", str(deck), "run", "--once", "--quiet"], env=env(), check=True)
    claim = next(json.loads(line) for line in (deck / ".jobdeck/events.jsonl").read_text().splitlines()
                 if '"claimed"' in line and '"target"' in line)
    started = float((deck / "workspaces/default/runs/target/1/output").read_text())
    shutil.rmtree(deck)
    return (started - claim["ts"]) * 1000


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--history", type=int, default=100_000, help="past events for the second claim-cost figure")
    parser.add_argument("--chain", type=int, default=50, help="jobs in the dependency chain")
    parser.add_argument("--dir", type=Path, help="where the decks and the peers' files go (default: the temp dir); "
                        "/dev/shm takes the disk out, leaving each tool's own work")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jobdeck-bench-", dir=args.dir))
    try:
        results: dict[str, list[float]] = {"jobdeck": []}
        tools: dict[str, object] = {
            "jobdeck (idempotent)": lambda tmp: jobdeck_run(tmp, args.jobs, args.parallel, idempotent=True)}
        tools.update(peers(args.jobs, args.parallel))
        for name in tools:
            results[name] = []
        for _ in range(args.runs):  # interleave tools so drift hits all alike
            os.sync()
            results["jobdeck"].append(jobdeck_run(tmp, args.jobs, args.parallel))
            for name, run in tools.items():
                os.sync()
                results[name].append(run(tmp))  # type: ignore[operator]
        cgroup = writable_cgroup()
        print(f"## {args.jobs} `true` jobs, parallel {args.parallel}, {args.runs} runs (seconds, end to end), in {tmp.parent}")
        print(f"floors: {'a cgroup per job below ' + cgroup if cgroup else 'no cgroup (none writable here)'}")
        ours = statistics.median(results["jobdeck"])
        for name, values in results.items():
            ratio = "" if name == "jobdeck" else f"   jobdeck/peer = {ours / statistics.median(values):.2f}"
            print(f"{name:20} {summary(values)}{ratio}")
        PARTS["run --once, no jobs"] = [idle_run(tmp) for _ in range(args.runs)]
        print("of jobdeck's time, fixed costs: " + ", ".join(f"{name} {summary(values)}" for name, values in PARTS.items()))
        fast = statistics.median(results["jobdeck (idempotent)"])
        print("\njobdeck (idempotent)/peer: " + ", ".join(
            f"{name} {fast / statistics.median(values):.2f}" for name, values in results.items()
            if name != "jobdeck (idempotent)"))
        latencies = [x for _ in range(args.runs) for x in chain_latency(tmp, args.chain)]
        print(f"\n## dependency done -> dependent started (ms, chain of {args.chain}, {args.runs} runs)\n{summary(latencies)}")
        for history in (100, args.history):
            values = [claim_to_start(tmp, history) for _ in range(args.runs)]
            print(f"\n## claim -> start with {history} past events (ms)\n{summary(values)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
