"""`.jobdeck/stats-cache.json`: the log's history (state/history.py) as folded so far, and where.

Folding a million records takes seconds; the cache keeps the hourly tallies and
the fold's pending state with the log position they reflect (offset, seq, hash
and segment, as board.json keeps its own), so the next `jobdeck stats` folds
only what was appended since. The position is checked as board.json's is: a
cache whose record is no longer at its offset (the log cut, rewritten or
replaced), torn, of another format or unreadable is ignored and the history is
folded again from the log's start, as is one with a line found not to parse
when a question reads it; it is never trusted over the log.

The file is one JSON line (format, position, totals, pending state), then a
line per hour (``HOUR<TAB>{scope: tally}``, oldest first), then one per UTC day
(state/buckets.py). Only the lines a question needs are parsed, and an update
writes again only the hours and days the fold changed: the others are copied
as they were read. It is written atomically,
0600, not fsynced (it can always be rebuilt), and not at all where the deck
refuses writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from jobdeck.state.atomic import write_atomic
from jobdeck.state.board import CATCH_UP_BYTES
from jobdeck.state.deck import Deck
from jobdeck.state.errors import SpecError, StatsCacheDamaged, deck_access_error
from jobdeck.state.events import EventLog
from jobdeck.state.buckets import StoredLines
from jobdeck.state.history import History
from jobdeck.state.segments import check_saved_position, last_seq

CACHE_NAME = "stats-cache.json"
TOTALS_NAME = "stats-totals.json"
"""The cache's header alone (totals and the fold's pending state, no hours or days), sized by the jobs, not the
history: what the metrics' deadline counters keep themselves up to date from, read and written by every run."""
STATS_CACHE_FORMAT = 11
"""The version of what the cache holds; a cache of another (or none) is stale, and the log is folded again.

It keys the cache instead of jobdeck's code (state/stamps.py), so an upgrade that leaves the stats as
they were keeps the cache: a refold of a million records costs ~18 s of CPU. Bump it when what is folded
or how it is laid out changes: the tallies (state/history.py, tally.py, outcomes.py, timeline.py, buckets.py,
rollups.py's Histogram), the pending state, or this file's header. tests/unit/test_stats_cache_format.py
guards it: it folds a fixed log that touches every counter and compares a fingerprint of the cache
written with the one recorded for this format, so such a change fails there until this is bumped. A
change in how a record absent from that log is counted needs the bump all the same (and the record added).
"""
T = TypeVar("T")
Progress = Callable[[int, int | None], None]
"""Told after each chunk of a fold: the seq reached and the log's last seq (None if not found)."""


def cache_path(deck: Deck, name: str = CACHE_NAME) -> Path:
    return deck.state_dir / name


def answer(deck: Deck, question: Callable[[History], T], *, progress: Progress | None = None) -> T:
    """``question`` asked of the deck's history; a cache found damaged on the way is folded again and asked again."""
    try:
        return question(_told_workspaces(deck, load_history(deck, progress=progress)))
    except StatsCacheDamaged:
        return question(_told_workspaces(deck, load_history(deck, cached=False, progress=progress)))


def _told_workspaces(deck: Deck, history: History) -> History:
    """``history``, told the workspace jobs.json gives each job if an operator's record of a job no claim named a
    workspace for waits to be placed (History.declared): as the loader last accepted jobs.json, or as the file
    reads now if it accepted no version with this code (a workspace's name is all that is read)."""
    if history.unplaced:
        from jobdeck.state.lightspec import kept_spec, light_spec  # (the preview: only for such a record)
        from jobdeck.state.preview import preview_jobs
        from jobdeck.state.specbytes import read_spec_file

        def read(how: Callable[[], T]) -> T | None:
            try:
                return how()
            except SpecError:  # no jobs.json, or one that cannot be read
                return None

        found = read(lambda: light_spec(deck)) or kept_spec(deck)
        jobs = found.jobs if found is not None else read(lambda: preview_jobs(read_spec_file(deck.spec_path)))
        if jobs is not None:
            history.declared = {job.id: job.workspace for job in jobs}
    return history


