"""`jobdeck why` and `jobdeck decisions`: the decision service's answers, for a person or a script."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jobdeck.state.durations import format_duration as dur
from jobdeck.state.errors import JobdeckError, UnknownJob
from jobdeck.state.money import format_cost as money
from jobdeck.state.terminal import one_line

if TYPE_CHECKING:
    from jobdeck.decide.report import Report

DAYS_SHOWN = 14
"""Days of spend the report's text lists each of; over more, only those over the budget or with holds."""


def cmd_why(args: argparse.Namespace, deck: Any, spec: Any, board: Any) -> int:
    from jobdeck.decide.why import why
    from jobdeck.state.cooldowns import COOLDOWN_FILE, read_cooldowns

    if spec.job(args.id) is None:
        from jobdeck.cli.commands import spec_place

        raise UnknownJob.among([args.id], (j.id for j in spec.jobs), spec_place(deck))
    answer = why(spec, board, args.id, time.time(), read_cooldowns(deck.state_dir / COOLDOWN_FILE))
    if args.json:
        sys.stdout.write(json.dumps(answer.to_json(), indent=2) + "\n")
        return 0
    lines = answer.lines(time.time())
    print(f"{answer.job}: {one_line(lines[0][0])}")
    for text, _ in lines[1:]:
        print(one_line(text))
    return 0


def _when(ts: float, zoned: bool = False) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S" + (" %Z" if zoned else ""), time.localtime(ts))


def _decide_now(args: argparse.Namespace) -> tuple[str | None, float | None]:
    """``decide.mode`` and ``decide.budget.daily`` in jobs.json now; (None, None) when it cannot be read (the
    report stands on the log alone)."""
    from jobdeck.state.deck import find_deck
    from jobdeck.state.loader import load_spec

    try:
        decide = load_spec(find_deck(getattr(args, "deck", None)).spec_path).spec.decide
    except JobdeckError:
        return None, None
    return decide.mode, decide.budget.daily


def _print_off(found: Report) -> None:
    """The head of a report over a window where the service decided nothing: there is nothing to compare."""
    print("the decision service was off over this window: it decided nothing, so there is nothing to compare")
    if found.mode_now in (None, "off"):
        print('  to measure it without changing the order, turn on shadow mode: "decide": {"mode": "shadow"} '
              "in jobs.json (docs/decisions.md)")
    else:
        print(f"  it is in {found.mode_now} mode now: the claims to come are compared")
    deferrals = found.decisions  # off mode records only these
    if deferrals:
        print(f"  ({deferrals} {'deferral' if deferrals == 1 else 'deferrals'} for a closed window, which holds in "
              f"every mode: `jobdeck decisions` lists {'it' if deferrals == 1 else 'them'})")
    print(f"claims: {found.claims}")


def _share(part: int, found: Report, named: bool = False) -> str:
    """`` (64%)`` of the claims the service advised on (shadow, advise); ``named``: saying which when some claims
    were made while it was off or in live mode."""
    advised = found.compared - found.compared_live
    if not advised:
        return ""
    made = ""
    if named and advised < found.claims:
        made = f" of the {advised} made " + ("in shadow or advise mode" if found.compared_live else "while it was on")
    return f" ({part / advised:.0%}{made})"


def _print_changed(found: Report, data: dict[str, Any]) -> None:
    """The claims live mode would have changed, each kind with its count and first examples."""
    if found.compared and found.compared_live == found.compared:
        made = f" (the {found.compared} made while it was on)" if found.compared < found.claims else ""
        print(f"claims: {found.claims}; in live mode: each{made} started as the service ranked it")
        return
    print(f"claims: {found.claims}; live would have changed {found.changed}{_share(found.changed, found, named=True)}")
    if not found.changed:
        return
    print(f"  started another job first: {found.differed}{_share(found.differed, found)}")
    for example in data["examples"]:
        print(f"    {_when(example['ts'])} ran {example['claimed']}, advised {', '.join(example['advised']) or '-'}"
              + (f": {one_line(example['reasons'][0])}" if example["reasons"] else ""))
    by_action: dict[str, list[str]] = {}
    for (action, needs), n in found.kept_back_for.most_common():
        by_action.setdefault(action, []).append(f"{needs} {n}")
    needs = "; ".join(f"{'held' if action == 'hold' else 'deferred'} for {', '.join(counts)}"
                      for action, counts in by_action.items())
    print(f"  not started the job then: {found.kept_back}{_share(found.kept_back, found)}"
          + (f": {needs}" if needs else ""))
    for example in data["kept_back_examples"]:
        verb = "held" if example["action"] == "hold" else "deferred"
        print(f"    {_when(example['ts'])} ran {example['claimed']}, would have {verb} it"
              + (f": {one_line(example['reasons'][0])}" if example["reasons"] else ""))


