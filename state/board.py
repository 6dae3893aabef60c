"""The board: a pure fold of the event log into one JobState per job, kept up to date.

``Store`` is the one read/write path for state. Readers call ``refresh()`` to
fold only the records appended since last time; writers call ``commit()``,
which under the deck lock catches up, checks every event against the state
machine (fencing tokens included), appends the batch with one fsync and folds
it. ``board.json`` is a derived snapshot: it lets a new reader start from a
known position instead of re-reading a long log, and lets scripts read the
board with ``jq``; it is never the source of truth.
"""

from __future__ import annotations

import binascii
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from jobdeck.state.atomic import write_atomic
from jobdeck.state.attempt_dirs import find_used_attempt
from jobdeck.state.checkpoints import checkpoints, write_checkpoint
from jobdeck.state.crashpoint import crash_point
from jobdeck.state.deck import Deck, mark_format
from jobdeck.state.errors import HistoryLost, IllegalTransition, StateError, deck_access_error
from jobdeck.state.ids import ID_RE
from jobdeck.state.events import GENESIS, EventLog, Flush
from jobdeck.state.lock import DeckLock
from jobdeck.state.machine import EventType, JobState, Status, not_a_try, transition
from jobdeck.state.redact import Redactor, for_deck
from jobdeck.state.rollups import SCORED_TYPE, Rollups
from jobdeck.state.segments import Rotation, check_boundary, check_saved_position, compress, rotate

LISTED_TYPE = "listed"
MODE_TYPE = "decide_mode"
"""A deck-level record of a runner taking up a ``decide.mode`` other than the last recorded: ``mode``, ``was``, and
``lifted``, the jobs whose live hold it drops (a hold is live mode's alone)."""
"""A runner's deck-level record of jobs it adopted from jobs.json that the deck had never seen (``jobs``): their
wait (``max_wait``, a daily deadline's cycle) counts from it, as a triggered job's counts from its trigger."""
SNAPSHOT_FORMAT = 5
"""2: ``paused`` kept when False (an operator's resume); 3: an attempt ``accepted`` in review; 4: the rollups
kept as JSON text with its CRC-32, parsed only by a reader that needs them; 5: an attempt under way may carry the
``pin`` its claim spent, which the job gets back if that attempt runs nothing. A board.json (or checkpoint) of a
format not in SNAPSHOT_READ is passed over: the board is folded from the log."""
SNAPSHOT_READ = frozenset({4, SNAPSHOT_FORMAT})
"""The formats read back. A board with no pinned attempt under way (an attempt's ``pin`` goes when it ends) is
written as format 4, which a jobdeck from before pins read too: an upgrade, or two versions on one deck, does not
make every command fold the log again (a deck whose old segments are archived could not be folded at all)."""
ROLLED_UP = frozenset({EventType.SUCCEEDED, EventType.FAILED, EventType.INTERRUPTED, SCORED_TYPE})
"""Records the fold adds to the rollups (an attempt's end, the scorer's spend)."""
CATCH_UP_BYTES = 4 << 20
"""How much of the log a reader folds at a time when it catches up from far back."""
SNAPSHOT_BEHIND = 1000
"""Records past board.json after which whoever folded them writes it again: a runner as it runs
(runner/loop.py `_checkpoint`), any reader on opening (`open_store`). So only the first command after
board.json was lost (which replays what follows the newest checkpoint) or left far behind replays more."""


def longest(untils: Sequence[object]) -> int:
    """Which of several gates, by their ends, keeps a job back longest: one with no end (None), else the latest
    end; the first of equals. The one rule of ``binding_of`` and decide.verdict's ``binding_gate``."""
    return max(range(len(untils)), key=lambda n: untils[n] if isinstance(untils[n], int | float) else math.inf)


