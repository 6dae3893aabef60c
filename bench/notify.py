#!/usr/bin/env python3
"""What alerts cost the runner: per-job time with no notify section, a target that answers, and one that hangs.

    .venv/bin/python bench/notify.py [--jobs 1000] [--runs 3]

Each deck holds --jobs `false` jobs, so every job fails for good and raises a
"needs you" alert; the rule has no throttle, so every alert is a message (the
worst case: a throttled rule sends one per window). The targets are Apprise
`json://` URLs to an HTTP server on 127.0.0.1 that answers at once, or never
(its connections are held open). Per-job time is the runner's own, from the
chain of work: first claim to last outcome, over the number of jobs; the
`--once` run's exit, which waits up to 5 s for queued alerts, is not in it.
Prints the median (min-max) of --runs runs per case.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def serve(hang: bool) -> tuple[ThreadingHTTPServer, threading.Event]:
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if hang:
                release.wait(600)
                return
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, release


def per_job_ms(tmp: Path, jobs: int, url: str | None) -> float:
    from jobdeck.state.deck import init_deck

    spec: dict[str, object] = {"jobs": [{"id": f"bad{n:05}", "command": ["false"]} for n in range(jobs)]}
    if url is not None:
        spec["notify"] = {"targets": {"t": {"url": {"env": "BENCH_URL"}, "timeout": 30, "retries": 0}},
                          "rules": [{"to": ["t"], "throttle": 0}]}
    deck = init_deck(tmp / f"deck{os.getpid()}-{len(list(tmp.iterdir()))}", json.dumps(spec).encode()).root
    os.sync()
    env = {**os.environ, "JOBDECK_DECK": str(deck), "BENCH_URL": url or ""}
    subprocess.run([sys.executable, "-m", "jobdeck", "run", "--once", "--parallel", "2", "--quiet"], env=env,
                   cwd=deck, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    records = [json.loads(line) for line in (deck / ".jobdeck" / "events.jsonl").read_text().splitlines()]
    claims = [r["ts"] for r in records if r["type"] == "claimed"]
    ends = [r["ts"] for r in records if r["type"] in ("succeeded", "failed")]
    assert len(ends) == jobs, f"{len(ends)} of {jobs} jobs ended"
    return (max(ends) - min(claims)) / jobs * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    answering, _ = serve(hang=False)
    hanging, release = serve(hang=True)
    cases = {"no notify section": None,
             "json:// target that answers": f"json://127.0.0.1:{answering.server_address[1]}/",
             "json:// target that hangs": f"json://127.0.0.1:{hanging.server_address[1]}/"}
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: [] for name in cases}  # type: dict[str, list[float]]
        for _ in range(args.runs):
            for name, url in cases.items():  # interleaved, so a busy moment of the machine hits every case
                results[name].append(per_job_ms(Path(tmp), args.jobs, url))
    release.set()
    print(f"{args.jobs} failing jobs, --parallel 2, every job one alert; per-job ms, median (min-max) of {args.runs}")
    for name, values in results.items():
        print(f"  {name:30} {statistics.median(values):6.2f} ({min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
