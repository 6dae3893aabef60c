"""Checking the chain of work across every segment of the log, or a range of them.

Each record links to the one before by hash, across segment files too (a live
file's first record links to the last of the closed segment before it), so a
walk in order detects an edited, removed, inserted or reordered record, a
missing segment, and, against board.json's anchor, records cut off the end.
"""

from __future__ import annotations

import itertools

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobdeck.state.events import GENESIS, _parse, record_hash
from jobdeck.state.segments import Segment, all_segments, lines_of


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
                 from_seq: int | None = None, segment: int | None = None) -> ChainReport:
    """Check every record's hash, link and seq in the chosen segments, in order.

    A range that does not start at the log's first segment trusts the link of its
    first record (the segment before it is not read). ``anchor`` is a (seq, hash)
    recorded outside the log (board.json's position): the log must still hold that
    record, and, when the range reaches the live file, reach at least that seq.
    """
    report = ChainReport()
    everything = all_segments(events_path)
    chosen = select(everything, from_seq, segment)
    whole = chosen[:1] == everything[:1]
    prev: str | None = GENESIS if whole else None
    expected: int | None = 1 if whole else None
    if not events_path.exists() and len(everything) == 1:
        if anchor is not None and anchor[0] > 0:
            report.broken = ChainBreak(0, anchor[0], f"the log is gone, but board.json saw it reach seq {anchor[0]}")
        return report
    for seg in chosen:
        name = seg.name
        count, last = 0, None
        lines = lines_of(seg.path)  # streamed: a segment is read a line at a time, whatever its size
        try:
            head = next(lines, None)
        except FileNotFoundError:
            report.broken = ChainBreak(0, seg.first, "the segment file is gone (removed while being checked?)", name)
            return report
        for number, line in itertools.chain([head] if head is not None else [], lines):
            record = _parse(line)
            if record is None:
                report.broken = ChainBreak(number, None, "not a valid record (unparseable JSON)", name)
                break
            seq = record.get("seq")
            if prev is None:  # the first record of a range: its link is trusted
                prev, expected = record.get("prev"), seq
            if number == 1 and seq != seg.first:
                report.broken = ChainBreak(number, seq, f"the segment's first record should be seq {seg.first} "
                                                        "(segments are named after it)", name)
                break
            if record.get("prev") != prev:
                problem = ("does not link to the last record of the segment before it (a segment is missing, "
                           "or records were removed, inserted or edited)" if number == 1 and seg.first > 1
                           else "does not link to the record before it (a record was removed, inserted or edited)")
                report.broken = ChainBreak(number, seq, problem, name)
                break
            body = {k: v for k, v in record.items() if k != "hash"}
            if record.get("hash") != record_hash(prev, body):
                report.broken = ChainBreak(number, seq, "its content does not match its hash (the record was edited)", name)
                break
            if seq != expected:
                report.broken = ChainBreak(number, seq, f"sequence number {seq}, expected {expected}", name)
                break
            if anchor is not None and seq == anchor[0] and record["hash"] != anchor[1]:
                report.broken = ChainBreak(number, seq, "it is not the record board.json saw at this seq "
                                                        "(history was rewritten)", name)
                break
            prev, expected, count, last = record["hash"], seq + 1, count + 1, seq
        report.segments.append(CheckedSegment(name, seg.first, count, last))
        report.records += count
        if report.broken is not None:
            return report
    reached = (expected or 1) - 1
    if chosen and chosen[-1].live and reached and prev is not None:
        report.head = (reached, prev)
    if anchor is not None and chosen and chosen[-1].live and reached < anchor[0]:
        report.broken = ChainBreak(report.segments[-1].records + 1, reached + 1,
                                   f"the log ends at seq {reached}, but board.json saw it reach seq {anchor[0]} "
                                   "(records were removed from its end)", report.segments[-1].file)
    return report
