"""`jobdeck stats`: the history's tallies (state/history.py) as a report, for people and for jq."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from jobdeck.cli.render import aligned, seconds, when
from jobdeck.state.history import DECK, HOUR, History
from jobdeck.state.money import format_cost as money
from jobdeck.state.tally import Tally, dollars, quantile
from jobdeck.state.terminal import one_line as clean

if TYPE_CHECKING:
    from jobdeck.state.rollups import Rollups


def scope_report(tally: Tally | None) -> dict[str, Any]:
    """One scope's numbers as plain JSON-ready values."""
    tally = tally or Tally()
    runs, succeeded = tally.runs, tally.outcomes.get("succeeded", 0)
    interventions = sum(tally.interventions.values())
    deadlines = tally.deadlines_met + tally.deadlines_missed
    return {
        "runs": runs, "outcomes": dict(sorted(tally.outcomes.items())),
        "success_rate": succeeded / runs if runs else None,
        "failure_rate": tally.outcomes.get("failed", 0) / runs if runs else None,
        "failures": tally.failures_by_class(), "reasons": dict(sorted(tally.reasons.items())),
        "wait_p50": quantile(tally.wait, 0.5), "wait_p95": quantile(tally.wait, 0.95),
        "run_p50": quantile(tally.run, 0.5), "run_p95": quantile(tally.run, 0.95),
        "retries": tally.retries, "rate_limits": tally.rate_limits, "cooldowns": tally.cooldowns,
        "cooldown_skips": tally.cooldown_skips, "tokens": tally.tokens, "cost": dollars(tally.cost_pico),
        "models": {model: {"runs": int(runs_), "tokens": int(tokens), "cost": dollars(cost)}
                   for model, (runs_, tokens, cost) in sorted(tally.models.items())},
        "interventions": dict(sorted(tally.interventions.items())),
        "interventions_per_100_runs": round(100 * interventions / runs, 2) if runs else None,
        "deadlines": {"met": tally.deadlines_met, "missed": tally.deadlines_missed,
                      "adherence": tally.deadlines_met / deadlines if deadlines else None},
        "last_ended": round(tally.last_ended, 3) if tally.last_ended is not None else None,  # as stats-cache.json keeps it
    }


