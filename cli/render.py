"""Human output for the CLI; scripts use --json instead.

Everything is written as plain aligned text, with ANSI bold and colour on a
terminal only: the board and the chain of work can be 10,000+ lines (rich's Table
took 13 s of CPU for 10,000 cards), and importing and running rich cost `show`
~50 ms of its start. Everything printed from the deck passes through ``clean``
(``state.terminal.one_line``) so text written by a job cannot drive the terminal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from jobdeck.cli.main import terminal_columns
from jobdeck.state.attempts import OUTPUT
from jobdeck.state.durations import format_duration
from jobdeck.state.machine import not_a_try
from jobdeck.state.terminal import exit_words
from jobdeck.state.terminal import one_line as clean

if TYPE_CHECKING:
    from jobdeck.state.card import Card
    from jobdeck.state.deck import Deck
    from jobdeck.state.gc import GcReport
    from jobdeck.state.machine import JobState
    from jobdeck.state.preview import JobPreview
    from jobdeck.state.spec import Job, Retention

def when(ts: float | None, now: float | None = None) -> str:
    """'12s ago' / 'in 5m' / '-'."""
    if ts is None:
        return "-"
    delta = (now or time.time()) - ts
    return f"{format_duration(delta)} ago" if delta >= 0 else f"in {format_duration(-delta)}"


def notes(card: Card, now: float) -> str:
    parts = list(card.flags)
    if card.retry_at and card.retry_at > now:
        parts = [p for p in parts if p != "retrying"] + [f"retry {when(card.retry_at, now)}"]
    if card.next_fire:
        parts.append(f"next fire {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(card.next_fire))}")
    if card.reason and card.column.value in ("review", "failed", "cancelled"):
        parts = [card.reason] + [p for p in parts if p != card.reason]
    return "; ".join(parts)


ANSI_STATUS = {"backlog": "36", "running": "33", "review": "35", "done": "32", "failed": "31",
               "cancelled": "2"}
CARD_HEADERS = ("ID", "STATUS", "AGENT", "TRY", "SINCE", "NOTES")
ATTEMPT_HEADERS = ("N", "OUTCOME", "REASON", "EXIT", "STARTED", "TOOK", "OUTPUT")


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _styled(text: str, code: str, enabled: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if enabled else text


def cards_table(cards: Sequence[Card], now: float, out: TextIO | None = None, *, deck_empty: bool = False) -> None:
    """The board as aligned columns; on a terminal, long notes fold under the NOTES column. ``deck_empty``: no job
    at all (not none that a filter lets through)."""
    out = out or sys.stdout
    if not cards:  # a note, not a row: stdout stays the table (empty) for a script
        sys.stderr.write("no jobs in jobs.json yet (hint: `jobdeck add --id hello -- echo hi`)\n" if deck_empty
                         else "no jobs match\n")
        return
    rows = [(clean(card.id), card.column.value, clean(card.agent), _tries(card), when(card.since, now),
             clean(notes(card, now))) for card in cards]
    widths = [max(_width(header), *(_width(row[i]) for row in rows)) for i, header in enumerate(CARD_HEADERS[:5])]
    colour = _colour(out)
    indent = sum(widths) + 2 * len(widths)
    room = max(20, terminal_columns() - indent) if out.isatty() else None
    head = "  ".join(_pad(h, w) for h, w in zip(CARD_HEADERS, widths)) + "  " + CARD_HEADERS[5]
    lines = [_styled(head, "1", colour)]
    for row in rows:
        cells = [_pad(cell, width) for cell, width in zip(row, widths)]
        cells[1] = _styled(cells[1], ANSI_STATUS[row[1]], colour)
        note = row[5]
        if room and len(note) > room:
            import textwrap  # (a long note on a terminal only)

            parts = textwrap.wrap(note, room)
        else:
            parts = [note]
        lines.append(("  ".join(cells) + "  " + parts[0]).rstrip())
        lines.extend(" " * indent + part for part in parts[1:])
    out.write("\n".join(lines) + "\n")
    hint = undeclared_hint(cards)
    if hint:
        sys.stderr.write(hint + "\n")  # (stdout is the table a script reads)


def _tries(card: Card) -> str:
    """The TRY column: "2/3"; "1/?" when the job's retries are not known (no longer in jobs.json); "-" if none."""
    if not card.attempt:
        return "-"
    return f"{card.attempt}/{card.max_attempts if card.declared else '?'}"