def _print_budget(budget: dict[str, Any]) -> None:
    """Each UTC day's spend against ``decide.budget.daily``, and what was or would have been held for it."""
    daily, days = budget["daily"], budget["days"]
    if daily is None:
        print("budget: no daily budget set (decide.budget.daily) to set the spend against")
        return
    print(f"budget: {money(daily)} a day (decide.budget.daily), by UTC day:" if days else
          f"budget: {money(daily)} a day (decide.budget.daily); nothing spent nor held for it")
    shown = days if len(days) <= DAYS_SHOWN else [day for day in days if day["over"] or day["held"]
                                                  or day["would_have_held"]]
    for day in shown:
        spent = day["spent"]
        line = (f"spent {money(spent)}, over it by {money(day['over'])} (+{day['over'] / daily:.0%})" if day["over"]
                else f"spent {money(spent)} ({spent / daily:.0%} of it)")
        held = []
        if day["would_have_held"]:
            n = day["would_have_held"]
            held.append(f"live would have held {n} {'claim' if n == 1 else 'claims'} for it")
        if day["held"]:
            n = day["held"]
            held.append(f"it held {n} {'job' if n == 1 else 'jobs'} for it (live)")
        print(f"  {day['day']}: {line}; " + ("; ".join(held) or "no job held for it"))
    if len(shown) < len(days):
        rest = len(days) - len(shown)
        print(f"  {'and ' if shown else 'all '}{rest} {'day' if rest == 1 else 'days'} within it, none held for it "
              f"(--json lists each)")


def cmd_decisions(args: argparse.Namespace, records: Iterable[dict[str, Any]]) -> int:
    from jobdeck.decide.report import report

    since = time.time() - args.since if args.since else None
    if args.report:
        mode_now, daily_budget = _decide_now(args)
        found = report(records, since, mode_now=mode_now, daily_budget=daily_budget)
        if args.json:
            sys.stdout.write(json.dumps(found.to_json(), indent=2) + "\n")
            return 0
        data = found.to_json()
        if found.service_off:
            _print_off(found)
        else:
            modes = ", ".join(f"{mode} {n}" for mode, n in sorted(found.by_mode.items())) or "none"
            print(f"decisions: {found.decisions} ({modes}); policies {', '.join(data['policies']) or '-'}")
            actions = ", ".join(f"{a} {n}" for a, n in sorted(found.by_action.items())) or "-"
            held = ", ".join(f"{needs} {n}" for needs, n in found.held_for.most_common())
            print(f"  actions: {actions}" + (f"; held for {held}" if held else ""))
            _print_changed(found, data)
        waits = [data["wait_p50"], data["wait_p95"], data["wait_max"]]
        if waits[0] is not None:
            print(f"waits: p50 {dur(waits[0])}, p95 {dur(waits[1])}, max {dur(waits[2])}")
        if found.service_off and not found.deadline_jobs:
            print("deadlines: not judged (the service's decisions name them)")
        else:
            print(f"deadlines: {found.deadline_misses} missed of {found.deadline_jobs}")
        for miss in data["missed"][:10]:
            done = f"done {_when(miss['done'])}" if miss["done"] is not None else "not done by then"
            print(f"  {miss['job']}: due {_when(miss['deadline'], zoned=True)}, {done}")
        print(f"outcomes: {found.succeeded} succeeded, {found.failed} failed for good; cost {money(found.cost)}")
        _print_budget(data["budget"])
        return 0
    decided = [r for r in records if r.get("type") == "decided" and (since is None or r.get("ts", 0) >= since)]
    if args.id:
        decided = [r for r in decided if r.get("job") == args.id]
    if args.limit:
        decided = decided[-args.limit:]
    for record in decided:
        if args.json:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            continue
        extra = f" (needs {record['needs']})" if record.get("needs") else ""
        if record.get("followed") is False:
            advised = record.get("advised", [])[:3]
            extra += f"; advised {', '.join(advised)}" if advised else "; it would have started nothing then"
        print(f"{_when(record['ts'])} {record.get('mode', '?'):6} {record['job']}: {record.get('action')}{extra}")
        for reason in record.get("reasons", [])[:3]:
            print(f"    {one_line(str(reason))}")
    if not decided and not args.json:
        print("no decisions recorded (decide.mode is off, or nothing was ready since)", file=sys.stderr)
    return 0
