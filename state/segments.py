"""Log segments: the chain of work rolled into closed files, and read or checked across them.

The live log stays ``.jobdeck/events.jsonl``; closed segments live in
``.jobdeck/log/events-<first seq>.jsonl`` (``.jsonl.gz`` once compressed). A
rotation, under the deck lock, hard-links the live file to its segment name,
then puts a new live file in its place (temp file, fsync, rename) whose first
record, of type ``segment``, links to the closed segment's last hash and
continues its seq. So the chain is one chain across files, and a reader still
holding the old file can tell a rotation (the new file starts with a
``segment`` record that continues where the closed files end) from a log that
was moved or replaced behind jobdeck's back (LogReplaced).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from jobdeck.state.atomic import FILE_MODE
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.errors import HistoryMissing, StateError

if TYPE_CHECKING:
    from jobdeck.state.events import EventLog

SEGMENT_BYTES = 64 * 1024 * 1024
"""Size past which the runner rotates the live log (override: $JOBDECK_LOG_SEGMENT, in bytes)."""
SEGMENT_ENV = "JOBDECK_LOG_SEGMENT"
SEGMENT_TYPE = "segment"
"""The type of the first record of every live file after the first: where the previous segment ended."""
_NAME = re.compile(r"events-(\d+)\.jsonl(\.gz)?")


def segment_bytes() -> int:
    """The rotation size: $JOBDECK_LOG_SEGMENT if it is a positive integer, else SEGMENT_BYTES."""
    value = os.environ.get(SEGMENT_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else SEGMENT_BYTES


def log_dir(events_path: Path) -> Path:
    """Where the closed segments of the log at ``events_path`` live."""
    return events_path.parent / "log"


def segment_name(first: int) -> str:
    return f"events-{first:012d}.jsonl"


def named_segment(name: str) -> tuple[int, bool] | None:
    """(first seq, compressed) of the segment a file name (``segment_name``'s, or its .gz) is for, or None."""
    match = _NAME.fullmatch(name)
    return None if match is None else (int(match.group(1)), bool(match.group(2)))


# A NamedTuple (and Rotation a plain class), not dataclasses: importing dataclasses (and inspect)
# costs the CLI ~7 ms at start.
class Segment(NamedTuple):
    """One file of the log: a closed segment or the live file."""

    first: int
    """Seq of its first record (1 for the log's first file)."""
    path: Path
    live: bool = False

    @property
    def name(self) -> str:
        return self.path.name


def open_segment(path: Path) -> IO[bytes]:
    """A closed segment (or the live file) for reading, decompressed if it is a .gz."""
    if path.suffix == ".gz":
        import gzip  # only for compressed segments: the CLI's start stays lean

        return gzip.open(path, "rb")
    return open(path, "rb")


def open_closed(path: Path) -> tuple[Path, IO[bytes]]:
    """A closed segment opened for reading, and the name it was found under.

    `log compact` removes the plain file once its .gz is in place, so a segment
    listed under its plain name may be read under the other one.
    """
    try:
        return path, open_segment(path)
    except FileNotFoundError:
        if path.suffix == ".gz":
            raise
    packed = path.with_name(path.name + ".gz")
    return packed, open_segment(packed)


def read_first(path: Path) -> dict[str, Any] | None:
    """The first record of a file, or None (missing, empty or not a record)."""
    try:
        with open_segment(path) as f:
            return first_record(f)
    except (OSError, EOFError):
        return None


def first_record(f: IO[bytes]) -> dict[str, Any] | None:
    """The first record of an open file (read from its start, which it is left at), or None."""
    f.seek(0)
    line = f.readline(1 << 20)
    f.seek(0)
    if not line.endswith(b"\n"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def first_seq(record: dict[str, Any] | None) -> int:
    """Seq of a live file's first record: the segment record's, else 1 (the log's first file)."""
    if record is not None and record.get("type") == SEGMENT_TYPE and isinstance(record.get("seq"), int):
        return record["seq"]
    return 1


def live_first(events_path: Path) -> int:
    """Seq of the live file's first record: the segment record's, else 1 (the log's first file)."""
    return first_seq(read_first(events_path))


def open_live(events_path: Path) -> tuple[IO[bytes], int] | None:
    """The live file opened for reading and the seq it begins at; None if there is none.

    Both come from the one open file: a rotation meanwhile makes it a closed
    segment, complete, instead of mixing two files.
    """
    try:
        f = open(events_path, "rb")
    except FileNotFoundError:
        return None
    try:
        return f, first_seq(first_record(f))
    except BaseException:
        f.close()
        raise


def closed_segments(events_path: Path, before: int | None = None) -> list[Segment]:
    """The closed segments, oldest first, that begin before the live file (or before seq ``before``).

    A name at or after the live file's first seq is the live file itself, linked by a
    rotation that was interrupted before the new live file took its place: not closed.
    Where both a segment and its .gz exist (compression interrupted), the plain file is read.
    """
    limit = live_first(events_path) if before is None else before
    found: dict[int, Path] = {}
    try:
        names = os.listdir(log_dir(events_path))
    except FileNotFoundError:
        return []
    for name in names:
        named = named_segment(name)
        if named is None:
            continue
        first, compressed = named
        if first < limit and (first not in found or not compressed):
            found[first] = log_dir(events_path) / name
    return [Segment(first, found[first]) for first in sorted(found)]


def all_segments(events_path: Path) -> list[Segment]:
    """Every file of the log in order: the closed segments, then the live file."""
    first = live_first(events_path)
    return [*closed_segments(events_path, first), Segment(first, events_path, live=True)]


def segment_holding(events_path: Path, seq: int, before: int) -> Segment | None:
    """The closed segment (beginning before seq ``before``) that holds seq ``seq``."""
    holding = None
    for segment in closed_segments(events_path, before):
        if segment.first <= max(seq, 1):
            holding = segment
    return holding


def lines_of(path: Path, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) of every complete line of a segment, from byte ``offset``.

    Line numbers count from the start of the file only when ``offset`` is 0.
    """
    with open_segment(path) as f:
        yield from complete_lines(f, offset)


def complete_lines(f: IO[bytes], offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) of every complete line of an open file, from byte ``offset`` (see ``lines_of``)."""
    if offset:
        f.seek(offset)
    for number, line in enumerate(f, 1):
        if line.endswith(b"\n"):
            yield number, line


class SavedPosition(NamedTuple):
    """Where a cache (board.json, stats-cache.json) stopped reading, checked against the log as it is."""

    holds: bool
    """Whether the log still holds that record where the cache saw it."""
    segment: Any
    """The first seq of the file the position is in."""
    closed: bool
    """Whether that file is a closed segment now."""
    identity: tuple[int, int] | None
    """The live file the checks looked at (``EventLog.resume_at`` takes it)."""


def check_saved_position(events_path: Path, offset: object, last_hash: object, segment: object) -> SavedPosition:
    """Check a saved position (``segment`` None: in the live file).

    Each check looks at the path: one a rotation came between is made again, so a
    rotation meeting the reader reads as one, not as records removed (a false tamper
    warning) nor, at the next read, as a truncation.
    """
    from jobdeck.state.events import file_identity, grown_since

    for _ in range(10):
        identity = file_identity(events_path)
        first = live_first(events_path)
        begins = first if segment is None else segment
        closed = begins != first
        if closed:  # taken before a rotation: the position is in a closed segment
            found = _closed_at(events_path, begins, first)
            holds = found is not None and position_holds(found.path, offset, last_hash)
        else:
            holds = grown_since(events_path, offset, last_hash) is not None
        if file_identity(events_path) == identity:
            break
    return SavedPosition(holds, begins, closed, identity)


def _closed_at(events_path: Path, begins: int, live: int) -> Segment | None:
    """The closed segment that begins at seq ``begins`` (the live file begins at ``live``), if it is there."""
    return next((segment for segment in closed_segments(events_path, live) if segment.first == begins), None)


def check_boundary(events_path: Path, seq: int, offset: object, last_hash: object,
                   segment: object) -> SavedPosition | None:
    """Check a position saved at the end of a closed segment (a checkpoint's) against the log as it is.

    The ``segment`` record opening the file after it names where the closed file ended
    (last seq, bytes) and links to its last hash, so the position is checked against the
    chain itself, even once the closed file is compressed or archived. Returns the start of
    that file to resume from (``holds`` False: the log disagrees), or None when no file
    left begins there (archived as well): nothing to resume in, and nothing to judge by.
    """
    from jobdeck.state.events import file_identity

    begins = seq + 1
    for _ in range(10):  # as check_saved_position: a rotation meeting the check makes it look again
        identity = file_identity(events_path)
        first = live_first(events_path)
        if first == begins:
            head, closed = read_first(events_path), False
        elif first > begins:
            found = _closed_at(events_path, begins, first)
            if found is None:
                return None
            try:
                with open_closed(found.path)[1] as f:
                    head = first_record(f)
            except (OSError, EOFError):
                head = None
            closed = True
        else:  # the log has not reached this boundary: it was cut back, or is another log
            head, closed = None, False
        if file_identity(events_path) == identity:
            break
    ended = head.get("closed") if head is not None else None
    holds = (head is not None and head.get("type") == SEGMENT_TYPE and head.get("seq") == begins
             and head.get("prev") == last_hash and isinstance(ended, dict)
             and (ended.get("first"), ended.get("last"), ended.get("bytes")) == (segment, seq, offset))
    return SavedPosition(holds, begins, closed, None if closed else identity)


def position_holds(path: Path, offset: object, last_hash: object) -> bool:
    """Whether the segment at ``path`` has the record ``last_hash`` ending at byte ``offset``."""
    if not isinstance(offset, int) or not isinstance(last_hash, str) or offset <= 0:
        return False
    start = max(0, offset - 65536)
    try:
        with open_segment(path) as f:
            f.seek(start)
            tail = f.read(offset - start)
    except (OSError, EOFError):
        return False
    if len(tail) != offset - start or not tail.endswith(b"\n"):
        return False
    try:
        record = json.loads(tail[tail.rfind(b"\n", 0, len(tail) - 1) + 1:])
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("hash") == last_hash


# -- rotation ------------------------------------------------------------------------


class Rotation:
    """What a rotation or compaction did."""

    closed: str | None
    """The file name the live segment was closed under (None: nothing to rotate)."""
    first: int | None
    """Seq of the new live file's first record (its segment record)."""
    compressed: list[str]
    """Closed segments compressed to .gz."""
    checkpoint: str | None
    """The file name of the board's checkpoint at the closed segment's end (None: none written;
    state/checkpoints.py)."""

    def __init__(self, closed: str | None = None, first: int | None = None,
                 compressed: list[str] | None = None) -> None:
        self.closed = closed
        self.first = first
        self.compressed = [] if compressed is None else compressed
        self.checkpoint = None


def rotate(log: EventLog, now: float | None = None) -> Rotation:
    """Close the live file as a segment and start a new one (caller holds the deck lock, log caught up).

    Every step leaves a log that reads the same: the hard link adds a name to the
    live file; the new live file appears only by rename, complete and fsynced,
    with a first record that links to the closed file's last hash. A crash before
    the rename leaves the link, which later rotations and readers recognise as the
    live file itself.
    """
    from jobdeck.state.events import GENESIS, TAIL, encode, record_hash

    if log.pending:
        raise StateError("cannot rotate the log with records sealed but not written")
    path = log.path
    if not log.seq or (log.first_seq > 1 and log.seq <= log.first_seq):
        return Rotation()  # the live file holds no record, or only its segment record
    first = log.first_seq
    live = log._open()  # checks it is still the file read so far
    st = os.fstat(live)
    if st.st_size != log.offset:  # a torn record left by a crashed writer: not part of the closed file
        if st.st_size < log.offset:
            from jobdeck.state.errors import LogReplaced

            raise LogReplaced(str(path), "truncated")
        os.ftruncate(live, log.offset)
    os.fsync(live)
    directory = log_dir(path)
    directory.mkdir(mode=0o700, exist_ok=True)
    closed = directory / segment_name(first)
    try:
        os.link(path, closed)
    except FileExistsError:  # an interrupted rotation of this same file linked it already
        if not os.path.samefile(path, closed):
            raise StateError(f"{closed} exists and is not the live log {path}",
                             hint="a closed segment was restored by hand? move it aside and rotate again") from None
    _fsync_dir(directory)
    crash_point("rotate.after_link")
    ts = round(time.time() if now is None else now, 6)
    body = {"seq": log.seq + 1, "ts": ts, "type": SEGMENT_TYPE,
            "closed": {"file": closed.name, "first": first, "last": log.seq, "bytes": log.offset},
            "prev": log.last_hash or GENESIS}
    record = {**body, "hash": record_hash(body["prev"], body)}
    line = encode(record)
    temp = path.with_name(path.name + ".next")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        os.write(fd, line)
        os.fsync(fd)
        crash_point("rotate.before_rename")
        os.replace(temp, path)
    except BaseException:
        os.close(fd)
        raise
    crash_point("rotate.after_rename")
    _fsync_dir(path.parent)
    log.adopt(fd, record, line[-TAIL:], len(line))
    return Rotation(closed=closed.name, first=record["seq"])


def compress(events_path: Path) -> list[str]:
    """Gzip every closed segment not yet compressed (caller holds the deck lock); return their names.

    The .gz is written beside, fsynced and renamed into place before the plain file
    is removed, so a segment is always whole under one of its two names.
    """
    import gzip

    done = []
    for segment in closed_segments(events_path):
        if segment.path.suffix == ".gz":
            continue
        target = segment.path.with_name(segment.path.name + ".gz")
        if not target.exists():
            temp = segment.path.with_name(segment.path.name + ".gz.tmp")
            with open(segment.path, "rb") as source, open(temp, "wb") as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
                    while chunk := source.read(1 << 20):
                        packed.write(chunk)
                raw.flush()
                os.fsync(raw.fileno())
            os.chmod(temp, FILE_MODE)
            crash_point("compress.before_rename")
            os.replace(temp, target)
            _fsync_dir(target.parent)
        crash_point("compress.before_unlink")
        segment.path.unlink()
        _fsync_dir(target.parent)
        done.append(target.name)
    return done


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


READ_BACK_BLOCK = 1 << 20
SCAN_BLOCK = 4 << 20


def recent_records(events_path: Path, job_id: str | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The job's newest ``limit`` records (``job_id`` None: the deck's), oldest first, and whether there are
    older ones.

    Read from the end of the log backwards (gzip segments forwards, one line at a
    time), so `show` and `events -n` cost what the recent history costs, not the whole log.
    """
    needle = b'"job":"' + job_id.encode() + b'"' if job_id is not None else b""
    found: list[dict[str, Any]] = []
    for segment in reversed(all_segments(events_path)):
        try:
            lines = lines_backwards(segment.path) if not segment.path.name.endswith(".gz") else reversed(
                [line for _, line in lines_of(segment.path) if needle in line])
            for line in lines:
                if needle not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and (job_id is None or record.get("job") == job_id):
                    if len(found) == limit:
                        return found[::-1], True
                    found.append(record)
        except FileNotFoundError:
            continue
    return found[::-1], False


def job_records(events_path: Path, job_id: str, *, complete: bool = True) -> list[dict[str, Any]]:
    """Every record of the job, oldest first, from every segment.

    Each file is scanned 4 MiB at a time for the job's id, and only the lines
    holding it are parsed, so memory is the job's history, not the log's (a
    fold of the whole log held 1.8 GB at a million events). A torn last line is
    left out. A rotation or compression meeting the read makes it start again.
    With ``complete``, HistoryMissing when the oldest segments were archived
    (moved out of .jobdeck/log/); without, what remains.
    """
    needle = b'"job":"' + job_id.encode() + b'"'
    for _ in range(10):
        first = live_first(events_path)
        found: list[dict[str, Any]] = []
        segments = all_segments(events_path)
        if complete and segments and segments[0].first > 1:
            raise HistoryMissing(str(events_path), str(log_dir(events_path)), 1, segments[0].first)
        try:
            for segment in segments:
                found.extend(_matching(segment.path, needle, job_id, missing_ok=segment.live))
        except FileNotFoundError:  # a closed segment compressed meanwhile
            continue
        if live_first(events_path) == first:
            return found
    raise StateError(f"{events_path} was rotated again and again while being read")


def _matching(path: Path, needle: bytes, job_id: str, *, missing_ok: bool) -> Iterator[dict[str, Any]]:
    """The records of ``job_id`` among the complete lines of one file holding ``needle`` (none if it is
    missing and ``missing_ok``)."""
    try:
        f = open_segment(path)
    except FileNotFoundError:
        if missing_ok:
            return
        raise
    with f:
        rest = b""
        while block := f.read(SCAN_BLOCK):
            block = rest + block
            end = block.rfind(b"\n") + 1
            block, rest = block[:end], block[end:]
            at = block.find(needle)
            while at >= 0:
                start = block.rfind(b"\n", 0, at) + 1
                stop = block.find(b"\n", at) + 1
                try:
                    record = json.loads(block[start:stop])
                except ValueError:
                    record = None
                if isinstance(record, dict) and record.get("job") == job_id and isinstance(record.get("type"), str):
                    yield record
                at = block.find(needle, stop)


def last_seq(events_path: Path) -> int | None:
    """The seq of the live log's last complete record; None if there is none, or it has no seq."""
    try:
        last = next(lines_backwards(events_path), None)
        record = json.loads(last) if last is not None else None
    except (OSError, ValueError):
        return None
    seq = record.get("seq") if isinstance(record, dict) else None
    return seq if isinstance(seq, int) else None


def lines_backwards(path: Path) -> Iterator[bytes]:
    """The complete lines of a plain file, last first (a torn last line is left out)."""
    with open(path, "rb") as f:
        position = f.seek(0, os.SEEK_END)
        rest = b""
        first = True
        while position > 0:
            start = max(0, position - READ_BACK_BLOCK)
            f.seek(start)
            block = f.read(position - start) + rest
            position = start
            lines = block.split(b"\n")
            if first:
                if len(lines) == 1 and position > 0:
                    continue  # all of this block is a torn last line: look further back for its start
                lines.pop()  # after the last newline: empty, or a torn line
                first = False
            rest = lines.pop(0) if position > 0 and lines else b""
            yield from reversed([line for line in lines if line])
        if rest:
            yield rest