def undeclared_hint(cards: Sequence[Card]) -> str | None:
    """Once under the table: which running jobs jobs.json no longer declares, and how to stop them (None: none)."""
    running = [clean(card.id) for card in cards if not card.declared and card.column.value == "running"]
    if not running:
        return None
    if len(running) == 1:
        return (f"jobdeck: {running[0]} still runs but is no longer in jobs.json "
                f"(hint: `jobdeck cancel {running[0]}` stops it)")
    return (f"jobdeck: {len(running)} jobs still run but are no longer in jobs.json: {', '.join(running)} "
            f"(hint: `jobdeck cancel ID` stops one)")


def job_detail(deck: Deck, job: Job | JobPreview, state: JobState, card: Card, chain: Sequence[dict[str, Any]], *,
               spec_json: Mapping[str, Any], idempotent: bool, out: TextIO | None = None) -> None:
    """One job: header, notes, spec (``spec_json``: as validated), attempts table, then its chain of work."""
    out = out or sys.stdout
    colour = _colour(out)
    now = time.time()
    status = state.status.value
    title = f"{_styled(clean(job.id), '1', colour)}  {clean(job.name)}"
    lines = [f"{title}  {_styled(status, ANSI_STATUS[status], colour)}"]
    if notes(card, now):
        lines.append(f"  {clean(notes(card, now))}")
    lines.append(f"  agent {clean(card.agent)}  workspace {job.workspace}  risk {job.risk}  "
                 f"cycle {state.cycle}  tries used {state.tries}/{job.retry.max_attempts}")
    if job.depends_on:
        lines.append(f"  depends on {', '.join(job.depends_on)}")
    if state.reasons:
        lines.append(_styled("reasons", "1", colour))
        lines.extend(f"  - {clean(reason)}" for reason in state.reasons)
    lines.append(_styled("spec", "1", colour))
    lines.append(json.dumps(spec_json, indent=2))
    if state.attempts:
        rows = [ATTEMPT_HEADERS]
        for attempt in state.attempts:
            took = format_duration(attempt.ended - attempt.started) if attempt.ended else "running"
            outcome = attempt.outcome or "running"
            if not_a_try(attempt.reason) or (attempt.outcome == "interrupted" and idempotent):
                outcome += " (not a try)"  # not started, no model called, or stopped: `ls` TRY does not count it
            rows.append((str(attempt.n), outcome, clean(attempt.reason or ""),
                         exit_words(attempt.exit_code), when(attempt.started, now),
                         took, clean(_output_path(deck, attempt.workspace, job.id, attempt.n,
                                                  made=attempt.reason != "not_started"))))
        widths = [max(_width(row[i]) for row in rows) for i in range(len(ATTEMPT_HEADERS) - 1)]
        lines.append(_styled("attempts", "1", colour))
        for i, row in enumerate(rows):
            line = ("  ".join(_pad(cell, width) for cell, width in zip(row, widths)) + "  " + row[-1]).rstrip()
            lines.append(_styled(line, "1", colour) if i == 0 else line)
    lines.append(_styled("chain of work", "1", colour))
    out.write("\n".join(lines) + "\n")
    events(chain, out)


def _output_path(deck: Deck, workspace: str, job_id: str, n: int, *, made: bool = True) -> str:
    """Where an attempt's output is, resolved; as written for a workspace that leads out of the deck; or that
    its directory is no longer on disk (removed by `jobdeck gc`, or by hand: `logs --attempt N` says which), or
    never was (``made`` False: an attempt that could not be set up, whose directory may not have been made)."""
    from jobdeck.state.errors import AttemptRefused

    try:
        directory = deck.attempt_dir(workspace, job_id, n)
    except AttemptRefused:
        return str(deck.attempt_dir_as_named(workspace, job_id, n) / OUTPUT)
    if os.path.lexists(directory):
        return str(directory / OUTPUT)
    return "(removed)" if made else "-"


