"""A day of one operator's work, replayed through the real decision code and the real runner selection.

Usage: .venv/bin/python bench/decide_replay.py [--modes off,live] [--seed 7] [--scale 1.0] [--json]
                                               [--overhead 1000] [--tiny]

The day (UTC, a compressed clock: no process runs, every attempt's duration and
outcome is drawn from a seeded random source):

- a nightly pipeline of 12 llm jobs fired at 01:00; ``report`` is due 06:00 and
  ``publish`` 06:15;
- a morning digest (4 jobs, fired 05:00, due 08:00), a client export (3 jobs,
  fired 13:00, due 15:00) and an end-of-day report (3 jobs, fired 17:00, due 18:30);
- bursts of ad-hoc agent jobs the operator queues at priority 3 (140 at 00:30,
  90 at 12:30, 80 at 16:30), a fifth of them with their own deadline 2-4 hours out;
- housekeeping shell jobs at priority -5 with ``max_wait`` 3h (60 at 00:00 and 60 at 12:00);
- 50 medium-risk drafts through the day whose output waits for review, while the
  operator reviews one every 12 minutes from 09:00 to 19:00 (``review_capacity`` 4);
- a provider outage from 10:00 to 10:40: every call to the model fails with 429
  and Retry-After 300, and the real circuit breaker (agents/breaker.py) writes the
  shared cooldowns file;
- a daily budget of $25 against about $31 of demand.

Each mode replays the same day on a fresh deck (on /dev/shm when it exists):
events go through ``Store.commit``, claims through ``runner.selection.pick`` (the
ReadyIndex, Capacity and the decision gates the runner uses) with
``limits.parallel`` 4. Reported per mode: deadline misses, budget overrun,
failures for good, p50/p95/max wait of jobs without a deadline, waits past
``max_wait``, the review queue's maximum, cost, and jobs never started.

``--overhead N`` also measures the decision overhead: the time of one claim turn
with N ready jobs (one free slot) in ``off``, ``shadow`` (which ranks the whole
ready set to record its advice) and ``live``, median of 180 turns.

Targets (issue 16): live has at least 50% fewer deadline misses than off, no
budget overrun, no wait past max_wait, and a p95 wait for jobs without a
deadline of at most 1.5x off's; decision overhead under 1 ms per turn at 1,000
ready jobs.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jobdeck.agents.breaker import Breaker
from jobdeck.decide.heuristic import Heuristic
from jobdeck.decide.policy import policy_of
from jobdeck.runner.capacity import Capacity
from jobdeck.runner.deciding import Deciding
from jobdeck.runner.scoring import Scoring
from jobdeck.runner.selection import ReadyIndex, pick
from jobdeck.state.board import open_store
from jobdeck.state.cooldowns import COOLDOWN_FILE
from jobdeck.state.deck import init_deck
from jobdeck.state.graph import downstream
from jobdeck.state.machine import Status
from jobdeck.state.spec import Spec

DAY0 = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()
MODEL = "openai/gpt-4o-mini"
PARALLEL = 4
BUDGET = 25.0
REVIEW_CAPACITY = 4
OUTAGE = (DAY0 + 10 * 3600, DAY0 + 10 * 3600 + 40 * 60)


def at(hours: float) -> float:
    return DAY0 + hours * 3600


@dataclass
class Work:
    """One job of the scenario: its spec and how its attempts behave."""

    spec: dict[str, Any]
    minutes: float
    cost: float
    arrives: float | None
    """When the operator queues it (a trigger); None: a pipeline member, fired with its root."""
    fail_rate: float = 0.0


def scenario(rng: random.Random, scale: float) -> tuple[list[Work], list[tuple[float, str]]]:
    """The day's jobs, and the pipeline fires (time, root job)."""
    work: list[Work] = []
    fires: list[tuple[float, str]] = []

    def llm(job_id: str, minutes: float, cost: float, **spec: Any) -> dict[str, Any]:
        return {"id": job_id, "agent": "writer", "retry": {"max_attempts": 3, "delay": "1m"}, **spec}

    def pipeline(name: str, fire: float, layers: list[list[tuple[str, float]]], deadlines: dict[str, str]) -> None:
        previous: list[str] = []
        for layer in layers:
            ids = []
            for short, minutes in layer:
                job_id = f"{name}-{short}"
                spec = llm(job_id, minutes, 0.06, depends_on=previous, trigger="*.go")
                if short in deadlines:
                    spec["deadline"] = deadlines[short]
                work.append(Work(spec, minutes, rng.uniform(0.04, 0.12), None, 0.05))
                ids.append(job_id)
            previous = ids
        fires.append((fire, f"{name}-{layers[0][0][0]}"))

    pipeline("nightly", at(1), [[("fetch", 8)], [("a", 6), ("b", 7), ("c", 9)], [("e1", 10), ("e2", 12), ("e3", 9),
             ("e4", 11)], [("summary", 14)], [("report", 10)], [("publish", 5)]],
             {"report": "06:00", "publish": "06:15"})
    pipeline("digest", at(5), [[("collect", 10)], [("rank", 12)], [("write", 15)], [("send", 4)]], {"send": "08:00"})
    pipeline("export", at(13), [[("query", 12)], [("shape", 14)], [("ship", 8)]], {"ship": "15:00"})
    pipeline("eod", at(17), [[("gather", 10)], [("draft", 15)], [("post", 5)]], {"post": "18:30"})

    n = 0
    for start, count in ((0.5, int(140 * scale)), (12.5, int(90 * scale)), (16.5, int(80 * scale))):
        for _ in range(count):
            n += 1
            arrives = at(start) + rng.uniform(0, 1800)
            spec = llm(f"adhoc-{n:03d}", 0, 0, priority=3)
            if rng.random() < 0.2:
                due = datetime.fromtimestamp(arrives + rng.uniform(2, 4) * 3600, timezone.utc)
                spec["deadline"] = due.replace(second=0, microsecond=0).isoformat()
            work.append(Work(spec, rng.lognormvariate(2.2, 0.4), rng.uniform(0.05, 0.11), arrives, 0.08))
    for start in (0.0, 12.0):
        for k in range(int(60 * scale)):
            job_id = f"tidy-{int(start):02d}-{k:02d}"
            work.append(Work({"id": job_id, "command": ["true"], "priority": -5, "max_wait": "3h"},
                             rng.uniform(1, 3), 0.0, at(start) + k * 10))
    for k in range(int(50 * scale)):
        job_id = f"draft-{k:02d}"
        work.append(Work({**llm(job_id, 0, 0), "risk": "medium"}, rng.uniform(5, 12), rng.uniform(0.05, 0.12),
                         at(8) + k * 10 * 3600 / max(int(50 * scale), 1)))
    for item in work:  # every job waits for a fire: a trigger it never sees unless queued
        item.spec.setdefault("trigger", "*.go")
    return work, fires


