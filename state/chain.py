"""Checking the chain of work across every segment of the log, or a range of them.

Each record links to the one before by hash, across segment files too (a live
file's first record links to the last of the closed segment before it), so a
walk in order detects an edited, removed, inserted or reordered record, a
missing segment, and, against board.json's anchor, records cut off the end.

The check takes no lock (at a million records it reads for seconds, and would
stop the runner meanwhile): it opens the live file before it lists the closed
segments, so a rotation during the check turns the file it holds into a closed
segment, which it reads to its end before going on into the new live file; a
segment compressed meanwhile is read from its .gz.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from jobdeck.state.events import GENESIS, _parse, record_hash
from jobdeck.state.segments import (Segment, closed_segments, complete_lines, last_seq, open_closed, open_live,
                                    segment_name)

PROGRESS_EVERY = 4096
"""Records checked between calls of a verification's ``progress`` callback."""
FOLLOWED_ROTATIONS = 100
"""Rotations met during one check that it follows into the new live file; past them it stops where it is."""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain of work does not verify."""

    line: int
    seq: int | None
    problem: str
    file: str = "events.jsonl"
    """The segment file it is in (the live file: events.jsonl)."""


@dataclass(frozen=True, slots=True)
class CheckedSegment:
    """A segment file that was walked, and what it held."""

    file: str
    first: int
    records: int
    last: int | None


@dataclass
class ChainReport:
    """What ``verify_chain`` checked and the first break, if any."""

    records: int = 0
    segments: list[CheckedSegment] = field(default_factory=list)
    broken: ChainBreak | None = None
    head: tuple[int, str] | None = None
    """(seq, hash) of the last record checked, if the check reached the live file's end."""

    def to_json(self) -> dict[str, Any]:
        broken = self.broken
        return {"records": self.records, "ok": broken is None,
                "head": None if self.head is None else {"seq": self.head[0], "hash": self.head[1]},
                "segments": [{"file": s.file, "first": s.first, "last": s.last, "records": s.records}
                             for s in self.segments],
                "break": None if broken is None else {"file": broken.file, "line": broken.line,
                                                      "seq": broken.seq, "problem": broken.problem}}


def select(segments: list[Segment], from_seq: int | None, segment: int | None) -> list[Segment]:
    """The segments to check: all; those from the one holding ``from_seq``; or the one beginning at ``segment``."""
    if segment is not None:
        return [s for s in segments if s.first == segment]
    if from_seq is not None:
        start = max((s.first for s in segments if s.first <= from_seq), default=segments[0].first)
        return [s for s in segments if s.first >= start]
    return segments


def verify_chain(events_path: Path, anchor: tuple[int, str] | None = None, *,
                 from_seq: int | None = None, segment: int | None = None,
                 progress: Callable[[int, int | None], None] | None = None) -> ChainReport:
    """Check every record's hash, link and seq in the chosen segments, in order.

    A range (``from_seq``, ``segment``) that does not start at seq 1 trusts the
    link of its first record (the segment before it is not read). ``anchor`` is a
    (seq, hash) recorded outside the log (board.json's position), read before the
    check: the log must still hold that record, and, when the range reaches the
    live file, reach at least that seq. ``progress(seq, the last seq)`` is called
    every ``PROGRESS_EVERY`` records checked.
    """
    report = ChainReport()
    live = open_live(events_path)
    if live is None:
        if anchor is not None and anchor[0] > 0:
            report.broken = ChainBreak(0, anchor[0], f"the log is gone, but board.json saw it reach seq {anchor[0]}")
        return report
    f, first = live
    try:
        chosen = select([*closed_segments(events_path, first), Segment(first, events_path, live=True)],
                        from_seq, segment)
        # Whole from seq 1 unless a range was asked for: the oldest segment left is not the log's start
        # once older ones are archived.
        whole = (from_seq is None and segment is None) or (bool(chosen) and chosen[0].first == 1)
        walk = _Walk(report, anchor, whole, progress)
        if progress is not None:
            walk.total = max(anchor[0] if anchor is not None else 0, last_seq(events_path) or 0) or None
        for seg in chosen:
            if seg.live:
                break
            if not walk.closed(seg):
                return report
        else:
            return report  # --segment of a closed segment (or of none)
        for _ in range(FOLLOWED_ROTATIONS):
            if not walk.live(f, first, events_path):
                return report
            if segment is not None or walk.reached_live:
                break  # --segment: that file alone, even if it was closed meanwhile
            f.close()
            live = open_live(events_path)
            if live is None:
                break
            f, newer = live
            for seg in closed_segments(events_path, newer):
                if seg.first > first and not walk.closed(seg):
                    return report
            first = newer
    finally:
        f.close()
    walk.end_of_log()
    return report


