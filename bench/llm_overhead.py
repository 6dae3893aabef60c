"""What does the llm agent cost over calling litellm directly? (target: within 10%, RSS < 300 MB)

Usage: .venv/bin/python bench/llm_overhead.py [--jobs 200] [--concurrency 50] [--latency 0.5]
                                             [--tokens 50] [--runs 3]

Starts the local OpenAI-compatible server (tests/fixtures/llm_server.py) in its
own process, then one worker process that runs ``--runs`` rounds, each one batch
per mode, back to back (the order alternates between rounds):

* ``direct``: ``--jobs`` ``litellm.acompletion(stream=True)`` calls, at most
  ``--concurrency`` at once, each stream read to the end;
* ``agent``: the same number of attempts through ``LLMAgent.run`` (attempt
  directory, output file with redaction, usage, breaker), at the same concurrency.

Both modes get litellm from ``agents.llm_call.load_litellm`` (the runner's
configuration of it: no token counter, import objects frozen out of the garbage
collector's way), so the difference is the agent's own work. The worker makes
one warm-up call per mode before the clock starts, so both measure steady state.
Prints the median wall and CPU time per batch and mode, the peak RSS of the
worker, and the agent/direct ratios per round, whose median is the figure to
read: a round's two batches run back to back in one process, so the load of
other work on the machine, which moves wall and CPU time by ±15% between
minutes here, mostly cancels out. The runner path (claims, events) is not
included; bench/runner_memory.py runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

API_KEY_VAR = "JOBDECK_BENCH_API_KEY"
#: Batches of the replay measurement; its figure is their minimum.
REPLAYS = 15


async def direct(url: str, jobs: int, concurrency: int) -> int:
    from jobdeck.agents.llm_call import load_litellm

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
    from jobdeck.agents.base import AttemptContext
    from jobdeck.agents.breaker import Breaker
    from jobdeck.agents.llm import LLMAgent
    from jobdeck.agents.output_sink import OutputSink
    from jobdeck.state.redact import Redactor
    from jobdeck.state.spec import Spec

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


async def recorded_chunks(url: str) -> list[Any]:
    """The chunk objects litellm makes of one real streamed reply."""
    from jobdeck.agents.llm_call import load_litellm

    litellm = load_litellm()
    response = await litellm.acompletion(
        model="openai/bench", messages=[{"role": "user", "content": "record"}], stream=True, max_retries=0,
        api_base=url, api_key="sk-bench-direct", stream_options={"include_usage": True},
    )
    return [chunk async for chunk in response]


def replay(url: str, jobs: int, repeats: int) -> dict[str, float]:
    """CPU per call of each mode when litellm's work is taken out: ``acompletion`` replays recorded chunks.

    What is left is the caller's own work per call and per chunk (for the agent:
    settings, output file, redaction, timeouts, usage), with no network and no
    other process involved, so the minimum over ``repeats`` batches is stable
    even on a busy machine.
    """
    from jobdeck.agents.llm_call import load_litellm

    litellm = load_litellm()
    chunks = asyncio.run(recorded_chunks(url))

    class Replay:
        def __init__(self) -> None:
            self._chunks = iter(chunks)

        def __aiter__(self) -> Replay:
            return self

        async def __anext__(self) -> Any:
            try:
                return next(self._chunks)
            except StopIteration:
                raise StopAsyncIteration from None

        async def aclose(self) -> None:
            pass

    async def acompletion(**request: Any) -> Replay:
        return Replay()

    litellm.acompletion = acompletion
    best = {"direct": float("inf"), "agent": float("inf")}
    with tempfile.TemporaryDirectory(prefix="jobdeck-bench-") as tmp:
        for repeat in range(repeats):
            for mode in best:
                started = time.process_time()
                if mode == "direct":
                    ok = asyncio.run(direct(url, jobs, jobs))
                else:
                    ok = asyncio.run(agent(url, jobs, jobs, Path(tmp), f"replay{repeat}-"))
                assert ok == jobs
                best[mode] = min(best[mode], (time.process_time() - started) / jobs)
    return {"chunks": len(chunks), **{f"{mode}_ms": seconds * 1000 for mode, seconds in best.items()}}


def worker(url: str, jobs: int, concurrency: int, rounds: int) -> None:
    """All rounds in this (fresh) process, one JSON line per batch."""
    batches = {"direct": lambda n, deck, prefix: direct(url, n, concurrency),
               "agent": lambda n, deck, prefix: agent(url, n, concurrency, deck, prefix)}
    with tempfile.TemporaryDirectory(prefix="jobdeck-bench-") as tmp:
        deck = Path(tmp)
        for mode, batch in batches.items():
            asyncio.run(batch(1, deck, f"warmup-{mode}-"))
        for round_no in range(rounds):
            for mode in ("direct", "agent") if round_no % 2 == 0 else ("agent", "direct"):
                started, cpu_started = time.perf_counter(), time.process_time()
                ok = asyncio.run(batches[mode](jobs, deck, f"r{round_no}-"))
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(json.dumps({"round": round_no, "mode": mode, "wall": wall, "ok": ok, "rss_mb": peak,
                                  "cpu": cpu}), flush=True)
    print(json.dumps({"replay": replay(url, jobs, REPLAYS)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="calls per batch")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="rounds: one direct and one agent batch each")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.url, args.jobs, args.concurrency, args.runs)
        return
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fixtures" / "llm_server.py"), "--latency", str(args.latency),
         "--tokens", str(args.tokens)],
        stdout=subprocess.PIPE, text=True,
    )
    results: dict[str, list[dict[str, Any]]] = {"direct": [], "agent": []}
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        measuring = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--url", url, "--jobs", str(args.jobs),
             "--concurrency", str(args.concurrency), "--runs", str(args.runs)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )
        assert measuring.stdout is not None
        replayed: dict[str, float] = {}
        for line in measuring.stdout:
            row = json.loads(line)
            if "replay" in row:
                replayed = row["replay"]
                continue
            results[row["mode"]].append(row)
            print(f"run {row['round'] + 1} {row['mode']:6}: {row['wall']:.3f}s  ok {row['ok']}/{args.jobs}  "
                  f"CPU {row['cpu']:.2f}s", flush=True)
        if measuring.wait() != 0:
            raise SystemExit(f"the worker failed ({measuring.returncode})")
    finally:
        server.terminate()
        server.wait(5)
    floor = args.jobs / args.concurrency * args.latency
    peak = max(row["rss_mb"] for rows in results.values() for row in rows)
    print(f"\n{args.jobs} jobs per batch, concurrency {args.concurrency}, {args.latency:g}s latency, "
          f"{args.tokens} tokens per reply (floor {floor:.2f}s); median of {args.runs} rounds; "
          f"peak RSS of the worker (both modes) {peak:.0f} MB:")
    for mode, rows in results.items():
        print(f"  {mode:6} wall {statistics.median(r['wall'] for r in rows):.3f}s   "
              f"CPU {statistics.median(r['cpu'] for r in rows):.2f}s")
    for what in ("wall", "cpu"):
        ratios = [agent[what] / direct[what] for agent, direct in zip(results["agent"], results["direct"])]
        print(f"  agent overhead, {what}: median {(statistics.median(ratios) - 1) * 100:+.1f}% "
              f"(min {(min(ratios) - 1) * 100:+.1f}%, max {(max(ratios) - 1) * 100:+.1f}%) per round")
    litellm_ms = statistics.median(r["cpu"] for r in results["direct"]) / args.jobs * 1000 - replayed["direct_ms"]
    added_ms = replayed["agent_ms"] - replayed["direct_ms"]
    print(f"  replayed stream ({replayed['chunks']:.0f} chunks, litellm's own work taken out; min of {REPLAYS} batches): "
          f"CPU per call direct {replayed['direct_ms']:.2f} ms, agent {replayed['agent_ms']:.2f} ms; the agent "
          f"adds {added_ms:.2f} ms per call = {added_ms / litellm_ms * 100:+.1f}% of litellm's "
          f"{litellm_ms:.1f} ms per call above")
    print(f"  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
