"""The append-only, hash-chained event log: the chain of work for every job.

One JSON record per line. Each record carries ``seq``, ``ts``, ``type``, the
``prev`` hash (of the record before it) and its own ``hash`` over its body, so
an edited, removed or reordered record is detected by ``verify``. Records are
appended under the deck lock and fsynced before they count; several records
written in one ``flush`` share one fsync (group commit). A torn last line left
by a crash is ignored by readers and cut off by the next writer.

A log is one live file, and the closed segments jobdeck rotated out of it
(state/segments.py). A reader or writer remembers which file it read (device and
inode) and the bytes just before the place it reached. If the file at the path
is another one that begins with a ``segment`` record continuing the chain from
the closed segments, it was a rotation: the reader reads the rest of the closed
file it was in, and goes on in the new one. Otherwise, if the file is another
one, is gone, or no longer holds those bytes (moved, replaced, truncated: a
logrotate), it raises LogReplaced rather than append to the old file or read
the new one from the middle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from jobdeck.state.atomic import FILE_MODE
from jobdeck.state.crashpoint import armed, crash_point
from jobdeck.state.digest import sha256_hex
from jobdeck.state.errors import HistoryMissing, LogReplaced

if TYPE_CHECKING:  # imported on the first write (~4 ms): `ls --json` from the card cache never writes
    from concurrent.futures import Future, ThreadPoolExecutor

    from jobdeck.state.chain import ChainBreak
    from jobdeck.state.segments import Segment

GENESIS = "0" * 32
TAIL = 48
"""Bytes before the read position a reader keeps to tell that the file still holds them (a record's hash ends there)."""
_syncer: ThreadPoolExecutor | None = None


def _background_sync(fd: int) -> Future[None]:
    """Start ``fdatasync(fd)`` on the syncer thread (it releases the GIL while the disk works)."""
    global _syncer
    if _syncer is None:
        from concurrent.futures import ThreadPoolExecutor

        _syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobdeck-fsync")
    return _syncer.submit(os.fdatasync, fd)


def record_hash(prev: str, body: dict[str, Any]) -> str:
    """Hash of a record: its predecessor's hash and its canonical body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return sha256_hex(f"{prev}\n{canonical}".encode())[:32]


def encode(record: dict[str, Any]) -> bytes:
    """One log line for ``record``."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"


class EventLog:
    """Reads new records incrementally and appends records (caller holds the deck lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0        # bytes of complete lines consumed
        self.seq = 0           # seq of the last record consumed
        self.last_hash = GENESIS
        self.skipped = 0       # unreadable lines passed over (see verify for details)
        self.first_seq = 1     # seq of the live file's first record (a rotation's segment record)
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file read or opened
        self._tail = b""  # the last bytes before ``offset``, as read or written
        self._written_tail = b""  # the last bytes of the flush under way
        self._segment: tuple[int, IO[bytes]] | None = None  # (first seq, open file) of the closed segment a
        # limited read stopped in: the next read goes on from it (a .gz cannot seek without decompressing again)

    def _open(self) -> int:
        if self._fd is None:
            flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
            if self._identity is None and self.offset == 0:
                flags |= os.O_CREAT  # a new log; one that was read must still be there
            try:
                fd = os.open(self.path, flags, FILE_MODE)
            except FileNotFoundError:
                raise LogReplaced(str(self.path), "moved or removed") from None
            st = os.fstat(fd)
            if self._identity is not None and (st.st_dev, st.st_ino) != self._identity:
                os.close(fd)
                raise LogReplaced(str(self.path), "moved or replaced")
            self._identity = (st.st_dev, st.st_ino)
            self._fd = fd
        return self._fd

    def _check(self, st: os.stat_result) -> None:
        """LogReplaced unless ``st`` (the file at the path now) is the file read so far, not cut short."""
        if self._identity is None:
            return
        if (st.st_dev, st.st_ino) != self._identity:
            raise LogReplaced(str(self.path), "moved or replaced")
        if st.st_size < self.offset:
            raise LogReplaced(str(self.path), "truncated")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._drop_segment()

    def _drop_segment(self) -> None:
        if self._segment is not None:
            self._segment[1].close()
            self._segment = None

    def resume_at(self, offset: int, seq: int, last_hash: str, *, first_seq: int = 1, closed: bool = False,
                  identity: tuple[int, int] | None = None) -> None:
        """Continue reading after a known position (e.g. from a board snapshot).

        ``closed``: the position is in the closed segment that begins at ``first_seq``,
        rotated out since; the next read goes on from there into the live file.
        ``identity``: the file the caller found that position in (``file_identity``), taken
        before it looked: a rotation since is then followed, not taken for a truncation.
        """
        self.offset, self.seq, self.last_hash, self.first_seq = offset, seq, last_hash, first_seq
        self._tail = b""
        self._drop_segment()
        if closed:
            self._identity = (-1, -1)  # no file at the path is that one: the next read follows the rotation
            return
        self._identity = identity if identity is not None else file_identity(self.path)

    def size(self) -> int:
        """The log's size (0 if it does not exist yet); LogReplaced if it is not the file read so far."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._identity is not None or self.offset:
                raise LogReplaced(str(self.path), "moved or removed") from None
            return 0
        if self._identity is not None and (st.st_dev, st.st_ino) != self._identity and self._rotated():
            return self.offset + 1  # grown, as far as the caller needs to know: read_new follows the rotation
        self._check(st)
        return st.st_size

    def _rotated(self) -> bool:
        """Whether the file at the path begins with a segment record after our position (a rotation, it seems)."""
        from jobdeck.state.segments import SEGMENT_TYPE, read_first

        head = read_first(self.path)
        return head is not None and head.get("type") == SEGMENT_TYPE and isinstance(head.get("seq"), int) \
            and head["seq"] > self.seq

    def read_new(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Records appended since the last call; a trailing partial line is left for later.

        ``limit``: read at most about that many bytes this call (the records of
        complete lines, of the live file or of the closed segments a rotation left
        behind the position; the rest is read by the next call).

        Nothing while records of ours are sealed but not yet stored: they may be in
        the file already, and they are folded into the caller's board already.
        """
        if self._pending:
            return []
        records: list[dict[str, Any]] = []
        for _ in range(100):  # a rotation met while reading is followed; as many again would be absurd
            try:
                return records + self._read_live(limit)
            except _Rotated:
                records += self._follow(limit)
                if limit is not None and records:
                    return records  # a chunk of the closed segments: the next call goes on
        raise LogReplaced(str(self.path), "rotated again and again while being read")

    def _read_live(self, limit: int | None = None) -> list[dict[str, Any]]:
        """New records of the live file; _Rotated if it is a rotation's new file, not the one read so far."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            if self._identity is not None or self.offset:
                raise LogReplaced(str(self.path), "moved or removed") from None
            return []
        with f:
            st = os.fstat(f.fileno())
            if self._identity is not None and (st.st_dev, st.st_ino) != self._identity and self._rotated():
                raise _Rotated
            if self._identity is None and self.offset == 0 and self.seq == 0 and self._rotated():
                raise _Rotated  # a new reader: the history before the live file is in the closed segments
            self._check(st)
            tail = self._tail
            f.seek(self.offset - len(tail))
            chunk = f.read() if limit is None else f.read(len(tail) + limit)
        if not chunk.startswith(tail):
            raise LogReplaced(str(self.path), "truncated or rewritten")
        self._identity = (st.st_dev, st.st_ino)
        chunk = chunk[len(tail):]
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        records = self._fold_lines(chunk[: end + 1].splitlines())
        if self.offset == 0 and records and isinstance(records[0].get("seq"), int):
            self.first_seq = records[0]["seq"]
        self.offset += end + 1
        self._tail = (tail + chunk[: end + 1])[-TAIL:]
        return records

    def _fold_lines(self, lines: list[bytes]) -> list[dict[str, Any]]:
        """The records of ``lines``, moving seq and last_hash past them."""
        records: list[dict[str, Any]] = []
        for record in _parse_lines(lines):
            if record is None:
                self.skipped += 1
                continue
            records.append(record)
            self.seq = record.get("seq", self.seq)
            self.last_hash = record.get("hash", self.last_hash)
        return records

    def _follow(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Read the closed segments from our position to the live file, then stand at its start.

        ``limit``: stop after about that many bytes, standing in the closed segment
        reached (the next read follows on from there), so a reader far behind holds
        one chunk of records at a time, not every segment's.

        LogReplaced unless they continue the chain from where we were to the live
        file's segment record: the file at the path was then not put there by a rotation.
        """
        from jobdeck.state.segments import SEGMENT_TYPE, closed_segments, complete_lines, first_record, log_dir

        try:
            live = open(self.path, "rb")
        except FileNotFoundError:
            raise LogReplaced(str(self.path), "moved or removed") from None
        with live:  # its first record and identity from one file, whatever is rotated meanwhile
            head = first_record(live)
            st = os.fstat(live.fileno())
        if head is None or head.get("type") != SEGMENT_TYPE or not isinstance(head.get("seq"), int):
            raise LogReplaced(str(self.path), "moved or replaced")
        live_first = head["seq"]
        ended = head.get("closed")
        if (self.seq and live_first == self.seq + 1 and head.get("prev") == self.last_hash
                and isinstance(ended, dict) and ended.get("last") == self.seq and ended.get("bytes") == self.offset):
            # Read to its end before it was closed: nothing is needed from it, and it may be archived already.
            self._stand_at_start(live_first, st)
            return []
        closed = closed_segments(self.path, live_first)
        if self.seq:  # the file we were reading is closed now, under the name of its first seq
            if not any(s.first == self.first_seq for s in closed):
                raise LogReplaced(str(self.path), "moved or replaced (no closed segment holds the records read so far)")
            closed = [s for s in closed if s.first >= self.first_seq]
        records: list[dict[str, Any]] = []
        budget = limit
        kept, self._segment = self._segment, None  # the closed segment a limited read stopped in, still open
        try:
            for index, segment in enumerate(closed):
                resume = index == 0 and self.seq > 0
                if not resume and segment.first != self.seq + 1:  # archived: the segments are moved out oldest first
                    raise HistoryMissing(str(self.path), str(log_dir(self.path)), self.seq + 1, segment.first)
                if resume and kept is not None and kept[0] == segment.first:  # read on where the last read stopped
                    f, start, tail, before, seek = kept[1], self.offset, b"", self._tail, False
                    kept = None
                else:
                    (f, start, tail), before, seek = self._open_segment(segment, resume), b"", True
                try:
                    lines, read, stopped = [], 0, False
                    for _, line in complete_lines(f, start if seek else 0):
                        lines.append(line)
                        read += len(line)
                        if budget is not None and read >= budget:
                            stopped = True
                            break
                    data = b"".join(lines)
                    if tail:
                        if not data.startswith(tail):
                            raise LogReplaced(str(self.path), f"rewritten (the closed segment {segment.name})")
                        lines = data[len(tail):].splitlines(keepends=True)
                    if lines and _link(lines[0]) != self.last_hash:
                        raise LogReplaced(str(self.path), f"moved or replaced (the closed segment {segment.name} "
                                                          "does not continue the chain from the records read so far)")
                    records += self._fold_lines([line.rstrip(b"\n") for line in lines])
                except BaseException:
                    f.close()
                    raise
                if stopped:  # stand in this segment, its file left open: the next read goes on from here
                    self.close()
                    held = os.fstat(f.fileno())  # (a .gz's own file: compacted again, it is read anew)
                    self._identity, self._segment = (held.st_dev, held.st_ino), (segment.first, f)
                    self.offset, self._tail, self.first_seq = start + len(data), (before + data)[-TAIL:], segment.first
                    return records
                f.close()
                if budget is not None:
                    budget -= read
        finally:
            if kept is not None:
                kept[1].close()
        if self.seq < live_first - 1:
            raise HistoryMissing(str(self.path), str(log_dir(self.path)), self.seq + 1, live_first)
        if self.seq != live_first - 1 or self.last_hash != head.get("prev"):
            raise LogReplaced(str(self.path), "moved or replaced (the closed segments do not end "
                                              "where the live file begins)")
        self._stand_at_start(live_first, st)
        return records

    def _open_segment(self, segment: Segment, resume: bool) -> tuple[IO[bytes], int, bytes]:
        """The closed ``segment`` opened for reading; where to read it from and the bytes it must hold there.

        From its start, or, to ``resume`` in it, from just before our position: the
        bytes there must be those we read last (``_tail``), in the same file.
        """
        from jobdeck.state.segments import open_closed

        path, f = open_closed(segment.path)  # its .gz if a compaction replaced it since it was listed
        if not resume:
            return f, 0, b""
        held = os.fstat(f.fileno())
        if path.suffix != ".gz" and self._identity != (-1, -1) and (held.st_dev, held.st_ino) != self._identity:
            f.close()
            raise LogReplaced(str(self.path), f"moved or replaced (the closed segment {segment.name} "
                                              "is not the file read so far)")
        return f, self.offset - len(self._tail), self._tail

    def _stand_at_start(self, live_first: int, st: os.stat_result) -> None:
        """Read on from the start of the live file ``st``, whose first record is seq ``live_first``."""
        self.close()
        self._identity = (st.st_dev, st.st_ino)
        self.offset, self._tail, self.first_seq = 0, b"", live_first

    def adopt(self, fd: int, record: dict[str, Any], tail: bytes, size: int) -> None:
        """Stand at the end of the live file a rotation just made (``fd``, holding only ``record``); closes ``fd``."""
        st = os.fstat(fd)
        os.close(fd)
        self.close()
        self._identity = (st.st_dev, st.st_ino)
        self.offset, self._tail = size, tail
        self.seq, self.last_hash, self.first_seq = record["seq"], record["hash"], record["seq"]

    def seal(self, bodies: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """Number and hash ``bodies`` after the last record; ``flush`` writes them.

        Sealing several batches before one flush lets them share one fsync (group
        commit). Until the flush succeeds they are not stored.
        """
        records = []
        prev, seq = self.last_hash, self.seq
        for body in bodies:
            seq += 1
            fields = {k: v for k, v in body.items() if k not in ("seq", "ts", "prev", "hash")}
            record = {"seq": seq, "ts": round(body.get("ts", now), 6), **fields, "prev": prev}
            record["hash"] = prev = record_hash(prev, {k: v for k, v in record.items() if k != "hash"})
            records.append(record)
        self._pending.extend(encode(r) for r in records)
        self.seq, self.last_hash = seq, prev
        return records

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def flush(self) -> None:
        """Write every sealed record in one write and fsync it (on this thread)."""
        if self._pending:
            self.start_flush(background=False).wait()

    def start_flush(self, *, background: bool = True) -> Flush:
        """Write every sealed record in one write and start its fsync; ``Flush.wait`` ends it.

        The fsync runs on a thread of its own (it releases the GIL while the disk
        works), so the caller can do other work meanwhile, or await
        ``Flush.syncing`` from an event loop. Until ``wait`` returns the records
        are written but not stored: ``read_new`` does not read them back.
        Raises OSError if the write fails (the records are cut off again), and
        LogReplaced, writing nothing, if the file at the log's path is not the one
        read so far (every append checks: the lock is held, so no jobdeck writer
        can be replacing it meanwhile).
        """
        fd = self._open()
        st = os.fstat(fd)
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            raise LogReplaced(str(self.path), "moved or removed") from None
        if (at_path.st_dev, at_path.st_ino) != (st.st_dev, st.st_ino):
            raise LogReplaced(str(self.path), "moved or replaced")
        size = st.st_size
        if size < self.offset:
            raise LogReplaced(str(self.path), "truncated")
        tail = self._tail
        if tail and os.pread(fd, len(tail), self.offset - len(tail)) != tail:
            raise LogReplaced(str(self.path), "truncated or rewritten")
        if size != self.offset:
            # Bytes past the last complete line: a crashed writer's torn record.
            os.ftruncate(fd, self.offset)
        data = b"".join(self._pending)
        self._written_tail = (tail + data)[-TAIL:]
        view = memoryview(data)
        crash_point("log.before_write")
        try:
            if armed("log.torn_write"):  # leave half a batch behind, as a crash mid-write would
                view = view[os.write(fd, view[: max(1, len(view) // 2)]):]
                crash_point("log.torn_write")
            while view:
                view = view[os.write(fd, view):]
            crash_point("log.after_write")
            if not background:
                os.fdatasync(fd)
        except OSError:
            self._cut(fd)
            raise
        return Flush(self, fd, len(data), _background_sync(fd) if background else None)

    def _cut(self, fd: int) -> None:
        """Cut the file back to where the flush began.

        A full disk or a size limit can let part of the batch in. Whole lines of it
        would read as stored records although the caller is told none were (we hold
        the lock; the bytes are ours).
        """
        try:
            os.ftruncate(fd, self.offset)
        except OSError:
            pass


class _Rotated(Exception):
    """The file at the log's path is a rotation's new live file (internal to EventLog.read_new)."""


def _link(line: bytes) -> object:
    """The ``prev`` of a raw line (None if it is not a record)."""
    record = _parse(line)
    return None if record is None else record.get("prev")


class Flush:
    """A batch of records written to the log, its fsync under way (see ``EventLog.start_flush``)."""

    def __init__(self, log: EventLog, fd: int, size: int, syncing: Future[None] | None) -> None:
        self.log = log
        self.fd = fd
        self.size = size
        self.syncing = syncing
        """The fsync, done on the syncer thread (None: it was done before this was made)."""

    def wait(self) -> None:
        """Until the records are durable; then they count. Raises the fsync's OSError."""
        log = self.log
        error = self.syncing.exception() if self.syncing is not None else None
        if error is not None:
            log._cut(self.fd)
            raise error
        crash_point("log.after_fsync")
        log._pending.clear()
        log.offset += self.size
        log._tail = log._written_tail


def _parse_lines(lines: list[bytes]) -> list[dict[str, Any] | None]:
    """Each line's record, or None where a line is not one.

    One ``json.loads`` over all the lines as an array is about twice as fast as
    one per line; a batch that does not parse into exactly one well-formed record
    per line (a torn or edited line) is parsed line by line instead.
    """
    if len(lines) > 1:
        try:
            batch = json.loads(b"[" + b",".join(lines) + b"]")
        except (ValueError, RecursionError):
            batch = None
        if isinstance(batch, list) and len(batch) == len(lines) and \
                all(isinstance(r, dict) and isinstance(r.get("type"), str) for r in batch):
            return batch
    return [_parse(line) for line in lines]


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        return None
    return record


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``, None if there is none: what a rotation changes."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def grown_since(path: Path, offset: object, last_hash: object) -> int | None:
    """Bytes appended to the log since it ended at ``offset`` with the record ``last_hash``;
    None if that record is not there any more (the log was cut, edited or replaced).

    A reader that saved where it stopped (board.json, the card cache) checks that
    position so, reading at most the 64 KiB before ``offset``.
    """
    if not isinstance(offset, int) or not isinstance(last_hash, str) or offset < 0:
        return None
    try:
        with open(path, "rb") as log:
            size = os.fstat(log.fileno()).st_size
            if offset == 0:
                return size if last_hash == GENESIS else None
            if size < offset:
                return None
            start = max(0, offset - 65536)
            log.seek(start)
            tail = log.read(offset - start)
    except FileNotFoundError:
        return 0 if offset == 0 and last_hash == GENESIS else None
    except OSError:
        return None
    if len(tail) != offset - start or not tail.endswith(b"\n"):
        return None
    last_line = tail[tail.rfind(b"\n", 0, len(tail) - 1) + 1:]
    try:
        record = json.loads(last_line)
    except ValueError:
        return None
    return size - offset if isinstance(record, dict) and record.get("hash") == last_hash else None


def verify(path: Path, anchor: tuple[int, str] | None = None) -> tuple[int, ChainBreak | None]:
    """Check every record of every segment (state/chain.py); return (records checked, first break or None)."""
    from jobdeck.state.chain import verify_chain

    report = verify_chain(path, anchor)
    return report.records, report.broken
