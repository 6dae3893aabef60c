"""The runner's peak memory with 10,000 queued jobs and 50 concurrent LLM jobs (target: < 300 MB).

Usage: .venv/bin/python bench/runner_memory.py [--queued 10000] [--llm 50] [--parallel N]
                                               [--latency 1.0] [--tokens 50] [--runs 3]

Builds a deck of ``--queued`` ``true`` jobs plus ``--llm`` LLM jobs (higher
priority, so they are all in flight while the queue drains) against the local
OpenAI-compatible server (tests/fixtures/llm_server.py, in this process), then
runs ``jobdeck run --once --quiet --parallel N`` on it (default N: llm + 4, as in
tests/torture/test_load.py) and polls the runner's /proc/<pid>/status every
20 ms. Prints, per run and as medians: the high-water RSS (VmHWM), the RSS when
the first LLM request reached the server (the runner has then imported litellm
and folded the deck), the most LLM requests in flight at once, and the run's
wall time. Every job must end done.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repo root, for tests.fixtures

from jobdeck.state.deck import Deck, init_deck  # noqa: E402
from tests.fixtures.llm_server import LLMServer  # noqa: E402

KEY_VAR = "JOBDECK_BENCH_MEMORY_KEY"
MODEL = "openai/memory"


def build_deck(root: Path, queued: int, llm: int, url: str) -> None:
    jobs: list[dict[str, Any]] = [{"id": f"q{n:05d}", "command": ["true"]} for n in range(queued)]
    jobs += [{"id": f"llm{n:03d}", "agent": "local", "model": MODEL, "prompt": f"job {n}", "priority": 10}
             for n in range(llm)]
    agents = {"local": {"type": "llm", "api_base": url, "api_key": {"env": KEY_VAR}}}
    init_deck(root, (json.dumps({"agents": agents, "jobs": jobs}, indent=1) + "\n").encode())


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in KiB ({} once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    return {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()
            if line.startswith(("VmRSS:", "VmHWM:"))}


def in_flight(starts: list[float], latency: float) -> int:
    """The most requests started within one ``latency`` window (each takes at least that long)."""
    best, first = 0, 0
    for last, at in enumerate(starts):
        while at - starts[first] >= latency:
            first += 1
        best = max(best, last - first + 1)
    return best


def one_run(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    with LLMServer(latency=args.latency, tokens=args.tokens) as server:
        deck = tmp / "deck"
        build_deck(deck, args.queued, args.llm, server.base_url)
        env = {**os.environ, "JOBDECK_DECK": str(deck), KEY_VAR: "sk-bench-memory"}
        command = [sys.executable, "-m", "jobdeck", "run", "--once", "--quiet", "--parallel", str(args.parallel)]
        began = time.monotonic()
        with open(tmp / "runner.stderr", "w+") as errors:
            runner = subprocess.Popen(command, cwd=deck, env=env, stdout=subprocess.DEVNULL, stderr=errors)
            samples: list[tuple[float, int]] = []
            peak = 0
            while runner.poll() is None:
                status = status_kb(runner.pid)
                if status:
                    samples.append((time.monotonic(), status["VmRSS"]))
                    peak = max(peak, status["VmHWM"])
                time.sleep(0.02)  # sampling a high-water mark: a sample missed loses nothing
            took = time.monotonic() - began
            errors.seek(0)
            stderr = errors.read()
        calls = sorted(call.at for call in server.calls(MODEL.split("/", 1)[1]))
    if runner.returncode != 0:
        raise SystemExit(f"runner exited {runner.returncode}\n{stderr[-2000:]}")
    from jobdeck.state.board import Store

    with Store(Deck(deck)) as store:
        done = sum(state.status.value == "done" for state in store.board.jobs.values())
    if done != args.queued + args.llm or len(calls) != args.llm:
        raise SystemExit(f"{done}/{args.queued + args.llm} jobs done, {len(calls)}/{args.llm} LLM calls\n"
                         f"{stderr[-2000:]}")
    first_call = next((rss for at, rss in samples if at >= calls[0]), samples[-1][1]) if calls else 0
    return {"peak_mb": peak / 1024, "at_first_call_mb": first_call / 1024, "in_flight": in_flight(calls, args.latency),
            "seconds": took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--llm", type=int, default=50)
    parser.add_argument("--parallel", type=int, help="default: --llm + 4")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds before each reply starts")
    parser.add_argument("--tokens", type=int, default=50, help="tokens streamed per reply")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    args.parallel = args.parallel or args.llm + 4
    print(f"{args.queued} queued `true` jobs + {args.llm} LLM jobs ({args.tokens} tokens, {args.latency:g}s "
          f"latency), jobdeck run --once --parallel {args.parallel}; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs", flush=True)
    rows = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="jobdeck-memory-") as tmp:
            row = one_run(args, Path(tmp))
        rows.append(row)
        print(f"run {run + 1}: peak RSS {row['peak_mb']:.1f} MB, at the first LLM request "
              f"{row['at_first_call_mb']:.1f} MB, {row['in_flight']} LLM requests in flight at once, "
              f"{row['seconds']:.1f}s", flush=True)
    peaks = [row["peak_mb"] for row in rows]
    print(f"peak RSS median {statistics.median(peaks):.1f} MB (min {min(peaks):.1f}, max {max(peaks):.1f}) over "
          f"{args.runs} runs; at the first LLM request {statistics.median(r['at_first_call_mb'] for r in rows):.1f} MB; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
