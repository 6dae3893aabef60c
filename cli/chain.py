"""`jobdeck audit verify` and `jobdeck log rotate|compact`: the chain of work across its segments."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from jobdeck.state.deck import Deck
from jobdeck.state.errors import deck_access_error

if TYPE_CHECKING:
    from jobdeck.state.chain import ChainBreak, CheckedSegment


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def audit(deck: Deck, args: argparse.Namespace) -> int:
    """Verify the chain (every segment, or a range) against board.json's anchor; 0 if it holds, 1 if not."""
    from jobdeck.state.board import read_snapshot
    from jobdeck.state.chain import verify_chain

    snapshot = read_snapshot(deck)
    position = snapshot.get("events", {}) if snapshot else {}
    anchor = (position["seq"], position["hash"]) if isinstance(position.get("seq"), int) and position.get("hash") else None
    from jobdeck.cli.progress import Progress

    try:
        with Progress("audit: verifying the chain of work", "records") as progress:  # ~11 s at a million
            report = verify_chain(deck.events_path, anchor, from_seq=args.from_seq, segment=args.segment,
                                  progress=progress)
    except OSError as exc:
        raise deck_access_error(exc, "read the chain of work", deck.events_path) from None
    broken = report.broken
    head = report.head if broken is None else None
    missing = args.segment is not None and not report.segments
    beyond = broken is None and args.from_seq is not None and (head is None or head[0] < args.from_seq)
    if args.json:
        _print_json(report.to_json())
    elif missing:
        print(f"no segment begins at seq {args.segment}; see `ls {deck.events_path.parent / 'log'}`", file=sys.stderr)
    elif beyond:
        print(f"no record has seq {args.from_seq}: the chain of work ends at seq {head[0] if head else 0}",
              file=sys.stderr)
    else:
        checked = ", ".join(f"{s.file} ({_held(s, broken)})" for s in report.segments)
        if broken is None:
            print(f"chain of work verified: {report.records} records, no breaks"
                  + (f"; head seq {head[0]} hash {head[1]}" if head else ""))
            if checked:
                print(f"segments checked: {checked}")
        else:
            print(f"chain of work BROKEN at line {broken.line} (seq {broken.seq}) of {broken.file}: {broken.problem}",
                  file=sys.stderr)
            print(f"{report.records} records before it verified; segments checked: {checked}", file=sys.stderr)
    return 0 if broken is None and not missing and not beyond else 1


def _held(segment: CheckedSegment, broken: ChainBreak | None) -> str:
    """What a checked segment held, as `segments checked:` says it."""
    if segment.last is not None:
        return f"seq {segment.first}-{segment.last}"
    if broken is not None and broken.file == segment.file:
        return f"broken at line {broken.line}"
    return "empty"


def rotate(deck: Deck, args: argparse.Namespace) -> int:
    """Close the live log as a segment now (and with `compact`, gzip the closed segments)."""
    from jobdeck.state.board import open_store

    with open_store(deck) as store:
        try:
            rotation = store.rotate(compress_closed=args.what == "compact")
        except OSError as exc:
            raise deck_access_error(exc, "rotate the chain of work", deck.events_path) from None
        if rotation.closed is not None:
            store.write_snapshot()  # readers resume in the new live file, not in a closed one
    if args.json:
        _print_json({"closed": rotation.closed, "live_first": rotation.first, "compressed": rotation.compressed})
        return 0
    if rotation.closed is None:
        print("nothing to rotate: the live log holds no records yet")
    else:
        print(f"closed {deck.events_path.parent / 'log' / rotation.closed}; events.jsonl goes on from seq {rotation.first}")
    for name in rotation.compressed:
        print(f"compressed {name}")
    return 0