def load_history(deck: Deck, *, cached: bool = True, progress: Progress | None = None) -> History:
    """The deck's history folded to the end of the log: from the cache where it holds, then the cache updated.

    ``cached=False`` folds the whole log whatever the cache holds (and replaces it). ``progress`` is told
    how far the fold has come after each chunk it folds (not at all when nothing was appended).
    """
    log = EventLog(deck.events_path)
    history = cached_history(deck, log) if cached else None
    cached = history is not None
    if history is None:
        history, log = History(), EventLog(deck.events_path)
    folded = 0
    head: int | None = None
    try:
        while True:
            records = log.read_new(CATCH_UP_BYTES) or log.read_new()  # a line longer than a chunk
            if not records:
                break  # the end, or a torn last line the writer will cut off
            history.fold(records)
            folded += len(records)
            if progress is not None:
                head = head if head is not None and head >= log.seq else last_seq(deck.events_path)
                progress(log.seq, head)
    except OSError as exc:
        raise deck_access_error(exc, "read the chain of work", deck.events_path) from None
    finally:
        log.close()
    if folded or not cached:
        save_history(deck, history, log)
    return history


def cached_history(deck: Deck, log: EventLog, name: str = CACHE_NAME) -> History | None:
    """The cached history (in the file ``name``: TOTALS_NAME's has no hours or days) with ``log`` standing at its
    position; None if there is none that holds."""
    try:
        data = cache_path(deck, name).read_bytes()
        end = data.index(b"\n")
        header = json.loads(data[:end])
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict) or header.get("format") != STATS_CACHE_FORMAT \
            or not isinstance(header.get("events"), dict) or header.get("bytes") != len(data):
        return None  # another format, or torn
    position: Mapping[str, Any] = header["events"]
    offset, seq, last_hash = position.get("offset"), position.get("seq"), position.get("hash")
    if not isinstance(offset, int) or not isinstance(seq, int) or not isinstance(last_hash, str):
        return None
    try:
        saved = check_saved_position(deck.events_path, offset, last_hash, position.get("segment"))
        if not saved.holds:
            return None
        days_at = end + 1 + header["hour_bytes"]
        if not end < days_at <= len(data):
            return None
        history = History.from_json(header["history"], StoredLines(data, end + 1, days_at), StoredLines(data, days_at))
    except (OSError, KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None
    log.resume_at(offset, seq, last_hash, first_seq=saved.segment, closed=saved.closed, identity=saved.identity)
    return history


def save_history(deck: Deck, history: History, log: EventLog, name: str = CACHE_NAME) -> None:
    """Write ``history`` as the cache, folded to where ``log`` stands (``cached_history`` reads it back); in the
    file TOTALS_NAME, without its hours and days."""
    hours, days = (history.hours.lines(), history.days.lines()) if name != TOTALS_NAME else ([], [])
    pieces = [*hours, *days]
    body = sum(len(piece) for piece in pieces)
    header: dict[str, Any] = {
        "format": STATS_CACHE_FORMAT, "bytes": 0, "hour_bytes": sum(len(piece) for piece in hours),
        "events": {"offset": log.offset, "seq": log.seq, "hash": log.last_hash, "segment": log.first_seq},
        "history": history.state_json()}
    size = len(json.dumps(header, separators=(",", ":"))) + 1 + body
    while header["bytes"] != size:  # the header holds the file's size, its own digits included
        header["bytes"] = size
        size = len(json.dumps(header, separators=(",", ":"))) + 1 + body
    data = b"".join([json.dumps(header, separators=(",", ":")).encode(), b"\n", *pieces])
    try:
        write_atomic(cache_path(deck, name), data, durable=False, cache=True)
    except OSError:
        pass  # a deck that refuses writes still gets its answer; the next call folds again