class _Walk:
    """The chain checked so far: what the next record must link to and be numbered."""

    def __init__(self, report: ChainReport, anchor: tuple[int, str] | None, whole: bool,
                 progress: Callable[[int, int | None], None] | None = None) -> None:
        self.report, self.anchor, self.progress = report, anchor, progress
        self.total: int | None = None
        """The seq a progress line counts to (board.json's, or the live log's last as the check began)."""
        self.prev: str | None = GENESIS if whole else None
        """The hash the next record must link to (None: trust the first record's link)."""
        self.expected: int | None = 1 if whole else None
        self.reached_live = False
        """Whether the last file checked was still the live file when its end was read."""

    def closed(self, seg: Segment) -> bool:
        """Check a closed segment; False at a break (recorded in the report)."""
        try:
            path, f = open_closed(seg.path)
        except FileNotFoundError:
            self.report.broken = ChainBreak(0, seg.first, "the segment file is gone (removed while being checked?)",
                                            seg.name)
            return False
        with f:
            checked = self.lines(path.name, seg.first, complete_lines(f))
        self.report.segments.append(checked)
        return self.report.broken is None

    def live(self, f: IO[bytes], first: int, events_path: Path) -> bool:
        """Check the live file held open at ``f`` to its end, even if a rotation closes it meanwhile."""
        lines = _Lines(f)
        checked = self.lines(events_path.name, first, lines.read())
        self.reached_live = _same_file(f, events_path)
        if not self.reached_live and self.report.broken is None:
            # Closed by a rotation (or replaced) since it was opened: whatever it holds now is all it will hold.
            checked = self.lines(segment_name(first), first, lines.read(), checked)
        self.report.segments.append(checked)
        return self.report.broken is None

    def lines(self, name: str, first: int, lines: Iterator[tuple[int, bytes]],
              before: CheckedSegment | None = None) -> CheckedSegment:
        """Check one file's lines (after ``before``, what was checked of it already), stopping at a break."""
        count, last = (0, None) if before is None else (before.records, before.last)
        progress, total = self.progress, self.total
        for number, line in lines:
            seq, problem = self._check(number, first, line)
            if problem is not None:
                self.report.broken = ChainBreak(number, seq, problem, name)
                break
            count, last = count + 1, seq
            if progress is not None and not count % PROGRESS_EVERY and seq is not None:
                progress(seq, total)
        self.report.records += count - (0 if before is None else before.records)
        return CheckedSegment(name, first, count, last)

    def _check(self, number: int, first: int, line: bytes) -> tuple[int | None, str | None]:
        """The line's seq, and what is wrong with it (None: it holds, and the walk moves past it)."""
        record = _parse(line)
        if record is None:
            return None, "not a valid record (unparseable JSON)"
        seq: int | None = record.get("seq")
        if self.prev is None:  # the first record of a range: its link is trusted
            self.prev, self.expected = record.get("prev"), seq
        if number == 1 and seq != first:
            return seq, f"the segment's first record should be seq {first} (segments are named after it)"
        if record.get("prev") != self.prev:
            if number == 1 and first > 1 and self.prev == GENESIS:
                return seq, (f"the segments before seq {first} are not in .jobdeck/log (a segment is missing: "
                             f"archived or removed?); `audit verify --from {first}` checks the rest")
            return seq, ("does not link to the last record of the segment before it (a segment is missing, "
                         "or records were removed, inserted or edited)" if number == 1 and first > 1
                         else "does not link to the record before it (a record was removed, inserted or edited)")
        body = {k: v for k, v in record.items() if k != "hash"}
        if record.get("hash") != record_hash(self.prev, body):
            return seq, "its content does not match its hash (the record was edited)"
        if seq != self.expected or seq is None:
            return seq, f"sequence number {seq}, expected {self.expected}"
        if self.anchor is not None and seq == self.anchor[0] and record["hash"] != self.anchor[1]:
            return seq, "it is not the record board.json saw at this seq (history was rewritten)"
        self.prev, self.expected = record["hash"], seq + 1
        return seq, None

    def end_of_log(self) -> None:
        """Record the head reached, and a log that ends before the anchor."""
        report = self.report
        reached = (self.expected or 1) - 1
        if reached and self.prev is not None:
            report.head = (reached, self.prev)
        if self.anchor is not None and reached < self.anchor[0] and report.segments:
            last = report.segments[-1]
            report.broken = ChainBreak(last.records + 1, reached + 1,
                                       f"the log ends at seq {reached}, but board.json saw it reach seq "
                                       f"{self.anchor[0]} (records were removed from its end)", last.file)


class _Lines:
    """The complete lines of an open file, numbered from its start; reading again after its end goes on
    with what was appended since (a line still being written is read whole later)."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.number, self.position = f, 0, 0

    def read(self) -> Iterator[tuple[int, bytes]]:
        for line in iter(self.f.readline, b""):
            if not line.endswith(b"\n"):
                self.f.seek(self.position)
                return
            self.number += 1
            self.position += len(line)
            yield self.number, line


def _same_file(f: IO[bytes], path: Path) -> bool:
    """Whether the open file ``f`` is still the one at ``path``."""
    try:
        return os.path.samestat(os.fstat(f.fileno()), os.stat(path))
    except FileNotFoundError:
        return False
