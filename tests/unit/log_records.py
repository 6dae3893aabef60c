"""A chain of work written by hand for the folds' unit tests: records as the log holds them."""

from __future__ import annotations

from typing import Any


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
