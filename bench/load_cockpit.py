"""The cockpit open on a deck under load: its change-to-screen latency, and the runner's memory.

Usage: .venv/bin/python bench/load_cockpit.py [--queued 10000] [--llm 50] [--gates 5] [--profile FILE]

Issue 7's load case: ``--queued`` ``true`` jobs and ``--llm`` LLM jobs against the
local OpenAI-compatible server (tests/fixtures/llm_server.py, 1 s per reply), a
runner (`jobdeck run --once`) working through them, and the cockpit open on a
pseudo-terminal (120x40) the whole time. ``--gates`` more jobs, claimed first,
each wait for a file of their own and then fail; this script releases them one
at a time while the runner is busy, and times each failure from its event's
timestamp in the log (sealed by the runner) to the cockpit's header showing
the new Failed count. Also prints the cockpit's CPU use while the gates are
timed (under this load every CPU millisecond it needs costs it several on the
wall clock) and the runner's peak RSS (VmHWM). ``--profile FILE`` records the
cockpit with py-spy meanwhile. Targets: change to screen < 250 ms, runner RSS
< 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repo root, for tests.fixtures
sys.path.insert(0, str(ROOT / "bench"))

from cockpit import Terminal  # noqa: E402  (bench/cockpit.py)
from runner_memory import KEY_VAR, MODEL, status_kb  # noqa: E402
from jobdeck.state.deck import init_deck  # noqa: E402
from tests.fixtures.llm_server import LLMServer  # noqa: E402


def build_deck(root: Path, queued: int, llm: int, gates: int, url: str) -> None:
    gate = 'while [ ! -e "$0" ]; do sleep 0.01; done; exit 3'
    jobs: list[dict[str, Any]] = [
        {"id": f"gate{n}", "command": ["sh", "-c", gate, str(root.parent / f"gate{n}")], "priority": 20,
         "retry": {"max_attempts": 1}} for n in range(gates)]
    jobs += [{"id": f"llm{n:03d}", "agent": "local", "model": MODEL, "prompt": f"job {n}", "priority": 10}
             for n in range(llm)]
    jobs += [{"id": f"q{n:05d}", "command": ["true"]} for n in range(queued)]
    agents = {"local": {"type": "llm", "api_base": url, "api_key": {"env": KEY_VAR}}}
    init_deck(root, (json.dumps({"agents": agents, "jobs": jobs}, indent=1) + "\n").encode())


def failed_at(log: Path, job: str) -> float | None:
    """The ts of ``job``'s failed event, once it is in the log."""
    for line in log.read_bytes().splitlines():
        if b'"failed"' in line and f'"{job}"'.encode() in line:
            record = json.loads(line)
            if record.get("type") == "failed" and record.get("job") == job:
                return float(record["ts"])
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--llm", type=int, default=50)
    parser.add_argument("--gates", type=int, default=5)
    parser.add_argument("--profile", metavar="FILE",
                        help="record the cockpit with py-spy (raw folded stacks) while the gates are timed")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="jobdeck-load-") as tmp, LLMServer(latency=1.0, tokens=50) as server:
        deck = Path(tmp) / "deck"
        build_deck(deck, args.queued, args.llm, args.gates, server.base_url)
        log = deck / ".jobdeck" / "events.jsonl"
        term = Terminal([sys.executable, "-m", "jobdeck", "--deck", str(deck), "cockpit"], ROOT)
        runner = profiler = None
        try:
            term.wait_for(b"Failed 0", timeout=60)
            env = {**os.environ, KEY_VAR: "sk-bench-load"}
            parallel = args.gates + args.llm + 4
            runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "--deck", str(deck), "run", "--once",
                                       "--quiet", "--parallel", str(parallel)], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            while len(server.calls(MODEL.split("/", 1)[1])) < min(args.llm, 10):  # the LLM jobs are in flight
                if runner.poll() is not None:
                    raise SystemExit(f"the runner exited early: {runner.stderr.read()[-2000:]}")  # type: ignore[union-attr]
                term.drain(0.05)
            if args.profile:
                profiler = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking",
                                             "-f", "raw", "-o", args.profile, "--pid", str(term.process.pid)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            latencies, peak = [], 0
            cpu_before, wall_before = term.cpu_seconds(), time.perf_counter()
            for n in range(args.gates):
                (Path(tmp) / f"gate{n}").touch()
                seen = term.wait_for(f"Failed {n + 1}".encode(), timeout=30)
                seen_wall = time.time() - (time.perf_counter() - seen)
                ts = None
                while ts is None:
                    ts = failed_at(log, f"gate{n}")
                latencies.append(seen_wall - ts)
                peak = max(peak, status_kb(runner.pid).get("VmHWM", 0))
                print(f"gate{n}: failed event -> screen {latencies[-1] * 1000:.0f} ms "
                      f"(queue left: runner busy: {runner.poll() is None})", flush=True)
            cockpit_cpu = (term.cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait()
            while runner.poll() is None:
                peak = max(peak, status_kb(runner.pid).get("VmHWM", 0))
                term.drain(0.05)
        finally:
            if profiler is not None and profiler.poll() is None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait()
            term.close()
            if runner is not None and runner.poll() is None:
                runner.terminate()
                runner.wait()
    print(f"\n{args.queued} queued + {args.llm} LLM jobs, cockpit open: change to screen median "
          f"{statistics.median(latencies) * 1000:.0f} ms (max {max(latencies) * 1000:.0f}) over {len(latencies)} "
          f"changes; cockpit CPU while timed {cockpit_cpu:.0%} of a core; runner peak RSS {peak / 1024:.0f} MB; "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
