"""Costs of the state layer: loading jobs.json, appending events, folding the log.

Usage: .venv/bin/python bench/state.py [--jobs N] [--events N]

Prints, in-process (no interpreter start): the phases of loading a jobs.json of N
jobs (decode + strict JSON, pydantic validation, semantic checks), the latency of
one fsynced commit of one event and of a batch of 50, and the time to fold a log
of --events records from the start and to resume from a board snapshot.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from jobdeck.state import strictjson  # noqa: E402
from jobdeck.state.board import Store  # noqa: E402
from jobdeck.state.deck import init_deck  # noqa: E402
from jobdeck.state.loader import _check_semantics, _validate_schema  # noqa: E402


def jobs_json(count: int) -> bytes:
    jobs = [{"id": f"job-{n:05d}", "command": ["echo", str(n)],
             **({"depends_on": [f"job-{n - 1:05d}"]} if n % 10 else {})} for n in range(count)]
    return json.dumps({"jobs": jobs}, indent=2).encode()


def best(runs: int, fn) -> float:  # noqa: ANN001 - a thunk
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    import jobdeck.state.spec  # noqa: F401  (import cost is not part of the phases)

    raw = jobs_json(args.jobs)
    text = raw.decode()
    data = strictjson.loads(text)
    spec = _validate_schema(data, text, "jobs.json")
    parse = best(3, lambda: strictjson.loads(raw.decode("utf-8-sig")))
    validate = best(3, lambda: _validate_schema(data, text, "jobs.json"))
    semantics = best(3, lambda: _check_semantics(spec, text, "jobs.json"))
    print(f"load {args.jobs} jobs ({len(raw) // 1024} KiB): strict JSON {parse * 1000:.0f} ms, "
          f"pydantic {validate * 1000:.0f} ms, "
          f"checks {semantics * 1000:.0f} ms")

    with tempfile.TemporaryDirectory() as scratch:
        deck = init_deck(Path(scratch) / "deck", b'{"jobs": []}')
        with Store(deck) as store:
            singles = []
            for n in range(200):
                start = time.perf_counter()
                store.commit([{"type": "note", "n": n}])
                singles.append(time.perf_counter() - start)
            batches = []
            for n in range(20):
                start = time.perf_counter()
                store.commit([{"type": "note", "n": n, "k": k} for k in range(50)])
                batches.append(time.perf_counter() - start)
            print(f"commit 1 event: median {statistics.median(singles) * 1000:.2f} ms; "
                  f"50 events: median {statistics.median(batches) * 1000:.2f} ms (one fsync each)")
            remaining = args.events - 200 - 20 * 50
            for start_n in range(0, remaining, 1000):
                store.commit([{"type": "progress", "job": f"job-{(start_n + k) % 500}", "n": k}
                              for k in range(min(1000, remaining - start_n))])
            store.write_snapshot()
            store.commit([{"type": "note", "n": -1}])

        def full() -> None:
            with Store(deck, from_snapshot=False) as reader:
                reader.refresh()

        def resumed() -> None:
            with Store(deck) as reader:
                reader.refresh()

        print(f"fold {args.events} events from the start: {best(3, full) * 1000:.0f} ms; "
              f"resume from board.json: {best(3, resumed) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