def stats_report(history: History, rollups: Rollups, jobs: Sequence[str], *, since: float | None, days: int,
                 now: float) -> dict[str, Any]:
    """The deck, each workspace and each of ``jobs`` (every job with a record when empty) over the window."""
    window = history.window(since, now)
    ids = list(jobs) or sorted(scope[4:] for scope in window if scope.startswith("job:"))
    rows = []
    for job in ids:
        row = scope_report(window.get(f"job:{job}"))
        tally = window.get(f"job:{job}") or Tally()
        rows.append({"id": job, "ended": row["runs"], **row,
                     "p50": quantile(tally.run, 0.5), "p90": quantile(tally.run, 0.9)})
    workspaces = [{"workspace": scope[10:], **scope_report(tally)}
                  for scope, tally in sorted(window.items()) if scope.startswith("workspace:")]
    first_day = max(start_of_local_day(now - (days - 1) * 86400), since if since is not None else 0.0)
    return {"since": since, "from": int(since // HOUR) * HOUR if since is not None else None,
            "deck": scope_report(window.get(DECK)), "workspaces": workspaces, "jobs": rows,
            "days": daily(history, first_day), "failed_last_hour": rollups.failures_since(now - 3600)}


def daily(history: History, start: float) -> list[dict[str, Any]]:
    """The deck's totals per local day from ``start`` on: runs that succeeded and failed, cost and tokens per model."""
    per_day: dict[str, dict[str, Any]] = {}
    for hour in history.hours_from(int(start // HOUR)):
        tally = history.hour(hour).get(DECK)
        if tally is None:
            continue
        day = datetime.fromtimestamp(hour * HOUR).strftime("%Y-%m-%d")
        total = per_day.setdefault(day, {"day": day, "succeeded": 0, "failed": 0, "cost": 0, "tokens": 0,
                                         "by_model": {}, "tokens_by_model": {}})  # cost in picodollars until the end
        total["succeeded"] += tally.outcomes.get("succeeded", 0)
        total["failed"] += tally.outcomes.get("failed", 0)
        total["cost"] += tally.cost_pico
        total["tokens"] += tally.tokens
        named = 0
        for model, (_, tokens, cost) in tally.models.items():
            named += cost
            if cost:
                total["by_model"][model] = total["by_model"].get(model, 0) + cost
            if tokens:
                total["tokens_by_model"][model] = total["tokens_by_model"].get(model, 0) + int(tokens)
        if tally.cost_pico > named:
            total["by_model"]["unknown"] = total["by_model"].get("unknown", 0) + tally.cost_pico - named
    out = []
    for day in sorted(per_day):
        total = per_day[day]
        total["cost"] = dollars(total["cost"])
        total["by_model"] = {model: dollars(cost) for model, cost in sorted(total["by_model"].items())}
        total["tokens_by_model"] = dict(sorted(total["tokens_by_model"].items()))
        out.append(total)
    return out


def start_of_local_day(moment: float) -> float:
    return datetime.fromtimestamp(moment).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


CLASS_WORDS = {"exit": "exited non-zero", "invalid_output": "invalid output"}
"""Failure classes worded for the text report where the bare name misleads ("exit 2" reads as an exit code)."""

HEADERS = ("SCOPE", "RUNS", "OK", "WAIT P50", "WAIT P95", "RUN P50", "RUN P95", "RETRIES", "RATE LIMITS",
           "COOLDOWNS", "COST", "LAST")


def _row(name: str, row: Mapping[str, Any], now: float) -> tuple[str, ...]:
    rate = row["success_rate"]
    return (clean(name), str(row["runs"]), "-" if rate is None else f"{rate:.0%}", seconds(row["wait_p50"]),
            seconds(row["wait_p95"]), seconds(row["run_p50"]), seconds(row["run_p95"]), str(row["retries"]),
            str(row["rate_limits"]), str(row["cooldowns"]), money(row["cost"]), when(row["last_ended"], now))


def stats_table(report: Mapping[str, Any], now: float, out: TextIO | None = None) -> None:
    """The stats report as aligned columns, then failures, interventions, deadlines, models and days."""
    out = out or sys.stdout
    if report["from"] is None:
        out.write("all history\n")
    else:
        start = datetime.fromtimestamp(report["from"]).strftime("%Y-%m-%d %H:%M")
        out.write(f"since {start} (whole hours)\n")
    deck = report["deck"]
    scopes = [("deck", deck), *((f"workspace {w['workspace']}", w) for w in report["workspaces"]),
              *((row["id"], row) for row in report["jobs"])]
    if not deck["runs"] and len(scopes) == 1:
        out.write("no attempt has ended yet\n" if report["from"] is None else "no attempt ended in this window\n")
    else:
        for line in aligned(HEADERS, [_row(name, row, now) for name, row in scopes]):
            out.write(line + "\n")
    failing = [(name, row["failures"]) for name, row in scopes if row["failures"]]
    if failing:
        out.write("\nfailures by class\n")
        for name, classes in failing:
            out.write(f"  {clean(name)}: {', '.join(f'{v} {CLASS_WORDS.get(k, k)}' for k, v in classes.items())}\n")
    if deck["interventions"]:
        listed = ", ".join(f"{k} {v}" for k, v in deck["interventions"].items())
        per_100 = deck["interventions_per_100_runs"]
        out.write(f"\noperators stepped in {sum(deck['interventions'].values())} times ({listed})"
                  + (f": {per_100:g} per 100 runs\n" if per_100 is not None else "\n"))
    met, missed = deck["deadlines"]["met"], deck["deadlines"]["missed"]
    if met or missed:
        out.write(f"deadlines: {met} of {met + missed} met ({met / (met + missed):.0%}), {missed} missed\n")
    if deck["models"]:
        out.write("\n")
        rows = [(clean(m), str(v["runs"]), f"{v['tokens']:,}", money(v["cost"])) for m, v in deck["models"].items()]
        for line in aligned(("MODEL", "RUNS", "TOKENS", "COST"), rows):
            out.write(line + "\n")
    if report["days"]:
        out.write("\nDAY         DONE  FAILED  COST\n")
        for day in report["days"]:
            out.write(f"{day['day']}  {day['succeeded']:>4}  {day['failed']:>6}  {money(day['cost'])}\n")
    out.write(f"failed in the last hour: {report['failed_last_hour']}\n")