def binding_of(record: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """(action, needs, reason) of a hold or defer record as a person waits for it: of its ``gates`` (several), the
    one that keeps the job back longest (``longest``); else the record's own action, needs and first reason."""
    gates = record.get("gates")
    if isinstance(gates, list) and len(gates) > 1 and all(isinstance(gate, dict) for gate in gates):
        gate = gates[longest([gate.get("until") for gate in gates])]
        return str(gate.get("action")), gate.get("needs"), gate.get("reason")
    reasons = record.get("reasons")
    return str(record.get("action")), record.get("needs"), reasons[0] if isinstance(reasons, list) and reasons else None


class KeptBack(NamedTuple):
    """The decision service's last hold or deferral of a backlog job (a ``decided`` record's fields)."""

    action: str
    needs: str | None
    until: float | None
    note: str | None
    """What its card shows: "⏸ reviews", "⏱ window 22:00"."""
    reason: str | None
    """Why, in words: of several gates, the reason of the one that keeps it back longest (``binding_of``)."""
    capacity: int | None = None
    """For a hold on the review queue: the capacity it was measured against (``decide.review_capacity``)."""
    shown: tuple[str, str | None] | None = None
    """(action, needs) of that longest gate where it is not the first: what a person waits for. ``action``,
    ``needs`` and ``until`` stay the first gate's, which the runner acts on (it asks again at its end)."""

    def said(self) -> tuple[str, str | None]:
        """(action, needs) as a person is told them: the longest gate's."""
        return self.shown if self.shown is not None else (self.action, self.needs)

    def outlived(self, board: Board) -> bool:
        """Whether the board shows this hold no longer holds, so the job waits only for a runner to look again:
        a hold on the review queue once fewer jobs than its capacity are in review or running (the queue the
        service counts is at most that: it adds the running jobs whose output will go to review)."""
        return self.needs == "reviews" and self.capacity is not None and board.review_load() < self.capacity


# A plain class (and Rejected a NamedTuple), not dataclasses: importing dataclasses (and inspect)
# costs the CLI ~7 ms at start.
class Board:
    """JobState per job id, as folded from the records applied so far."""

    jobs: dict[str, JobState]
    rejected: list[tuple[int, str]]
    """(seq, why) of records in the log that the state machine refused (e.g. stale tokens)."""
    files: set[str]
    """Keys of inbox files that already triggered a run (each file fires once)."""
    held: dict[str, Any] | None
    """The whole deck held by the operator (``jobdeck hold`` with no id): by, reason, ts. No new starts."""
    warned: dict[str, tuple[int, Any]]
    """Per job, the (cycle, deadline) of its latest ``at_risk`` decision: a deadline at risk is told once
    per job and cycle, however many runners (a `run --once` from cron every few minutes) see it."""
    late: dict[str, tuple[int, Any]]
    """Per job, the (cycle, deadline) of its latest ``missed`` decision: a missed deadline is told once, as
    ``warned``."""
    overdue: dict[str, float]
    """Per job, when the wait began whose crossing of ``max_wait`` was last told (an ``overdue`` decision): told
    once per job and wait, however many runners see it."""
    kept_back: dict[str, KeptBack]
    """Per backlog job, the decision service's last hold or deferral of it: (action, needs, until, note, reason),
    until anything else happens to the job. So each is recorded once per change, and `ls` shows its note."""

    listed: dict[str, float]
    """When each job with no event yet (or none that began its wait: the operator's hold or pause) entered the
    backlog, as a runner listed it (LISTED_TYPE)."""
    decide_mode: str | None
    """The ``decide.mode`` a runner last recorded taking up (MODE_TYPE); None before any."""

    def __init__(self, jobs: dict[str, JobState] | None = None, rejected: list[tuple[int, str]] | None = None,
                 files: set[str] | None = None, rollups: Rollups | None = None,
                 held: dict[str, Any] | None = None, warned: dict[str, tuple[int, Any]] | None = None,
                 kept_back: dict[str, KeptBack] | None = None,
                 listed: dict[str, float] | None = None, late: dict[str, tuple[int, Any]] | None = None) -> None:
        self.jobs = {} if jobs is None else jobs
        self.rejected = [] if rejected is None else rejected
        self.files = set() if files is None else files
        self._rollups: Rollups | None = Rollups() if rollups is None else rollups
        self._rollups_text: str | None = None
        self.held = held
        self.warned = {} if warned is None else warned
        self.late = {} if late is None else late
        self.overdue = {}
        self.kept_back = {} if kept_back is None else kept_back
        self.listed = {} if listed is None else listed
        self.decide_mode: str | None = None
        self._review_load: int | None = None

    def review_load(self) -> int:
        """How many jobs are in review or running (counted once per change of the board)."""
        if self._review_load is None:
            self._review_load = sum(1 for state in self.jobs.values()
                                    if state.status in (Status.REVIEW, Status.RUNNING))
        return self._review_load

    @property
    def rollups(self) -> Rollups:
        """Counts, durations and cost of ended attempts (state/rollups.py). Up to 90 days of hourly totals: half
        of a long-lived board.json, so a board resumed from one parses them only when something asks."""
        if self._rollups is None:
            try:
                self._rollups = Rollups.from_json(json.loads(self._rollups_text or "{}"))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:  # its CRC held: written so
                raise StateError(f"the rollups that board.json (or a checkpoint) kept do not read back: {exc}",
                                 hint="remove .jobdeck/board.json and .jobdeck/checkpoints/; both are rebuilt "
                                      "from the log") from None
            self._rollups_text = None
        return self._rollups

    @rollups.setter
    def rollups(self, rollups: Rollups) -> None:
        self._rollups, self._rollups_text = rollups, None

    def defer_rollups(self, text: str) -> None:
        """Take the rollups as the JSON text a snapshot kept (checked), to parse when first asked for."""
        self._rollups, self._rollups_text = None, text

    def rollups_text(self) -> str:
        """The rollups as JSON text, for a snapshot: as read, if nothing asked for them since."""
        if self._rollups_text is not None:
            return self._rollups_text
        return json.dumps(self.rollups.to_json(), separators=(",", ":"))

    def state(self, job: str) -> JobState:
        """The job's state; a job with no events is in the backlog (since a runner listed it, if one did)."""
        found = self.jobs.get(job)
        if found is not None:
            return found
        listed = self.listed.get(job)
        return JobState(job, since=listed, began=listed)

    def apply(self, record: Mapping[str, Any]) -> JobState | None:
        """Fold one stored record; return the job's new state (None for deck-level records)."""
        job = record.get("job")
        if not isinstance(job, str):
            kind = record.get("type")
            if kind == SCORED_TYPE:  # the scorer's call is spend, like an attempt's
                self.rollups.add_spend(record.get("ts", 0.0), record.get("cost"), record.get("model"))
            elif kind == EventType.HELD:
                self.held = {k: record[k] for k in ("by", "via", "reason", "ts", "seq") if k in record}
            elif kind == EventType.RELEASED:
                self.held = None
            elif kind == MODE_TYPE and isinstance(record.get("mode"), str):
                self.decide_mode = record["mode"]
                if self.decide_mode != "live":  # a hold is live mode's: out of it, none stands (a window's defer does)
                    self.kept_back = {job: kept for job, kept in self.kept_back.items() if kept.action != "hold"}
            elif kind == LISTED_TYPE and isinstance(record.get("jobs"), list):
                ts = record.get("ts", 0.0)
                for listed in record["jobs"]:
                    if isinstance(listed, str) and ID_RE.fullmatch(listed) and listed not in self.listed \
                            and (listed not in self.jobs or self.jobs[listed].since is None):
                        self.listed[listed] = ts  # (a job held or paused before its wait began: it begins now)
            return None
        if not ID_RE.fullmatch(job):  # e.g. an id rewritten by an older redactor: no job has it, no path may use it
            self.rejected.append((record.get("seq", -1), f"invalid job id {job!r}"))
            return None
        old = self.state(job)
        try:
            new = transition(old, record, record.get("ts", 0.0))
        except (IllegalTransition, KeyError, TypeError) as exc:
            self.rejected.append((record.get("seq", -1), str(exc)))
            return None
        self.jobs[job] = new
        self._review_load = None
        ended = new.attempts[-1] if new.attempts else None
        if ended is not None and ended.ended is not None and not not_a_try(ended.reason) \
                and (not old.attempts or old.attempts[-1].ended is None):
            self.rollups.add(job, ended, record.get("model"))
        if "file" in record and record["type"] == EventType.TRIGGERED:
            self.files.add(record["file"])
        elif record["type"] == EventType.DECIDED and record.get("action") in ("at_risk", "missed"):
            told = self.warned if record["action"] == "at_risk" else self.late
            told[job] = (new.cycle, record.get("deadline"))
        elif record["type"] == EventType.DECIDED and record.get("action") == "overdue" \
                and isinstance(record.get("since"), int | float):
            self.overdue[job] = float(record["since"])
        if record["type"] == EventType.DECIDED and record.get("action") in ("hold", "defer"):
            capacity = record.get("capacity")
            action, needs, reason = binding_of(record)
            shown = (action, needs) if (action, needs) != (record["action"], record.get("needs")) else None
            self.kept_back[job] = KeptBack(record["action"], record.get("needs"), record.get("until"),
                                           record.get("note"), reason, capacity if type(capacity) is int else None,
                                           shown)
        elif record["type"] not in (EventType.DECIDED, EventType.PROGRESS) and job in self.kept_back:
            del self.kept_back[job]  # it started, or the operator acted on it: a hold after that is news
        return new


class Rejected(NamedTuple):
    """An event a commit refused, and why."""

    body: Mapping[str, Any]
    error: IllegalTransition


class Store:
    """The deck's state: an event log, its folded board, and the lock that guards writes."""

    def __init__(self, deck: Deck, *, redactor: Redactor | None = None,
                 lock_timeout: float = 30.0, from_snapshot: bool = True) -> None:
        self.deck = deck
        self.board = Board()
        self.log = EventLog(deck.events_path)
        self.lock = DeckLock(deck.lock_path, timeout=lock_timeout)
        self._redactor = redactor
        self._redactor_of: tuple[int, ...] | None = None
        """The jobs.json (inode, size, mtime) a redactor made here was read from (None: given, or none read)."""
        self.chain_warning: str | None = None
        """Set when board.json (or a checkpoint) saw a record the log no longer holds (found while opening)."""
        self.resumed_at = 0
        """Seq of the record board.json or a checkpoint was taken at, if the board was resumed from one
        (0: folded from the log's start): the fold replays only the records after it."""
        self._marked = False
        """Whether this Store has seen the deck marked with its format (``mark_format``, before its first write)."""
        self.unseen: list[dict[str, Any]] | None = None
        """When a list (a reader that follows the log, the runner), the records ``commit`` and ``transact``
        folded as they caught up under the lock: other processes' records, which their callers, handed only
        their own, would otherwise never see. The reader takes them; None keeps none."""
        if from_snapshot:
            self._resume_from_snapshot()

    @property
    def redactor(self) -> Redactor:
        """What every record committed is redacted with: the runner's (the spec it runs), else, made at the first
        commit, the secrets jobs.json references and the well-known names in this process's environment
        (``redact.for_deck``): an operator's trigger input or reason is redacted as a job's output is."""
        if self._redactor is None or self._redactor_of is not None:  # made here: made again when jobs.json changes
            try:
                found = os.stat(self.deck.spec_path)
                seen: tuple[int, ...] | None = (found.st_ino, found.st_size, found.st_mtime_ns)
            except OSError:
                seen = None
            if self._redactor is None or seen != self._redactor_of:
                self._redactor, self._redactor_of = for_deck(self.deck.spec_path), seen
        return self._redactor

    @redactor.setter
    def redactor(self, redactor: Redactor) -> None:
        self._redactor, self._redactor_of = redactor, None

    def close(self) -> None:
        self.log.close()
        self.lock.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------

    def refresh(self) -> list[dict[str, Any]]:
        """Fold the records appended since the last refresh; return them."""
        if not self.has_new():
            return []
        records = self.log.read_new()
        for record in records:
            self.board.apply(record)
        return records

    def catch_up(self) -> None:
        """Fold everything appended so far, CATCH_UP_BYTES at a time, keeping none of the records.

        A reader with no board.json to start from folds the whole log: read in one
        piece, a million records held 1.7 GB at once; a chunk at a time, one chunk.
        """
        while self.has_new():
            records = self.log.read_new(CATCH_UP_BYTES) or self.log.read_new()  # a line longer than a chunk
            if not records:
                return  # a torn last line: left for the writer to cut off
            for record in records:
                self.board.apply(record)

    def has_new(self) -> bool:
        """Whether the log has grown past what was folded (cheap: one stat).

        Raises LogReplaced if the file at the log's path is not the one folded so far.
        """
        return self.log.size() > self.log.offset

    def check_history(self) -> None:
        """HistoryLost if the log is missing or empty while the workspaces hold attempts of an earlier one.

        Writing a new log then would start every job's story again: jobs already done
        would run again. Any attempt directory a claim made counts, its files empty or
        not and its lease held or not (a young deck's only trace may be a silent job's).
        Only an empty log is checked, so this costs nothing after the first record.
        """
        if self.log.offset or self.log.seq:
            return
        used = find_used_attempt(self.deck.workspaces_dir)
        if used is not None:
            raise HistoryLost(
                f"{self.deck.events_path} is missing or empty, but {used} holds an earlier attempt's files: "
                "the deck's history is lost, and running or changing jobs now would repeat work already done",
                hint="put the log back (was it moved? a backup?); to start over on purpose, "
                     "move the workspaces' runs/ directories aside first")

    # -- writing -----------------------------------------------------------------

    def commit(self, bodies: Iterable[Mapping[str, Any]], *, now: float | None = None,
               strict: bool = True, flush: bool = True) -> tuple[list[dict[str, Any]], list[Rejected]]:
        """Check and durably append events; return (stored records, refused events).

        With ``strict``, the first refused event raises IllegalTransition and nothing
        is written; otherwise refused events are skipped and returned. With
        ``flush=False`` (lock held by the caller) the records are sealed and folded
        but written only by ``flush()``, so several commits share one fsync.
        """
        _ = self.redactor  # made, if it is made here, before the lock: runners need not wait on a jobs.json read
        with self.lock:
            if not self.log.pending:
                self._catch_up_locked()
            records, refused = self._commit_locked(list(bodies), now, strict)
            if flush:
                crash_point("commit.before_flush")
                self.flush()
                crash_point("commit.after_flush")
            return records, refused

    def flush(self) -> None:
        """Durably write sealed records; on failure the board is re-read from disk."""
        try:
            self.log.flush()
        except OSError:
            self.reload()
            raise

    def start_flush(self) -> Flush | None:
        """Write sealed records and start their fsync on another thread (None: nothing sealed).

        ``finish_flush`` makes them count. Meanwhile other work may go on, but
        nothing that depends on the records being durable (see ``EventLog.start_flush``).
        On failure the board is re-read from disk.
        """
        if not self.log.pending:
            return None
        try:
            return self.log.start_flush()
        except OSError:
            self.reload()
            raise

    def finish_flush(self, flushing: Flush) -> None:
        """Until the records of ``start_flush`` are durable; on failure the board is re-read from disk."""
        try:
            flushing.wait()
        except OSError:
            self.reload()
            raise

    def reload(self) -> None:
        """Forget everything folded and read the deck again as a new Store does (after a failed write, whose
        records may or may not be on disk): from board.json or a checkpoint the log agrees with, then the
        log after it, a chunk at a time."""
        self.log.close()
        self.board = Board()
        self.log = EventLog(self.deck.events_path)
        self.resumed_at = 0
        self._resume_from_snapshot()
        self.catch_up()

    def transact(self, decide: Callable[[Board], Iterable[Mapping[str, Any]]], *,
                 now: float | None = None, strict: bool = True
                 ) -> tuple[list[dict[str, Any]], list[Rejected]]:
        """Under the lock, call ``decide(board)`` on the caught-up board and commit its events."""
        _ = self.redactor  # (before the lock, as in ``commit``)
        with self.lock:
            if not self.log.pending:
                self._catch_up_locked()
            records, refused = self._commit_locked(list(decide(self.board)), now, strict)
            crash_point("commit.before_flush")
            self.flush()
            crash_point("commit.after_flush")
            return records, refused

    def _catch_up_locked(self) -> None:
        """Fold what other processes appended, before a commit decides on the board (kept in ``unseen``)."""
        folded = self.refresh()
        if self.unseen is not None:
            self.unseen.extend(folded)

    def _commit_locked(self, bodies: list[Mapping[str, Any]], now: float | None,
                       strict: bool) -> tuple[list[dict[str, Any]], list[Rejected]]:
        if not self.log.seq:  # the first record of a log: is it really the deck's first?
            self.check_history()
        now = time.time() if now is None else now
        pending: dict[str, JobState] = {}
        accepted: list[dict[str, Any]] = []
        refused: list[Rejected] = []
        seq = self.log.seq
        for body in bodies:
            try:
                event = self.redactor.event(body)
            except ValueError as exc:
                if strict:
                    raise IllegalTransition(str(exc)) from None
                refused.append(Rejected(body, IllegalTransition(str(exc))))
                continue
            job = event.get("job")
            if isinstance(job, str):
                state = pending.get(job) or self.board.state(job)
                try:
                    pending[job] = transition(state, {**event, "seq": seq + 1}, event.get("ts", now))
                except IllegalTransition as exc:
                    if strict:
                        raise
                    refused.append(Rejected(body, exc))
                    continue
            seq += 1
            accepted.append(event)
        if not accepted:
            return [], refused
        if not self._marked:
            mark_format(self.deck)
            self._marked = True
        if any(event.get("type") in ROLLED_UP for event in accepted):
            _ = self.board.rollups  # read back now if kept as text: a failure stops the commit before its seal
        records = self.log.seal(accepted, now)
        for record in records:
            self.board.apply(record)
        return records, refused

    def rotate(self, *, compress_closed: bool = False) -> Rotation:
        """Close the live log as a segment and start a new one, under the lock (state/segments.py).

        The board as of the end of the closed segment is left as its checkpoint
        (state/checkpoints.py). With ``compress_closed``, every closed segment is then gzipped.
        """
        with self.lock:
            self.refresh()
            boundary = None if self.log.pending else self.snapshot()  # (pending: rotate refuses)
            mark_format(self.deck)  # a jobdeck that knows no segments must not read on
            rotation = rotate(self.log)
            if rotation.closed is not None and boundary is not None:
                rotation.checkpoint = self._write_checkpoint(boundary)
            if compress_closed:
                rotation.compressed = compress(self.deck.events_path)
        return rotation

    # -- snapshot ----------------------------------------------------------------

    def snapshot(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The board as a JSON-ready dict, with the log position it reflects."""
        pinned = any(state.attempts and state.attempts[-1].pin is not None for state in self.board.jobs.values())
        return {
            "format": SNAPSHOT_FORMAT if pinned else 4,
            "generated": time.time(),
            "events": {"offset": self.log.offset, "seq": self.log.seq, "hash": self.log.last_hash,
                       "segment": self.log.first_seq},  # the offset is into the file that begins at this seq
            "states": {job: st.to_json() for job, st in self.board.jobs.items()},
            "files": sorted(self.board.files),
            **_rollups_entry(self.board.rollups_text()),
            **({"held": self.board.held} if self.board.held else {}),
            **({"warned": {job: list(seen) for job, seen in self.board.warned.items()}} if self.board.warned else {}),
            **({"late": {job: list(seen) for job, seen in self.board.late.items()}} if self.board.late else {}),
            **({"overdue": self.board.overdue} if self.board.overdue else {}),
            **({"decide_mode": self.board.decide_mode} if self.board.decide_mode is not None else {}),
            **({"kept_back": {job: list(said) for job, said in self.board.kept_back.items()}}
               if self.board.kept_back else {}),
            **({"listed": {job: ts for job, ts in self.board.listed.items()  # (kept while no event says more)
                           if job not in self.board.jobs or self.board.jobs[job].since is None}}
               if self.board.listed else {}),
            **(extra or {}),
        }

    def write_snapshot(self, extra: Mapping[str, Any] | None = None) -> None:
        """Write board.json atomically (not fsynced: it can always be rebuilt).

        Not while records are sealed but not yet written (a group commit under way): the
        board already holds them, and a snapshot would pair it with a log that does not.
        """
        if self.log.pending:
            return
        write_atomic(self.deck.board_path, encode_snapshot(self.snapshot(extra)), durable=False, cache=True)

    def _write_checkpoint(self, boundary: dict[str, Any]) -> str | None:
        """Write ``boundary`` (the snapshot at the end of the segment just closed) as its checkpoint; its name,
        or None if it could not be written: it is only a cache, and the rotation is done."""
        try:
            return write_checkpoint(self.deck, boundary["events"]["segment"], encode_snapshot(boundary)).name
        except OSError:  # a full disk, a directory this user does not own
            return None

    def _resume_from_snapshot(self) -> None:
        """Resume from board.json; if it is missing or unusable, from the newest checkpoint the log agrees with."""
        snapshot = read_snapshot(self.deck)
        if snapshot is not None and self._resume(snapshot, "board.json"):
            return
        for path in checkpoints(self.deck):
            snapshot = read_snapshot_file(path)
            if snapshot is not None and self._resume(snapshot, f"the checkpoint {path.parent.name}/{path.name}",
                                                     boundary=True):
                return

    def _resume(self, snapshot: dict[str, Any], source: str, *, boundary: bool = False) -> bool:
        """Take the board and log position of ``snapshot`` if its position checks against the log.

        ``boundary``: a checkpoint, taken at the end of a closed segment; it is checked
        against the segment record that follows (``segments.check_boundary``) and the fold
        resumes at the start of the next file. A position the log disagrees with sets
        ``chain_warning``; one in a segment no longer there (archived) is passed over quietly.
        """
        position = snapshot.get("events", {})
        offset, seq, last_hash = position.get("offset", 0), position.get("seq", 0), position.get("hash", GENESIS)
        if boundary:
            saved = check_boundary(self.deck.events_path, seq, offset, last_hash, position.get("segment")) \
                if isinstance(seq, int) and seq > 0 else None
            if saved is None:
                return False
        else:
            saved = check_saved_position(self.deck.events_path, offset, last_hash, position.get("segment"))
        if not saved.holds or (saved.closed and not isinstance(seq, int)):
            if (boundary or not saved.closed) and isinstance(seq, int) and seq > 0 and self.chain_warning is None:
                self.chain_warning = (f"the chain of work no longer holds the record {source} saw at seq {seq}: "
                                      "records were removed or rewritten; see `jobdeck audit verify`")
            return False  # (a closed segment archived elsewhere, say): the log is read from its start
        try:
            states = {job: JobState.from_json(data) for job, data in snapshot.get("states", {}).items()
                      if ID_RE.fullmatch(job)}  # as the fold does: a record with an invalid id names no job
            rollups = snapshot["rollups"]
            if not isinstance(rollups, str) or binascii.crc32(rollups.encode()) != snapshot["rollups_crc"]:
                return False  # torn or edited: the fold from the log gives them again
            warned, late = ({job: (int(cycle), deadline) for job, (cycle, deadline) in snapshot.get(name, {}).items()
                             if type(cycle) is int} for name in ("warned", "late"))  # (older: no late)
            kept_back = {job: KeptBack(str(action), needs, until, note, reason,  # (older: no capacity, no shown)
                                       more[0] if more and type(more[0]) is int else None,
                                       (str(more[1][0]), more[1][1]) if len(more) > 1 and more[1] else None)
                         for job, (action, needs, until, note, reason, *more)
                         in snapshot.get("kept_back", {}).items()}
            listed = {job: float(ts) for job, ts in snapshot.get("listed", {}).items() if ID_RE.fullmatch(job)}
            overdue = {job: float(since) for job, since in snapshot.get("overdue", {}).items()}  # (older: none)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):  # (json reads Infinity)
            return False
        self.board.jobs = states
        self.board._review_load = None
        self.board.listed = listed
        self.board.defer_rollups(rollups)
        self.board.files = set(snapshot.get("files", ()))
        self.board.held = snapshot.get("held")
        self.board.warned = warned
        self.board.late = late
        self.board.overdue = overdue
        mode = snapshot.get("decide_mode")
        self.board.decide_mode = mode if isinstance(mode, str) else None
        self.board.kept_back = kept_back
        self.log.resume_at(0 if boundary else offset, seq, last_hash, first_seq=saved.segment, closed=saved.closed,
                           identity=saved.identity)
        self.resumed_at = seq
        return True


def _rollups_entry(text: str) -> dict[str, Any]:
    """A snapshot's rollups: their JSON text and its CRC-32 (a reader parses the text only if it needs them)."""
    return {"rollups": text, "rollups_crc": binascii.crc32(text.encode())}


def encode_snapshot(snapshot: Mapping[str, Any]) -> bytes:
    """The bytes of board.json (or a checkpoint) for ``snapshot``."""
    return json.dumps(snapshot, separators=(",", ":")).encode()


def read_snapshot(deck: Deck) -> dict[str, Any] | None:
    """board.json if present and readable, else None (it is only a cache)."""
    return read_snapshot_file(deck.board_path)


def read_snapshot_file(path: Path) -> dict[str, Any] | None:
    """The snapshot at ``path`` (board.json or a checkpoint) if present, readable and of a format in SNAPSHOT_READ,
    else None."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") not in SNAPSHOT_READ:
        return None
    return data


def open_store(deck: Deck, **kwargs: Any) -> Store:
    """A Store on ``deck``, folded up to the end of the log.

    Raises HistoryLost for a log that is missing or empty while attempt directories
    show an earlier one (moved by an outside logrotate, say): every command says so,
    rather than show the deck as if nothing had ever run.

    A deck whose state directory is missing (a fresh clone of a repository that
    keeps jobs.json but not .jobdeck/) gets an empty one: nothing has happened yet.
    """
    if not deck.state_dir.is_dir():
        try:
            deck.ensure_state_dirs()
        except OSError as exc:
            raise StateError(f"cannot create the deck's state directory {deck.state_dir}: {exc.strerror}",
                             hint="jobdeck keeps its events there; make the deck directory writable") from None
    store = Store(deck, **kwargs)
    resumed_at = store.resumed_at if kwargs.get("from_snapshot", True) else None  # (a full fold asked for: left as is)
    try:
        store.catch_up()
        store.check_history()  # an empty log beside earlier attempts is a lost history, not a new deck
    except OSError as exc:
        store.close()
        raise deck_access_error(exc, "read the chain of work", deck.events_path) from None
    except HistoryLost:
        store.close()
        raise
    if resumed_at is not None and store.log.seq - resumed_at >= SNAPSHOT_BEHIND and store.chain_warning is None:
        try:  # the next command resumes here instead of replaying the same records again
            store.write_snapshot()
        except OSError:
            pass  # only a cache (a deck this user may read but not write, a full disk)
    return store

