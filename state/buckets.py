"""Tallies per scope for each hour or day, as stored in the stats cache and as the fold changes them.

Stored, a bucket is one line (``KEY<TAB>{scope: tally}``, oldest first); the
lines are indexed from the newest back only as far as a question reaches, so a
question about the last days neither splits nor parses a long history's older
lines, and an update writes anew only the buckets the fold changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from jobdeck.state.errors import StatsCacheDamaged
from jobdeck.state.tally import Tally


class StoredLines:
    """One section of stored buckets in ``data[start:end]``, indexed from the newest back."""

    def __init__(self, data: bytes = b"", start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.start = start
        self.end = len(data) if end is None else end
        self._scanned = self.end
        """Lines from here on are indexed."""
        self._lines: dict[int, tuple[int, int]] = {}
        """Key -> where its line begins and where its tallies begin."""
        self._oldest: int | None = None

    def _back_to(self, key: int | None) -> None:
        """Index lines back to one older than ``key`` (or to the first, for None); ValueError if out of order."""
        data = self.data
        while self._scanned > self.start and (key is None or self._oldest is None or self._oldest >= key):
            begin = data.rfind(b"\n", self.start, self._scanned - 1) + 1 or self.start
            tab = data.index(b"\t", begin, self._scanned)
            found = int(data[begin:tab])
            if self._oldest is not None and found >= self._oldest:
                raise ValueError("stored buckets out of order")
            self._lines[found] = (begin, tab + 1)
            self._oldest, self._scanned = found, begin

    def get(self, key: int) -> bytes | None:
        self._back_to(key)
        where = self._lines.get(key)
        if where is None:
            return None
        return self.data[where[1]:self.data.index(b"\n", where[1])]

    def keys_from(self, first: int | None) -> list[int]:
        """Stored keys from ``first`` on (all of them for None), oldest first."""
        self._back_to(first)
        return sorted(k for k in self._lines if first is None or k >= first)

    def before(self, key: int) -> memoryview:
        """The lines of the stored buckets older than ``key``, as they are (not copied)."""
        self._back_to(key)
        newer = [begin for k, (begin, _) in self._lines.items() if k >= key]
        return memoryview(self.data)[self.start:min(newer, default=self.end)]

    def all(self) -> memoryview:
        return memoryview(self.data)[self.start:self.end]


def tallies_json(tallies: Mapping[str, Tally]) -> bytes:
    return json.dumps({scope: tally.to_json() for scope, tally in tallies.items()}, separators=(",", ":")).encode()


class Buckets:
    """Per bucket of ``size`` seconds (keyed ``int(ts // size)``), the tallies per scope."""

    def __init__(self, size: int, stored: StoredLines | None = None) -> None:
        self.size = size
        self.stored = stored or StoredLines()
        self.live: dict[int, dict[str, Tally]] = {}
        """Buckets in use, as tallies."""
        self.touched: set[int] = set()
        """Buckets the fold changed since they were stored."""
        self.spilled: dict[int, bytes] = {}
        """Changed buckets the fold has moved past, kept as they will be stored rather than as tallies.

        A fold of a million records from the start made 300,000 hourly tallies,
        685 MB at once; the log is in time order, so a bucket behind the latest is
        rarely met again."""

    def get(self, key: int) -> dict[str, Tally]:
        """The tallies of one bucket, by scope (empty if nothing happened in it)."""
        tallies = self.live.get(key)
        if tallies is None:
            raw = self.spilled.pop(key, None) or self.stored.get(key)
            if raw is None:
                return {}
            try:
                tallies = {scope: Tally.from_json(data) for scope, data in json.loads(raw).items()}
            except (ValueError, TypeError, KeyError, AttributeError):
                raise StatsCacheDamaged(f"the stats cache's line for {key} does not parse") from None
            self.live[key] = tallies
        return tallies

    def tally(self, key: int, scope: str) -> Tally:
        """The tally of ``scope`` in bucket ``key``, to be changed."""
        tallies = self.get(key)
        if not tallies:
            tallies = self.live[key] = {}
        self.touched.add(key)
        tally = tallies.get(scope)
        if tally is None:
            tally = tallies[scope] = Tally()
        return tally

    def keys_from(self, first: int) -> list[int]:
        """The buckets anything happened in, from ``first`` on, oldest first."""
        return sorted({*self.stored.keys_from(first), *(k for k in self.spilled if k >= first),
                       *(k for k, tallies in self.live.items() if k >= first and tallies)})

    def keys_between(self, first: int, end: int) -> list[int]:
        """The buckets anything happened in, from ``first`` to before ``end``."""
        return [key for key in self.keys_from(first) if key < end]

    def spill(self, before: int) -> None:
        """Keep the buckets older than ``before`` as bytes: changed ones in ``spilled``, the rest in ``stored``."""
        for key in [key for key in self.live if key < before]:
            tallies = self.live.pop(key)
            if key in self.touched:
                self.spilled[key] = tallies_json(tallies)

    def lines(self) -> list[bytes | memoryview]:
        """Every bucket as stored, in pieces: unchanged lines as they were read, the others anew."""
        if not self.touched:
            return [self.stored.all()]
        first = min(self.touched)
        pieces: list[bytes | memoryview] = [self.stored.before(first)]
        for key in sorted({*self.stored.keys_from(first), *self.touched}):
            if key not in self.touched:
                raw = self.stored.get(key)
            elif key in self.spilled:
                raw = self.spilled[key]
            else:
                raw = tallies_json(self.live.get(key, {}))
            if raw:
                pieces.append(b"%d\t%s\n" % (key, raw))
        return pieces
