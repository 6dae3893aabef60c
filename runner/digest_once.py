"""The daily digest, once a UTC day whatever the number of runners: its record in ``.jobdeck/digest-sent``.

Under an flock of its own (``digest-sent.lock``), a runner takes the day's digest on
(``take``): the file then names the day and the runner sending it. Once every target's
send is done it records the day as sent (``record_sent``): the file holds the day
alone, as jobdeck always wrote it. At least once: a runner that dies in between
leaves the digest to the next, which sends it again and says so (it may have
arrived: never twice without a word).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from jobdeck.state.atomic import pid_origin, write_atomic
from jobdeck.state.errors import JobdeckError
from jobdeck.state.liveness import process_alive, running, start_time
from jobdeck.state.lock import DeckLock

DIGEST_FILE = "digest-sent"
"""Beside the raised-approvals file: the UTC day of the last daily digest, as a number once it went out, as
``{"day": ..., "sending": {pid, start, origin, at}}`` while the runner that took it on sends it."""
DIGEST_LOCK = "digest-sent.lock"
"""The flock held to read and rewrite DIGEST_FILE (a file of its own: the digest file is replaced, and an
flock on a replaced inode excludes nobody)."""
DIGEST_LOCK_WAIT = 2.0
"""Seconds a turn waits for DIGEST_LOCK (held for a read and a write) before leaving the digest to the next."""
FOREIGN_CLAIM_AGE = 600.0
"""Seconds after which the digest taken on by a runner of another machine (whose pid cannot be looked at),
and not recorded as sent, is sent again."""


class Taken(NamedTuple):
    """What ``take`` found: whether this process sends the day's digest, the day already sent (if one is),
    and, when it sends one a dead runner had taken on, the words that say so."""

    taken: bool
    sent_day: int | None = None
    again: str | None = None


def read(path: Path) -> dict[str, Any] | None:
    """What DIGEST_FILE says: ``{"day": n}`` (sent), ``{"day": n, "sending": {...}}``, or None."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text.isdigit():
        return {"day": int(text)}
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("day"), int) \
            or not isinstance(record.get("sending"), dict):
        return None
    return record


def sender_alive(sending: Mapping[str, Any], now: float) -> bool:
    """Whether the runner that took the digest on may still be sending it."""
    pid, start, at = sending.get("pid"), sending.get("start"), sending.get("at")
    if sending.get("origin") == pid_origin() and isinstance(pid, int):
        return (running(pid, start) is not False) if isinstance(start, int) else process_alive(pid)
    return isinstance(at, (int, float)) and now - at < FOREIGN_CLAIM_AGE


def take(path: Path, today: int, now: float) -> Taken:
    """Take ``today``'s digest on, recorded in ``path``; not taken when it went out (``sent_day``), another
    runner is sending it, or the lock or the file cannot be had (the next turn looks again)."""
    lock = DeckLock(path.with_name(DIGEST_LOCK), timeout=DIGEST_LOCK_WAIT)
    again = None
    try:
        with lock:
            record = read(path)
            if record is not None and record["day"] >= today:
                sending = record.get("sending")
                if sending is None:
                    return Taken(False, sent_day=record["day"])
                if sender_alive(sending, now):
                    return Taken(False)
                day = time.strftime("%Y-%m-%d", time.gmtime((record["day"] - 1) * 86400))
                again = (f"sending the digest of {day} again: the runner that took it on (pid "
                         f"{sending.get('pid')}) ended before it was sent, or before it recorded that it was; "
                         f"it may have arrived")
            me = {"pid": os.getpid(), "start": start_time(os.getpid()), "origin": pid_origin(), "at": now}
            write_atomic(path, json.dumps({"day": today, "sending": me}).encode())
    except (OSError, JobdeckError):
        return Taken(False)
    finally:
        lock.close()
    return Taken(True, again=again)


def record_sent(path: Path, day: int) -> bool:
    """Record ``day``'s digest, taken on by this process, as sent; False if the file or its lock could not be
    had (looked at again next turn; a runner that stops first leaves the digest to be sent again)."""
    lock = DeckLock(path.with_name(DIGEST_LOCK), timeout=DIGEST_LOCK_WAIT)
    try:
        with lock:
            record = read(path)
            sending = record.get("sending") if record is not None else None
            if record is not None and record["day"] == day and sending is not None \
                    and (sending.get("pid"), sending.get("origin")) == (os.getpid(), pid_origin()):
                write_atomic(path, str(day).encode())
    except (OSError, JobdeckError):
        return False
    finally:
        lock.close()
    return True
