"""What does the llm agent cost over calling litellm directly? (target: within 10%, RSS < 300 MB)

Usage: .venv/bin/python bench/llm_overhead.py [--jobs 200] [--concurrency 50] [--latency 0.5]
                                             [--tokens 50] [--runs 3]

Starts the local OpenAI-compatible server (tests/fixtures/llm_server.py) in its
own process, then for each run spawns one fresh worker per mode:

* ``direct``: ``--jobs`` ``litellm.acompletion(stream=True)`` calls, at most
  ``--concurrency`` at once, each stream read to the end;
* ``agent``: the same number of attempts through ``LLMAgent.run`` (attempt
  directory, output file with redaction, usage, breaker), at the same concurrency.

Each worker imports litellm and makes one warm-up call before the clock starts,
so both measure steady state. Prints the median wall time, CPU time (of the
measured section) and peak RSS (of the whole worker, litellm included) of
``--runs`` runs per mode. The runner path (claims, events) is not included yet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

API_KEY_VAR = "JOBDECK_BENCH_API_KEY"


async def direct(url: str, jobs: int, concurrency: int) -> int:
    from agents.llm_call import load_litellm

    litellm = load_litellm()
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> bool:
        async with gate:
            response = await litellm.acompletion(
                model="openai/bench", messages=[{"role": "user", "content": f"job {n}"}], stream=True,
                max_retries=0, api_base=url, api_key="sk-bench-direct", stream_options={"include_usage": True},
            )
            text = []
            async for chunk in response:
                if chunk.choices and chunk.choices[0].delta.content:
                    text.append(chunk.choices[0].delta.content)
            return bool(text)

    return sum(await asyncio.gather(*(one(n) for n in range(jobs))))


async def agent(url: str, jobs: int, concurrency: int, deck: Path, prefix: str) -> int:
    import os

    from agents.base import AttemptContext, OutputSink
    from agents.breaker import Breaker
    from agents.llm import LLMAgent
    from state.redact import Redactor
    from state.spec import Spec

    os.environ[API_KEY_VAR] = "sk-bench-agent"
    spec = Spec.model_validate({
        "agents": {"local": {"type": "llm", "api_base": url, "api_key": {"env": API_KEY_VAR}}},
        "jobs": [{"id": f"{prefix}{n}", "agent": "local", "model": "openai/bench", "prompt": f"job {n}"}
                 for n in range(jobs)],
    })
    runner_agent = LLMAgent(Breaker())
    env = dict(os.environ)
    redactor = Redactor.from_environ(env, referenced=[API_KEY_VAR])
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> bool:
        async with gate:
            attempt_dir = deck / "workspaces" / "default" / "runs" / job.id / "1"
            attempt_dir.mkdir(parents=True, mode=0o700)
            ctx = AttemptContext(
                job=job, agent_spec=spec.agents["local"], attempt=1, attempt_dir=attempt_dir,
                workspace_dir=deck / "workspaces" / "default", output=OutputSink(attempt_dir / "output", redactor),
                stderr_path=attempt_dir / "stderr.log", env=env, idle_timeout=30, hard_timeout=120,
                redactor=redactor,
            )
            try:
                outcome = await runner_agent.run(ctx)
            finally:
                ctx.output.close()
            return outcome.ok

    return sum(await asyncio.gather(*(one(job) for job in spec.jobs)))


def worker(mode: str, url: str, jobs: int, concurrency: int) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    with tempfile.TemporaryDirectory(prefix="jobdeck-bench-") as tmp:
        deck = Path(tmp)
        if mode == "agent":
            asyncio.run(agent(url, 1, 1, deck, "warmup-"))
            started, cpu_started = time.perf_counter(), time.process_time()
            ok = asyncio.run(agent(url, jobs, concurrency, deck, "job-"))
        else:
            asyncio.run(direct(url, 1, 1))
            started, cpu_started = time.perf_counter(), time.process_time()
            ok = asyncio.run(direct(url, jobs, concurrency))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "wall": wall, "ok": ok, "rss_mb": peak, "cpu": cpu}))


def measure(mode: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", mode, "--url", url, "--jobs", str(args.jobs),
         "--concurrency", str(args.concurrency)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", choices=["direct", "agent"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.url, args.jobs, args.concurrency)
        return
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fixtures" / "llm_server.py"), "--latency", str(args.latency),
         "--tokens", str(args.tokens)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        results: dict[str, list[dict[str, Any]]] = {"direct": [], "agent": []}
        for run in range(args.runs):
            for mode in ("direct", "agent") if run % 2 == 0 else ("agent", "direct"):
                results[mode].append(measure(mode, url, args))
                row = results[mode][-1]
                print(f"run {run + 1} {mode:6}: {row['wall']:.3f}s  ok {row['ok']}/{args.jobs}  "
                      f"peak RSS {row['rss_mb']:.0f} MB  CPU {row['cpu']:.2f}s", flush=True)
    finally:
        server.terminate()
        server.wait(5)
    floor = args.jobs / args.concurrency * args.latency
    print(f"\n{args.jobs} jobs, concurrency {args.concurrency}, {args.latency:g}s latency, "
          f"{args.tokens} tokens per reply (floor {floor:.2f}s); median of {args.runs}:")
    medians = {mode: statistics.median(r["wall"] for r in rows) for mode, rows in results.items()}
    for mode, rows in results.items():
        print(f"  {mode:6} wall {medians[mode]:.3f}s   peak RSS {statistics.median(r['rss_mb'] for r in rows):.0f} MB"
              f"   CPU {statistics.median(r['cpu'] for r in rows):.2f}s")
    cpu = {mode: statistics.median(r["cpu"] for r in rows) for mode, rows in results.items()}
    print(f"  agent overhead: {(medians['agent'] / medians['direct'] - 1) * 100:+.1f}% wall, "
          f"{(cpu['agent'] / cpu['direct'] - 1) * 100:+.1f}% CPU")


if __name__ == "__main__":
    main()
