"""The daily digest, once a UTC day whatever the number of runners: its record in ``.jobdeck/digest-sent``.

Under an flock of its own (``digest-sent.lock``), a runner takes the day's digest on
(``take``): it writes itself in ``digest-sending``, then the day in ``digest-sent``, as
jobdeck always wrote it there (so a jobdeck that knows no ``digest-sending`` reads the
day as sent). Once every target's send is done it records the day as sent
(``record_sent``): its ``digest-sending`` goes. At least once: a runner that dies in
between leaves its ``digest-sending`` behind, and the next runner sends the digest
again and says so (it may have arrived: never twice without a word).
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
"""Beside the raised-approvals file: the UTC day (a number) of the last daily digest taken on, or sent."""
SENDING_FILE = "digest-sending"
"""While a runner sends the day's digest: ``{"day": ..., "pid", "start", "origin", "at"}``, the runner."""
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


def read(path: Path) -> int | None:
    """The day DIGEST_FILE (``path``) names, or None."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def read_sending(path: Path) -> dict[str, Any] | None:
    """The runner SENDING_FILE (``path``) names, with the ``day`` it sends, or None."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("day"), int) else None


def sender_alive(sending: Mapping[str, Any], now: float) -> bool:
    """Whether the runner that took the digest on may still be sending it."""
    pid, start, at = sending.get("pid"), sending.get("start"), sending.get("at")
    if sending.get("origin") == pid_origin() and isinstance(pid, int):
        return (running(pid, start) is not False) if isinstance(start, int) else process_alive(pid)
    return isinstance(at, (int, float)) and now - at < FOREIGN_CLAIM_AGE


def take(path: Path, today: int, now: float) -> Taken:
    """Take ``today``'s digest on, recorded in ``path`` (and SENDING_FILE beside it); not taken when it went out
    (``sent_day``), another runner is sending it, or the lock or a file cannot be had (the next turn looks again)."""
    lock = DeckLock(path.with_name(DIGEST_LOCK), timeout=DIGEST_LOCK_WAIT)
    sending_path = path.with_name(SENDING_FILE)
    again = None
    try:
        with lock:
            day, sending = read(path), read_sending(sending_path)
            if day is not None and day >= today:
                if sending is None or sending["day"] != day:
                    return Taken(False, sent_day=day)
                if sender_alive(sending, now):
                    return Taken(False)
                when = time.strftime("%Y-%m-%d", time.gmtime((day - 1) * 86400))
                again = (f"sending the digest of {when} again: the runner that took it on (pid "
                         f"{sending.get('pid')}) ended before it was sent, or before it recorded that it was; "
                         f"it may have arrived")
            me = {"day": today, "pid": os.getpid(), "start": start_time(os.getpid()), "origin": pid_origin(),
                  "at": now}
            write_atomic(sending_path, json.dumps(me).encode())
            write_atomic(path, str(today).encode())
    except (OSError, JobdeckError):
        return Taken(False)
    finally:
        lock.close()
    return Taken(True, again=again)


def record_sent(path: Path, day: int) -> bool:
    """Record ``day``'s digest, taken on by this process, as sent (its SENDING_FILE goes); False if a file or the
    lock could not be had (looked at again next turn; a runner that stops first leaves it to be sent again)."""
    lock = DeckLock(path.with_name(DIGEST_LOCK), timeout=DIGEST_LOCK_WAIT)
    sending_path = path.with_name(SENDING_FILE)
    try:
        with lock:
            sending = read_sending(sending_path)
            if sending is not None and sending["day"] == day \
                    and (sending.get("pid"), sending.get("origin")) == (os.getpid(), pid_origin()):
                sending_path.unlink()
    except (OSError, JobdeckError):
        return False
    finally:
        lock.close()
    return True