#: Fields of a record that hold a moment (epoch seconds): the text shows them as its stamps are shown.
MOMENTS = frozenset({"retry_at", "ready", "fire", "until", "deadline", "since"})


def _field(key: str, value: Any) -> str:
    if key in MOMENTS and type(value) in (int, float) and 0 < value < 1e11:
        return f"{key}={time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(value))}"
    return f"{key}={json.dumps(value, ensure_ascii=False)}"


def events(records: Sequence[dict[str, Any]], out: TextIO | None = None) -> None:
    """The chain of work, one line per record: seq, time (local, as the header says), job, type, details."""
    out = out or sys.stdout
    bold = _colour(out)
    skip = {"seq", "ts", "type", "job", "prev", "hash"}
    lines = []
    for record in records:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("ts", 0)))
        detail = " ".join(_field(k, v) for k, v in record.items() if k not in skip)
        kind = _styled(clean(str(record["type"])), "1", bold)
        lines.append(f"{record.get('seq', '?'):>6} {stamp} {clean(str(record.get('job') or '-')):<20} "
                     f"{kind} {clean(detail)}".rstrip())
    out.write("".join(line + "\n" for line in lines))


def aligned(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """``headers`` and ``rows`` as lines of left-aligned columns, two spaces apart."""
    widths = [max(_width(h), *(_width(r[i]) for r in rows)) for i, h in enumerate(headers)]
    return ["  ".join(_pad(c, w) for c, w in zip(row, widths)).rstrip() for row in (headers, *rows)]


def seconds(value: float | None) -> str:
    """A duration for a table: '-', '0.42s', '3m 5s'."""
    return "-" if value is None else format_duration(value) if value >= 1 else f"{value:.2f}s"


def gc_json(report: GcReport, *, verbose: bool) -> dict[str, Any]:
    """`jobdeck gc --json`: what was (or would be) removed, with reasons and bytes."""
    out: dict[str, Any] = {
        "dry_run": report.dry_run,
        "removed": [{"workspace": item.attempt.workspace, "job": item.attempt.job, "attempt": item.attempt.n,
                     "directory": item.attempt.name, "why": item.why, "bytes": item.bytes} for item in report.removed],
        "bytes_freed": report.bytes_freed,
        "tombstones_finished": report.tombstones,
        "errors": [error.to_json() for error in report.errors],
        "recorded": report.record["seq"] if report.record is not None else None,
    }
    if verbose:
        out["kept"] = [{"workspace": d.attempt.workspace, "job": d.attempt.job, "attempt": d.attempt.n,
                        "directory": d.attempt.name, "why": d.why} for d in report.kept]
    return out


def gc_text(report: GcReport, *, verbose: bool, policy: Retention) -> str:
    """`jobdeck gc`: one line per attempt directory removed (and kept, with ``verbose``), then a total."""
    from jobdeck.state.sizes import format_size

    lines = []
    verb = "would remove" if report.dry_run else "removed"
    for item in report.removed:
        lines.append(f"{verb} {clean(item.attempt.where)}  ({item.why}, {format_size(item.bytes)})")
    if verbose:
        lines.extend(f"kept {clean(d.attempt.where)}  ({clean(d.why)})" for d in report.kept)
    if policy.keep_days is None and policy.keep_attempts is None and not report.removed:
        lines.append("no retention policy in jobs.json: every attempt is kept (see `retention` in docs/jobs-json.md)")
    count = len(report.removed)
    total = f"{verb} {count} attempt director{'y' if count == 1 else 'ies'}, {format_size(report.bytes_freed)}"
    if report.tombstones:
        total += f"; finished {report.tombstones} left by an interrupted gc"
    lines.append(total)
    return "\n".join(lines) + "\n"


def gc_problems(report: GcReport) -> list[str]:
    """`jobdeck gc`'s errors, one line each: the directory it could not remove (full path), why, and how to mend it;
    then, if it could not be recorded in the log, why."""
    unrecorded = [clean(str(report.unrecorded))] if report.unrecorded is not None else []
    return [clean(str(error)) for error in report.errors] + unrecorded
