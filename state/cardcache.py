"""The board's cards, cached in ``.jobdeck/cards.jsonl`` so `jobdeck ls` starts fast.

Validating a 10,000-job jobs.json with pydantic takes most of a second, yet the
cards change only when jobs.json, the event log or the clock moves (a cron fire,
the end of a retry wait). Whoever computes the cards the slow way stores them with
what they were computed from; ``cached_cards`` returns them only while jobs.json
holds the same bytes, the log ends at the same record, the card code is unchanged
and no card's times have come due. `ls --json` takes them on that alone; the table
also wants the same board.json (``board_stamp``), so that the chain warning the fold
gave, kept with the cards, is still the one to give. The card of a job taken out of
jobs.json while its attempt runs (views.undeclared_card) changes with the log too
(its attempt's end is a record), but `ls` takes only cards whose writer says they
include such jobs (``undeclared``: `ls` and the cockpit do; cards an older jobdeck
wrote do not). This module
imports only the standard library: the point is to answer without loading pydantic
or croniter.

The file is a private cache, not an interface (scripts use `jobdeck ls --json` or
board.json): a header line, an index line ([column, workspace, labels] per card, for
the ls filters) and one line per card, encoded exactly as ``json.dumps`` encodes it
inside a list, so the unfiltered answer is the lines joined, with nothing re-encoded.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing.NamedTuple compiles
# each string annotation (the first ~0.6 ms, then ~15 µs a field), and every command imports these classes.

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from jobdeck.state.atomic import write_atomic
from jobdeck.state.deck import Deck
from jobdeck.state.digest import sha256_hex
from jobdeck.state.events import grown_since
from jobdeck.state.stamps import code_stamp, environment_stamp

CARDS_NAME = "cards.jsonl"
CARDS_FORMAT = 2



class CachedCards(NamedTuple):
    """Cards read back from the cache: encoded rows, and what the ls filters look at."""

    rows: list[str]
    """Each card as JSON text, as ``json.dumps(card, ensure_ascii=False)`` writes it."""
    index: list[tuple[str, str, list[str]]]
    """(column, workspace, labels) of each card, in the same order."""
    board: str | None = None
    """``board_stamp`` of the board.json the cards were folded from (None: not recorded)."""
    warning: str | None = None
    """The chain warning the store gave while the cards were computed (``Store.chain_warning``)."""
    undeclared: bool = False
    """Whether the cards include those of jobs jobs.json no longer declares whose attempt is under way
    (``views.cards`` does): `ls` answers only from such cards, or would not list those jobs."""

    def to_json(self, keep: Sequence[bool] | None = None) -> str:
        """The JSON array of the cards (those marked in ``keep``), as `ls --json` prints it."""
        rows = self.rows if keep is None else [row for row, wanted in zip(self.rows, keep) if wanted]
        return "[" + ", ".join(rows) + "]"


def cards_path(deck: Deck) -> Path:
    """Where the cached cards live."""
    return deck.state_dir / CARDS_NAME


def spec_digest(raw: bytes) -> str:
    """The fingerprint of a jobs.json version (the same as LoadedSpec.digest)."""
    return sha256_hex(raw)


def cached_cards(deck: Deck, now: float) -> CachedCards | None:
    """The cached cards if they still match the deck at ``now``, else None."""
    try:
        data = cards_path(deck).read_bytes()
        raw_spec = deck.spec_path.read_bytes()
    except OSError:
        return None
    first = data.find(b"\n")
    second = data.find(b"\n", first + 1)
    try:
        header = json.loads(data[:first])
        index = json.loads(data[first + 1: second])
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != CARDS_FORMAT or not _same_stamps(header):
        return None
    saved_at, valid_until = header.get("now"), header.get("valid_until")
    if not isinstance(saved_at, (int, float)) or saved_at > now:  # the clock stepped back since: times may read differently
        return None
    if valid_until is not None and not now < valid_until:
        return None
    if header.get("spec") != spec_digest(raw_spec):
        return None
    position = header.get("events")
    if not isinstance(position, dict) or grown_since(deck.events_path, position.get("offset"),
                                                     position.get("hash")) != 0:
        return None
    body = data[second + 1:]
    if first < 0 or second < 0 or header.get("cards") != sha256_hex(body):
        return None  # cut short or altered: not the file save_cards wrote
    rows = body.decode().split("\n")[:-1]
    if not isinstance(index, list) or len(index) != len(rows):
        return None
    board, warning = header.get("board"), header.get("warning")
    return CachedCards(rows, index, board if isinstance(board, str) else None,
                       warning if isinstance(warning, str) else None, header.get("undeclared") is True)


def save_cards(deck: Deck, cards: Sequence[Mapping[str, Any]], *, spec: str, offset: int,
               last_hash: str, now: float, board: str | None = None, warning: str | None = None,
               undeclared: bool = False) -> CachedCards:
    """Cache ``cards`` (JSON rows computed at ``now`` from jobs.json ``spec`` and the log up to
    ``offset``) and return them encoded, the way ``cached_cards`` will return them.

    ``board`` (``board_stamp`` taken before the store read board.json) and ``warning``
    let `jobdeck ls` answer from the cache exactly as the fold would, warning included;
    so does ``undeclared``: the cards include those of jobs jobs.json no longer declares
    whose attempt is under way (``views.cards``).
    A deck the caller may read but not write is fine: the cache is skipped.
    """
    encode = json.JSONEncoder(ensure_ascii=False).encode  # what json.dumps(..., ensure_ascii=False) uses
    cached = CachedCards([encode(card) for card in cards],
                         [(card["column"], card["workspace"], card["labels"]) for card in cards], board, warning,
                         undeclared)
    body = "".join(row + "\n" for row in cached.rows).encode()
    header = {
        "format": CARDS_FORMAT,
        "code": code_stamp(),
        "environment": environment_stamp(),
        "spec": spec,
        "events": {"offset": offset, "hash": last_hash},
        "now": now,
        "valid_until": valid_until(cards, now),
        "cards": sha256_hex(body),
        "board": board,
        "warning": warning,
        "undeclared": undeclared,
    }
    data = (json.dumps(header) + "\n" + encode(cached.index) + "\n").encode() + body
    try:
        write_atomic(cards_path(deck), data, durable=False, cache=True)
    except OSError:
        pass  # only a cache: a read-only deck answers the slow way every time
    return cached


def known_fires(deck: Deck, spec: str, now: float) -> dict[str, float]:
    """Each scheduled job's next fire at ``now``, from the cached cards, when they still tell it.

    Cards saved for jobs.json ``spec`` at a time ``t`` hold each schedule's first
    fire after ``t``; none has passed until ``valid_until``, so for ``t <= now <
    valid_until`` those are the first fires after ``now`` too, even when the log
    has grown since. `ls` rebuilding its cards after a change then needs no cron
    arithmetic (nor croniter's import, ~10 ms). Empty when they do not tell.
    """
    try:
        data = cards_path(deck).read_bytes()
        first = data.index(b"\n")
        header = json.loads(data[:first])
        if not (isinstance(header, dict) and header.get("format") == CARDS_FORMAT and header.get("spec") == spec
                and _same_stamps(header)):
            return {}
        saved_at, until = header.get("now"), header.get("valid_until")
        if not (isinstance(saved_at, float) and isinstance(until, float) and saved_at <= now < until):
            return {}
        second = data.index(b"\n", first + 1)
        body = data[second + 1:]
        if header.get("cards") != sha256_hex(body):
            return {}
        rows = json.loads("[" + ",".join(body.decode().split("\n")[:-1]) + "]")
        return {row["id"]: row["next_fire"] for row in rows if isinstance(row.get("next_fire"), float)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def board_stamp(deck: Deck) -> str:
    """Which board.json is on disk (device, inode, size, mtime): a rewrite changes it; "-" when there is none."""
    try:
        st = os.stat(deck.board_path)
    except OSError:
        return "-"
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def valid_until(rows: Sequence[Mapping[str, Any]], now: float) -> float | None:
    """The first time after ``now`` at which some card would read differently (None: never)."""
    times = [row["next_fire"] for row in rows if row.get("next_fire") is not None]
    times += [row["retry_at"] for row in rows if row.get("retry_at") is not None and row["retry_at"] > now]
    times += [row["kept_until"] for row in rows if row.get("kept_until") is not None and row["kept_until"] > now]
    return min(times, default=None)


def _same_stamps(header: Mapping[str, Any]) -> bool:
    """Whether the cards were computed by this code in this environment (state/stamps.py): in another,
    the loader may refuse the jobs.json they were computed from (an agent plugin gone, say)."""
    return header.get("code") == code_stamp() and header.get("environment") == environment_stamp()