SCORER_KEY = "JOBDECK_REPLAY_SCORER_KEY"


def spec_of(work: list[Work], mode: str, scorer_url: str | None = None) -> dict[str, Any]:
    """jobs.json of the day; ``live+scorer`` is live with a scorer agent at ``scorer_url``."""
    spec: dict[str, Any] = {
        "agents": {"writer": {"type": "llm", "model": MODEL}},
        "limits": {"parallel": PARALLEL},
        "decide": {"mode": mode.split("+")[0], "budget": {"daily": BUDGET}, "review_capacity": REVIEW_CAPACITY,
                   "horizon": "1h", "default_duration": "10m", "default_cost": 0.12},
        "jobs": [item.spec for item in work]}
    if mode == "live+scorer":
        spec["agents"]["ranker"] = {"type": "llm", "model": MODEL, "api_base": scorer_url,
                                    "api_key": {"env": SCORER_KEY}}
        spec["decide"]["scorer"] = {"agent": "ranker", "timeout": "5s"}
    return spec


class ScorerServer:
    """A stand-in for a small ranking model on 127.0.0.1: OpenAI's chat completions, answering from the features.

    Its rule, a plausible model's: urgent jobs first, then the least slack, then the
    cheapest (so more work fits the budget), then the longest waiting.
    """

    def __init__(self) -> None:
        self.asked = 0

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                outer.asked += 1
                jobs = json.loads(body["messages"][-1]["content"])["jobs"]
                jobs.sort(key=lambda j: (j["class"] != "urgent", j["slack_s"] if j["slack_s"] is not None else 1e12,
                                         j["cost_usd"], -j["waiting_s"]))
                answer = {"order": [j["id"] for j in jobs], "confidence": 0.8,
                          "reasons": {j["id"]: ("least slack" if j["slack_s"] is not None else "cheap, waiting")
                                      for j in jobs}}
                text = json.dumps(answer)
                reply = {"id": "replay", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": len(body["messages"][-1]["content"]) // 4,
                                   "completion_tokens": len(text) // 4,
                                   "total_tokens": (len(body["messages"][-1]["content"]) + len(text)) // 4}}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Result:
    mode: str
    deadline_jobs: int = 0
    deadline_misses: int = 0
    overrun: float = 0.0
    failed: int = 0
    waits: list[float] = field(default_factory=list)
    past_max_wait: int = 0
    review_max: int = 0
    cost: float = 0.0
    never_started: int = 0
    decided_events: int = 0
    scored: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        waits = sorted(self.waits)
        q = (lambda p: waits[min(len(waits) - 1, int(p * len(waits)))] / 60 if waits else 0.0)
        return {"mode": self.mode, "deadline misses": f"{self.deadline_misses} of {self.deadline_jobs}",
                "budget overrun": f"${self.overrun:.2f}", "failed": self.failed,
                "wait p50 (min)": round(q(0.5), 1), "wait p95 (min)": round(q(0.95), 1),
                "wait max (min)": round(waits[-1] / 60 if waits else 0.0, 1), "past max_wait": self.past_max_wait,
                "review queue max": self.review_max, "cost": f"${self.cost:.2f}", "never started": self.never_started,
                "decided events": self.decided_events,
                "scorer answers": ", ".join(f"{n} {k}" for k, n in sorted(self.scored.items())) or "-",
                "replay s": round(self.seconds, 1)}


def replay(mode: str, seed: int, scale: float, base: Path, scorer_url: str | None = None) -> Result:
    rng = random.Random(seed)
    work, fires = scenario(rng, scale)
    by_id = {item.spec["id"]: item for item in work}
    root = Path(tempfile.mkdtemp(prefix=f"replay-{mode}-", dir=base))
    data = spec_of(work, mode, scorer_url)
    deck = init_deck(root, json.dumps(data).encode())
    spec = Spec.model_validate(data)
    store = open_store(deck)
    index, capacity = ReadyIndex(), Capacity(PARALLEL)
    clock = [DAY0]
    answers: list[dict[str, Any]] = []
    scoring = Scoring({SCORER_KEY: "sk-replay"}, answers.append, lambda: clock[0]) if scorer_url else None
    deciding = Deciding(deck.state_dir / COOLDOWN_FILE, scoring=scoring)
    deciding.reset(spec, store.board, index)
    index.reset(spec)
    breaker = Breaker(path=deck.state_dir / COOLDOWN_FILE, clock=lambda: clock[0])
    outcome_rng = random.Random(seed + 1)
    result = Result(mode)
    started = time.perf_counter()

    # (time, order, kind, job)
    agenda: list[tuple[float, int, str, str]] = []
    order = 0

    def schedule(when: float, kind: str, job: str) -> None:
        nonlocal order
        order += 1
        heapq.heappush(agenda, (when, order, kind, job))

    for item in work:
        if item.arrives is not None:
            schedule(item.arrives, "queue", item.spec["id"])
    for when, root_job in fires:
        schedule(when, "fire", root_job)
    review_at = at(9)
    while review_at < at(19):
        schedule(review_at, "review", "")
        review_at += 12 * 60
    running: dict[str, tuple[float, str]] = {}  # job -> (end, outcome)
    entered: dict[str, float] = {}
    deadlines: dict[str, float] = {}

    policy = policy_of(spec)
    judge = Heuristic(policy, store.board)

    def commit(bodies: list[dict[str, Any]], now: float) -> None:
        records, _ = store.commit(bodies, now=now, strict=False)
        index.touch({r["job"] for r in records if isinstance(r.get("job"), str)})
        for record in records:
            job = record.get("job")
            if record["type"] in ("triggered", "retried") or (record["type"] == "failed" and record.get("retry_at")):
                entered[job] = now
            if record["type"] == "triggered" and "deadline" in by_id[job].spec:
                deadlines[job] = judge.deadline_of(policy.jobs[job], store.board.state(job), now) or 0.0

    while True:
        ends = min((end for end, _ in running.values()), default=None)
        candidates = [t for t in (agenda[0][0] if agenda else None, ends, index.next_wait(), deciding.next_look)
                      if t is not None]
        if not candidates:
            break
        now = max(min(candidates), clock[0])
        if now > DAY0 + 2 * 86400:
            break
        clock[0] = now
        bodies: list[dict[str, Any]] = []
        while agenda and agenda[0][0] <= now:
            _, _, kind, job = heapq.heappop(agenda)
            if kind in ("queue", "fire"):
                bodies.append({"type": "triggered", "job": job, "source": "replay", "by": "operator"})
                if kind == "fire":  # the pipeline's members follow their root, as `jobdeck trigger` does
                    bodies += [{"type": "triggered", "job": j, "source": "replay", "root": job}
                               for j in downstream([job], spec.dependencies)[1:]]
            elif kind == "review":
                waiting = sorted((st.since or 0, j) for j, st in store.board.jobs.items() if st.status == Status.REVIEW)
                if waiting:
                    bodies.append({"type": "approved", "job": waiting[0][1], "by": "operator"})
        for job, (end, outcome) in list(running.items()):
            if end > now:
                continue
            del running[job]
            item = by_id[job]
            state = store.board.state(job)
            capacity.give_back(spec.by_id[job], spec)
            body: dict[str, Any] = {"type": outcome, "job": job, "token": state.token}
            if outcome == "succeeded":
                body["cost"] = round(item.cost, 4)
                if item.spec.get("risk") == "medium":
                    body["review"] = True
                if "agent" in item.spec:
                    breaker.record_success(MODEL)
            else:
                rate_limited = OUTAGE[0] <= end < OUTAGE[1] or breaker.blocked_for(MODEL) > 0
                body["reason"] = "rate_limit" if rate_limited else "exit_code"
                if rate_limited:
                    breaker.record_failure(MODEL, "rate_limit", retry_after=300)
                tries = state.tries
                if tries < item.spec.get("retry", {}).get("max_attempts", 1):
                    body["retry_at"] = end + 60 * 2 ** (tries - 1)
            bodies.append(body)
        if bodies:
            commit(bodies, now)
        board = store.board
        index.update(board, now)
        if scoring is not None and scoring.look_and_wait(index.ready, board, now, PARALLEL):
            result.scored[answers[-1]["outcome"]] = result.scored.get(answers[-1]["outcome"], 0) + 1
            commit(answers[-1:], now)  # its cost counts in the day's spend
            index.rekey(index.keyer)
            index.update(board, now)
        if not capacity.full and index.ready:
            picked = pick(index, capacity, deciding, spec, board, now, running, running)
            claims = [{"type": "claimed", "job": job.id, "attempt": board.state(job.id).next_attempt,
                       "runner": "replay"} for job in picked.chosen]
            result.decided_events += len(picked.decided)
            for job in picked.chosen:
                item = by_id[job.id]
                since = entered.pop(job.id, now)
                wait = now - since
                if "deadline" not in item.spec and item.arrives is not None:
                    result.waits.append(wait)
                if "max_wait" in item.spec and wait > 3 * 3600 + 1:
                    result.past_max_wait += 1
                if "agent" in item.spec and (OUTAGE[0] <= now < OUTAGE[1] or breaker.blocked_for(MODEL) > 0):
                    running[job.id] = (now + 5, "failed")  # the provider answers 429 (or the breaker skips the model)
                elif outcome_rng.random() < item.fail_rate:
                    running[job.id] = (now + item.minutes * 60 * outcome_rng.uniform(0.2, 0.9), "failed")
                else:
                    running[job.id] = (now + item.minutes * 60 * outcome_rng.uniform(0.8, 1.3), "succeeded")
            if picked.decided or claims:
                commit(picked.decided + claims, now)
        review_now = sum(1 for st in store.board.jobs.values() if st.status == Status.REVIEW)
        result.review_max = max(result.review_max, review_now)

    board = store.board
    for job, item in by_id.items():
        state = board.state(job)
        if state.status == Status.FAILED:
            result.failed += 1
        if state.cycle and not state.attempts:
            result.never_started += 1
        if "deadline" in item.spec:
            result.deadline_jobs += 1
            done = next((a.ended for a in state.attempts if a.outcome == "succeeded"), None)
            due = deadlines.get(job)
            if done is None or due is None or done > due:
                result.deadline_misses += 1
    result.cost = board.rollups.cost_since(DAY0)
    for day in (DAY0, DAY0 + 86400):  # held work may run after midnight, on the next day's budget
        day_cost = board.rollups.cost_since(day) - board.rollups.cost_since(day + 86400)
        result.overrun += max(0.0, day_cost - BUDGET)
    result.seconds = time.perf_counter() - started
    store.close()
    return result


def overhead(ready: int, mode: str, turns: int = 200) -> float:
    """Median seconds of one claim turn (``pick``) with ``ready`` ready jobs and one free slot."""
    rng = random.Random(3)
    jobs = []
    for k in range(ready):
        job: dict[str, Any] = {"id": f"j{k:04d}", "command": ["true"], "priority": rng.choice([-1, 0, 0, 3]),
                               "retry": {"max_attempts": 2}}
        if k % 10 == 0:
            job["deadline"] = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"
        if k % 7 == 0:
            job["max_wait"] = "6h"
        if k % 3 == 0:
            job["agent"] = "writer"
            del job["command"]
        if k % 50 == 49:
            job["depends_on"] = [f"j{k - 1:04d}"]
        jobs.append(job)
    data = {"agents": {"writer": {"type": "llm", "model": MODEL}}, "limits": {"parallel": 1},
            "decide": {"mode": mode, "budget": {"daily": 1000.0}, "review_capacity": 50}, "jobs": jobs}
    with tempfile.TemporaryDirectory(dir=_base()) as tmp:
        deck = init_deck(Path(tmp) / "d", json.dumps(data).encode())
        spec = Spec.model_validate(data)
        store = open_store(deck)
        now = DAY0
        for k, job in enumerate(jobs):  # some history: durations and costs for the estimates
            if k % 4 == 0:
                store.commit([{"type": "claimed", "job": job["id"], "attempt": 1, "runner": "past"}], now=now - 7200)
                store.commit([{"type": "succeeded", "job": job["id"], "token": store.board.state(job["id"]).token,
                               "cost": 0.01}], now=now - 7200 + 60 + k)
                store.commit([{"type": "retried", "job": job["id"], "by": "past"}], now=now - 3600)
        index, capacity = ReadyIndex(), Capacity(1)
        deciding = Deciding(deck.state_dir / COOLDOWN_FILE)
        deciding.reset(spec, store.board, index)
        index.reset(spec)
        board = store.board
        index.update(board, now)
        assert len(index.ready) >= ready - ready // 50 - 1, len(index.ready)
        times = []
        for turn in range(turns):
            now += 1.0
            started = time.perf_counter()
            index.update(board, now)
            picked = pick(index, capacity, deciding, spec, board, now, (), ())
            times.append(time.perf_counter() - started)
            assert len(picked.chosen) == 1
            job = picked.chosen[0]
            capacity.give_back(job, spec)  # the job ran in no time: the slot is free again,
            index.touch([job.id])  # and the job is ready again (its state is unchanged: nothing was committed)
        store.close()
    return statistics.median(times[20:])


def _base() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="off,shadow,live,live+scorer",
                        help="comma-separated modes to replay (live+scorer: live with a scorer agent on a local server)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="scale the ad-hoc, housekeeping and draft counts")
    parser.add_argument("--overhead", type=int, default=1000, metavar="N", help="ready jobs for the overhead figure (0: skip)")
    parser.add_argument("--tiny", action="store_true", help="a quick run (the smoke test): scale 0.2, overhead at 100")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.tiny:
        args.scale, args.overhead = 0.2, 100
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    server = ScorerServer() if "live+scorer" in args.modes.split(",") else None
    try:
        with tempfile.TemporaryDirectory(prefix="decide-replay-", dir=_base()) as tmp:
            results = [replay(mode, args.seed, args.scale, Path(tmp), server.url if server else None)
                       for mode in args.modes.split(",")]
    finally:
        if server is not None:
            server.stop()
    rows = [r.row() for r in results]
    figures: dict[str, Any] = {"replay": rows}
    if args.overhead:
        figures["overhead_ms"] = {mode: round(overhead(args.overhead, mode) * 1000, 3)
                                  for mode in ("off", "shadow", "live")}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    jobs = len(scenario(random.Random(args.seed), args.scale)[0])
    print(f"## decide replay: {jobs} jobs, seed {args.seed}, parallel {PARALLEL}, budget ${BUDGET:.0f}, "
          f"review capacity {REVIEW_CAPACITY}\n")
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[h]) for h in header) + " |")
    if args.overhead:
        o = figures["overhead_ms"]
        print(f"\ndecision overhead, one claim turn with {args.overhead} ready jobs (median of 180 turns): "
              f"off {o['off']} ms, shadow {o['shadow']} ms, live {o['live']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
