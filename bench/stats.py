"""`jobdeck stats` on a long history: cold (no stats cache), warm, windows, and after the log grew.

Usage: .venv/bin/python bench/stats.py [--size 1000000] [--runs 5] [--cache DIR] [--tiny]

The deck is bench/history.py's (bench/history_deck.py; ``--cache DIR`` keeps it
and reuses it). Every measure is a fresh ``python -m jobdeck stats`` process
(wall time, CPU time, peak RSS from GNU time), medians of ``--runs``:

- cold: no ``.jobdeck/stats-cache.json``, so the whole log is folded and the cache written;
- warm: the cache in place and the log as it was (the everyday case), with no
  window and with ``--since`` 7d, 30d, 180d and 365d (the deck's history ends
  before the build began: its last records are some days old);
- grown: 1,000 records appended since the cache was written (a runner at work),
  folded on top of it and written back.

Target (issue 17): under 1 s warm at 1,000,000 events; the cold figure stated.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from history import Sample, cached_deck, jobdeck, load, timed  # noqa: E402  (bench/history.py)
from history_deck import READY_ROOT  # noqa: E402
from jobdeck.state.board import open_store  # noqa: E402
from jobdeck.state.stats_cache import cache_path  # noqa: E402

WARM_TARGET_S = 1.0
GROWTH = 1000
WINDOWS = ("7d", "30d", "180d", "365d")


def append_records(deck_path: Path, count: int) -> None:
    """``count`` records of the one hand-triggered root job run again and again, as a runner writes them."""
    from jobdeck.state.deck import Deck

    deck = Deck(deck_path)
    with open_store(deck) as store:
        now = max(time.time(), store.board.state(READY_ROOT).updated or 0.0)
        for n in range(count // 3):
            at = now + n
            store.commit([{"type": "triggered", "job": READY_ROOT, "by": "bench"}], now=at)
            attempt = store.board.state(READY_ROOT).next_attempt
            store.commit([{"type": "claimed", "job": READY_ROOT, "attempt": attempt, "runner": "bench"}], now=at)
            store.commit([{"type": "succeeded", "job": READY_ROOT, "token": store.board.state(READY_ROOT).token}],
                         now=at + 0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="events in the deck's log")
    parser.add_argument("--runs", type=int, default=5, help="rounds of every measure (medians)")
    parser.add_argument("--cache", metavar="DIR", help="keep the built deck here and reuse it")
    parser.add_argument("--tiny", action="store_true", help="2,000 events, 1 run: for the smoke test")
    args = parser.parse_args()
    size, runs = (2000, 1) if args.tiny else (args.size, args.runs)
    print(f"load average at the start: {load()}; medians of {runs} run(s); page cache warm", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as scratch:
        cached, _ = cached_deck(Path(args.cache) if args.cache else Path(scratch), size)
        deck = cached.deck
        results: dict[str, list[Sample]] = {}

        def measure(label: str, *extra: str) -> None:
            results.setdefault(label, []).append(timed(jobdeck(deck, "stats", *extra)))

        for _ in range(runs):
            cached.reset("fresh")  # no stats cache: it is not part of the deck as built
            measure("cold (no stats cache)")
            measure("warm")
            for window in WINDOWS:
                measure(f"warm --since {window}", "--since", window)
            append_records(deck.root, GROWTH)
            measure(f"grown by {GROWTH:,} records")
            measure("warm again")
        cache_mb = cache_path(deck).stat().st_size / 2**20
        cached.reset("fresh")
    print(f"\n## jobdeck stats at {cached.manifest['events']:,} events "
          f"(stats-cache.json {cache_mb:.1f} MiB; load average after: {load()})\n")
    print("| measure | wall | CPU | peak RSS |")
    print("|---|---|---|---|")
    for label, samples in results.items():
        wall = statistics.median(s.wall for s in samples)
        cpu = statistics.median(s.cpu for s in samples)
        rss = statistics.median(s.rss_mb for s in samples)
        print(f"| {label} | {wall * 1000:,.0f} ms | {cpu * 1000:,.0f} ms | {rss:.0f} MB |")
    warm = statistics.median(s.wall for s in results["warm"])
    print(f"\ntarget: warm under {WARM_TARGET_S:.0f} s: {'met' if warm < WARM_TARGET_S else 'NOT met'} "
          f"({warm * 1000:,.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
