"""`jobdeck stats` against a runner that stays up while jobs are added and resumed, and operators' records
counted in their jobs' workspaces: real processes, real files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.functional.runner_kit import events, jobdeck, make_deck, start_runner, status, wait_for

GAP = 4.0
"""Seconds between the runner's first claim and the job added or resumed after it: what a wait measured from
that first claim would wrongly add."""


def stats_of(deck: Path, *args: str) -> dict[str, Any]:
    return json.loads(jobdeck(deck, "stats", "--json", *args, check=True).stdout)


def claim_of(deck: Path, job: str) -> dict[str, Any]:
    [claim] = [e for e in events(deck) if e["type"] == "claimed" and e["job"] == job]
    return claim


def let_time_pass(seconds: float) -> None:
    """What is measured is time: let some pass (nothing is waited for; no race hangs on it)."""
    time.sleep(seconds)


def test_a_job_added_or_resumed_while_the_runner_is_up_waits_from_then(tmp_path: Path) -> None:
    """The runner's first claim was GAP seconds before; the waits used to count from there (25 s for a job
    claimed under a second after `jobdeck add`)."""
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]},
                                {"id": "p", "command": ["true"], "paused": True}])
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "a") == "done", what="a to run")
        let_time_pass(GAP)
        added_at = time.time()
        jobdeck(deck, "add", "--id", "x", "--", "true", check=True)
        wait_for(lambda: status(deck, "x") == "done", what="x to run")
        let_time_pass(GAP)
        resumed_at = time.time()
        jobdeck(deck, "resume", "p", check=True)
        wait_for(lambda: status(deck, "p") == "done", what="p to run after its resume")
    finally:
        runner.terminate()
        runner.wait(timeout=30)
    first = claim_of(deck, "a")["ts"]
    x, p = claim_of(deck, "x"), claim_of(deck, "p")
    assert added_at <= x["ready"] < x["ts"] + 0.5  # when the runner first saw it in jobs.json (as it claimed it)
    assert "ready" not in claim_of(deck, "a")  # in jobs.json when the runner started: from its first claim, as before
    assert x["ts"] - first >= GAP
    rows = {row["id"]: row for row in stats_of(deck, "x", "p")["jobs"]}
    for job, since in (("x", added_at), ("p", resumed_at)):
        waited = claim_of(deck, job)["ts"] - since  # at most: the runner saw the change after `since`
        assert waited < 3.0, (job, waited)
        for quantile in ("wait_p50", "wait_p95"):
            assert rows[job][quantile] <= waited * 1.1 + 0.01, (job, quantile, rows[job][quantile], waited)
        assert rows[job]["wait_p50"] == rows[job]["wait_p95"]  # one wait: one value, whatever the quantile
    report = json.loads(jobdeck(deck, "decisions", "--report", "--json", check=True).stdout)
    assert report["claims"] == 3 and report["wait_max"] < 3.0, report  # the same rule, exact


def test_every_operator_record_counts_in_its_jobs_workspace(tmp_path: Path) -> None:
    """Approving a high-risk job before its run, a pin, a rejection, and a retry or a cancel of a job that never
    ran: none names a workspace, and only a claim used to tell the fold one."""
    deck = make_deck(tmp_path, [
        {"id": "publish", "command": ["true"], "risk": "high", "workspace": "w1"},
        {"id": "drop", "command": ["true"], "workspace": "w1"},
        {"id": "risky", "command": ["true"], "risk": "high", "workspace": "w2"},
        {"id": "first", "command": ["true"], "workspace": "w2"},
    ])
    for action in (("approve", "publish"), ("cancel", "drop"), ("reject", "risky"), ("retry", "risky"),
                   ("pin", "first")):
        jobdeck(deck, *action, check=True)
    jobdeck(deck, "run", "--once", "--quiet", check=True)
    assert (status(deck, "publish"), status(deck, "first"), status(deck, "risky")) == ("done", "done", "backlog")
    for args in ((), ("--since", "1h")):
        for _ in range(2):  # folded, then from the cache
            report = stats_of(deck, *args)
            workspaces = {row["workspace"]: row["interventions"] for row in report["workspaces"]}
            assert workspaces == {"w1": {"approved": 1, "cancelled": 1},
                                  "w2": {"pinned": 1, "rejected": 1, "retried": 1}}, (args, workspaces)
            summed: dict[str, int] = {}
            for counts in workspaces.values():
                for kind, count in counts.items():
                    summed[kind] = summed.get(kind, 0) + count
            assert summed == report["deck"]["interventions"]


def test_in_a_one_workspace_deck_the_workspace_counts_what_the_deck_counts(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "publish", "command": ["true"], "risk": "high"},
                                {"id": "risky", "command": ["true"], "risk": "high"},
                                {"id": "first", "command": ["true"]}])
    for action in (("approve", "publish"), ("reject", "risky"), ("retry", "risky"), ("pin", "first")):
        jobdeck(deck, *action, check=True)
    jobdeck(deck, "run", "--once", "--quiet", check=True)
    report = stats_of(deck)
    [workspace] = report["workspaces"]
    assert workspace["interventions"] == report["deck"]["interventions"] \
        == {"approved": 1, "pinned": 1, "rejected": 1, "retried": 1}
