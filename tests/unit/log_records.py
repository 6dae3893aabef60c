"""A chain of work written by hand for the folds' unit tests: records as the log holds them; random waits."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from jobdeck.state.rollups import Histogram


class Log:
    """Records as the log holds them: seq, ts, type, job and the event's fields."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, ts: float, kind: str, job: str | None = None, **fields: Any) -> int:
        record = {"seq": len(self.records) + 1, "ts": ts, "type": kind, **fields}
        if job is not None:
            record["job"] = job
        self.records.append(record)
        return record["seq"]


def random_waits(seed: int, samples: int = 300) -> Iterator[tuple[list[float], Histogram]]:
    """``samples`` sets of 1-40 waits (seconds, exponential around 90 s, some whole, some to the millisecond),
    each with the rollups' histogram of it: for the quantiles of `stats` and of `decisions --report`."""
    rng = random.Random(seed)
    for _ in range(samples):
        waits = [round(rng.expovariate(1 / 90), rng.choice((0, 3))) for _ in range(rng.randint(1, 40))]
        histogram = Histogram()
        for wait in waits:
            histogram.add(wait)
        yield waits, histogram
