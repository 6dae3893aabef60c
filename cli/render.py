"""Human output for the CLI (rich tables); scripts use --json instead."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from state.durations import format_duration

STATUS_STYLE = {"backlog": "cyan", "running": "yellow", "review": "magenta", "done": "green",
                "failed": "red", "cancelled": "dim"}


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def when(ts: float | None, now: float | None = None) -> str:
    """'12s ago' / 'in 5m' / '-'."""
    if ts is None:
        return "-"
    delta = (now or time.time()) - ts
    return f"{format_duration(delta)} ago" if delta >= 0 else f"in {format_duration(-delta)}"


def notes(card: Any, now: float) -> str:
    parts = list(card.flags)
    if card.retry_at and card.retry_at > now:
        parts = [p for p in parts if p != "retrying"] + [f"retry {when(card.retry_at, now)}"]
    if card.next_fire:
        parts.append(f"next fire {datetime.fromtimestamp(card.next_fire).strftime('%Y-%m-%d %H:%M')}")
    if card.reason and card.column.value in ("review", "failed", "cancelled"):
        parts.insert(0, card.reason)
    return "; ".join(parts)


def cards_table(cards: Sequence[Any], now: float) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("ID", "STATUS", "AGENT", "TRY", "SINCE", "NOTES"):
        table.add_column(name, overflow="fold" if name == "NOTES" else "ellipsis", no_wrap=name != "NOTES")
    for card in cards:
        status = card.column.value
        table.add_row(
            escape(card.id),
            f"[{STATUS_STYLE[status]}]{status}[/]",
            escape(card.agent),
            f"{card.attempt}/{card.max_attempts}" if card.attempt else "-",
            when(card.since, now),
            escape(notes(card, now)),
        )
    console = _console()
    if not cards:
        console.print("no jobs match")
        return
    console.print(table)


def job_detail(deck: Any, job: Any, state: Any, card: Any, chain: Sequence[dict[str, Any]]) -> None:
    console = _console()
    now = time.time()
    status = state.status.value
    console.print(f"[bold]{escape(job.id)}[/]  {escape(job.name)}  [{STATUS_STYLE[status]}]{status}[/]")
    if notes(card, now):
        console.print(f"  {escape(notes(card, now))}")
    console.print(f"  agent {escape(card.agent)}  workspace {job.workspace}  risk {job.risk}  "
                  f"cycle {state.cycle}  tries {state.tries}/{job.retry.max_attempts}")
    if job.depends_on:
        console.print(f"  depends on {', '.join(job.depends_on)}")
    if state.reasons:
        console.print("[bold]reasons[/]")
        for reason in state.reasons:
            console.print(f"  - {escape(reason)}")
    console.print("[bold]spec[/]")
    console.print(escape(json.dumps(job.model_dump(mode="json", by_alias=True, exclude_defaults=True), indent=2)))
    if state.attempts:
        table = Table(title="attempts", box=None, header_style="bold", title_justify="left")
        for name in ("N", "OUTCOME", "REASON", "EXIT", "STARTED", "TOOK", "OUTPUT"):
            table.add_column(name)
        for attempt in state.attempts:
            took = format_duration(attempt.ended - attempt.started) if attempt.ended else "running"
            table.add_row(str(attempt.n), attempt.outcome or "running", escape(attempt.reason or ""),
                          "" if attempt.exit_code is None else str(attempt.exit_code),
                          when(attempt.started, now), took,
                          str(deck.attempt_dir(attempt.workspace, job.id, attempt.n) / "output"))
        console.print(table)
    console.print("[bold]chain of work[/]")
    events(chain, console)


def events(records: Sequence[dict[str, Any]], console: Console | None = None) -> None:
    console = console or _console()
    skip = {"seq", "ts", "type", "job", "prev", "hash"}
    for record in records:
        stamp = datetime.fromtimestamp(record.get("ts", 0)).strftime("%Y-%m-%d %H:%M:%S")
        detail = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in record.items() if k not in skip)
        console.print(f"{record.get('seq', '?'):>6} {stamp} {escape(record.get('job') or '-'):<20} "
                      f"[bold]{escape(record['type'])}[/] {escape(detail)}")
