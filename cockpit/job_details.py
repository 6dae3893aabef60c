"""The detail pane's content: spec, attempts, reasons, usage/cost, chain of work.

Pure Rich renderables built from the model's data. Every value that came from a
file (jobs.json, events, agent output) goes in as ``Text`` so nothing is read as
markup; a plain ``str`` cell in a Rich Table would be parsed as markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from jobdeck.state.card import Card
from jobdeck.state.durations import format_duration
from jobdeck.state.outcomes import counted_as
from jobdeck.state.machine import JobState

from jobdeck.cockpit.card_cell import flag_texts
from jobdeck.state.terminal import inert, inert_line
from jobdeck.cockpit.timefmt import relative, stamp

if TYPE_CHECKING:
    from jobdeck.state.spec import Job

STATUS_STYLES = {"backlog": "cyan", "running": "yellow", "review": "magenta", "done": "green",
                 "failed": "red", "cancelled": "dim"}
ENVELOPE = {"seq", "ts", "type", "job", "prev", "hash"}


def t(value: object, style: str = "") -> Text:
    """Inert text for any value (strings are stripped of control sequences)."""
    return Text(inert(value if isinstance(value, str) else str(value)), style)


def heading(job: Job, state: JobState, card: Card, now: float) -> Text:
    """'publish  Publish the summary  [review]  awaiting approval'."""
    status = state.status.value
    text = Text()
    text.append(job.id, "bold")
    if job.name != job.id:
        text.append("  ")
        text.append(inert_line(job.name))
    text.append(f"  {status}", f"bold {STATUS_STYLES.get(status, '')}")
    flags = flag_texts(card, now)
    if state.reason and state.status.value in ("review", "failed", "cancelled"):
        flags.insert(0, state.reason)
    if flags:
        text.append("  " + inert_line("; ".join(flags)), "italic")
    return text


def section(title: str) -> Text:
    return Text(f"\n{title}", "bold underline")


def summary(job: Job, state: JobState, card: Card) -> Text:
    parts = [f"agent {card.agent}", f"workspace {job.workspace}", f"risk {job.risk}",
             f"cycle {state.cycle}", f"tries {state.tries}/{job.retry.max_attempts}"]
    if job.depends_on:
        parts.append("depends on " + ", ".join(job.depends_on))
    if job.labels:
        parts.append("labels " + ", ".join(job.labels))
    return t("  ".join(parts), "dim")


def attempts_table(state: JobState, now: float) -> RenderableType:
    if not state.attempts:
        return Text("no attempts yet", "dim")
    table = Table(box=None, pad_edge=False, header_style="bold", expand=False)
    for name in ("#", "outcome", "started", "took", "exit", "usage", "cost", "reason"):
        table.add_column(name, overflow="fold", no_wrap=name not in ("reason",))
    for attempt in state.attempts:
        took = attempt.ended - attempt.started if attempt.ended else now - attempt.started
        outcome = attempt.outcome or "running"
        table.add_row(
            t(attempt.n), t(outcome, STATUS_STYLES.get({"succeeded": "done"}.get(outcome, outcome), "")),
            t(relative(attempt.started, now)), t(format_duration(max(0.0, took))),
            t("" if attempt.exit_code is None else attempt.exit_code),
            t(usage_text(attempt.usage)), t("" if attempt.cost is None else f"${attempt.cost:.4f}"),
            t(attempt.reason or ""),
        )
    return table


BARS = "▁▂▃▄▅▆▇█"


def duration_trend(state: JobState) -> Text | None:
    """The durations of the kept attempts that succeeded, oldest first, as a one-line sparkline; None under two."""
    took = [a.ended - a.started for a in state.attempts
            if a.ended is not None and counted_as(a.outcome or "failed", a.reason)[0] == "succeeded"]
    if len(took) < 2:
        return None
    low, high = min(took), max(took)
    span = high - low
    bars = "".join(BARS[round((value - low) / span * (len(BARS) - 1)) if span else 0] for value in took)
    text = t(f"duration of the last {len(took)} successful runs  ", "dim")
    text.append(bars, "bold cyan")
    text.append(f"  {format_duration(low)} to {format_duration(high)}, latest {format_duration(took[-1])}", "dim")
    return text


def usage_text(usage: Mapping[str, Any] | None) -> str:
    if not usage:
        return ""
    short = {"prompt_tokens": "in", "completion_tokens": "out", "total_tokens": "total"}
    return " ".join(f"{short.get(k, k)} {v}" for k, v in usage.items() if k in short) or \
        " ".join(f"{k} {v}" for k, v in list(usage.items())[:3])


def reasons(state: JobState) -> RenderableType | None:
    if not state.reasons:
        return None
    return Group(*(t(f"- {reason}", "red") for reason in state.reasons))


def spec_text(job: Job) -> Text:
    declared = job.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return t(json.dumps(declared, indent=2, ensure_ascii=False))


CHAIN_SHOWN = 200
"""The newest records of a job's chain the detail screen draws: it is drawn again every second while the
job runs, and a job run every minute for a week has ~30,000 (drawing 1,151 took ~80 ms)."""


def chain_lines(records: Sequence[Mapping[str, Any]], job_id: str = "",
                archived_before: int | None = None) -> RenderableType:
    """The newest CHAIN_SHOWN records, oldest first, after a line saying how many older ones there are
    (and, when the log's oldest segments were archived, that the chain lacks what came before them)."""
    lines = []
    if archived_before is not None:
        lines.append(Text(f"… events before seq {archived_before:,} were archived out of .jobdeck/log", "dim"))
    if not records:
        return Group(*lines, Text("no events yet", "dim"))
    if len(records) > CHAIN_SHOWN:
        lines.append(Text(f"… {len(records) - CHAIN_SHOWN:,} older events: jobdeck events {inert(job_id)}", "dim"))
        records = records[-CHAIN_SHOWN:]
    for record in records:
        line = Text()
        line.append(f"{record.get('seq', '?'):>5} ", "dim")
        line.append(stamp(record.get("ts")) + " ", "dim")
        line.append(inert(str(record.get("type", "?"))), "bold")
        detail = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in record.items() if k not in ENVELOPE)
        if detail:
            line.append(" " + inert(detail))
        lines.append(line)
    return Group(*lines)


def details(job: Job, state: JobState, card: Card, chain: Sequence[Mapping[str, Any]],
            now: float, archived_before: int | None = None) -> RenderableType:
    """Everything about one job, top to bottom."""
    parts: list[RenderableType] = [summary(job, state, card)]
    if job.description:
        parts.append(t(job.description, "italic"))
    found = reasons(state)
    if found is not None:
        parts += [section("validation / reasons"), found]
    parts += [section("attempts"), attempts_table(state, now)]
    trend = duration_trend(state)
    if trend is not None:
        parts.append(trend)
    parts += [section("spec"), spec_text(job)]
    parts += [section(f"chain of work ({len(chain)} events)"), chain_lines(chain, job.id, archived_before)]
    return Group(*parts)
