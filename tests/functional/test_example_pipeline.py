"""The nightly enrichment example end to end: `jobdeck demo --headless`, approval, the inbox.

Everything runs as a user would run it: the CLI and the runner as real
processes on a deck copied from examples/nightly-enrichment/, offline (the LLM
jobs answer from their mock_response). The expectations are written out here,
not imported from cli.demo, so a wrong expectation there cannot hide a wrong
end state.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.functional.runner_kit import board, env_for, events, jobdeck, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nightly-enrichment"

END_STATE = {
    "load-leads": "done", "clean-leads": "done", "firmographics": "done", "company-research": "done",
    "lead-scoring": "done", "hot-leads": "done", "merge-enrichment": "done",
    "news-signals": "review", "outreach-drafts": "review",
    "account-brief": "backlog", "queue-outreach": "backlog", "crm-writeback": "backlog", "nightly-report": "backlog",
}
NIGHTLY_LEADS = ["L001", "L002", "L003", "L004", "L005", "L006"]
LATE_LEADS = ["L009", "L010"]


def columns(deck: Path) -> dict[str, str]:
    states = board(deck)
    return {job: (states[job].status.value if job in states else "backlog") for job in END_STATE}


def cards(deck: Path) -> dict[str, dict[str, Any]]:
    return {card["id"]: card for card in json.loads(jobdeck(deck, "ls", "--json", check=True).stdout)}


def latest_output(deck: Path, job: str) -> Any:
    state = board(deck)[job]
    attempt = state.attempts[-1]
    text = (deck / "workspaces" / attempt.workspace / "runs" / job / str(attempt.n) / "output").read_text()
    return json.loads(text)


def crm_file(deck: Path) -> Path:
    return deck / "data" / "crm.json"


def test_headless_demo_ends_as_designed_and_one_approval_writes_the_crm_once(tmp_path: Path) -> None:
    deck = tmp_path / "demo"
    demo = subprocess.run([sys.executable, "-m", "cli.main", "demo", str(deck), "--headless"],
                          cwd=tmp_path, env=env_for(deck), capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "end state as expected" in demo.stdout
    for job, column in END_STATE.items():
        assert any(line.split()[:1] == [job] and column in line.split() for line in demo.stdout.splitlines()), job

    assert columns(deck) == END_STATE
    states = board(deck)
    # the invalid model answer waits in review with its reason, and is not passed on
    assert states["news-signals"].reason == "invalid output"
    assert any("'very high' is not one of" in reason for reason in states["news-signals"].reasons)
    shown = cards(deck)
    assert "blocked by news-signals (review)" in shown["account-brief"]["flags"]
    assert states["outreach-drafts"].reason == "review required (risk medium)"
    # the rate-limited step: exit 75, then a second attempt after the backoff
    first, second = states["firmographics"].attempts
    assert (first.outcome, first.exit_code, second.outcome) == ("failed", 75, "succeeded")
    assert second.started - first.ended >= 1.0
    # research and scoring ran side by side
    kinds = [(e["type"], e.get("job")) for e in events(deck)]
    first_end = min(i for i, k in enumerate(kinds)
                    if k[0] in ("succeeded", "failed") and k[1] in ("lead-scoring", "company-research"))
    assert kinds.index(("claimed", "lead-scoring")) < first_end
    assert kinds.index(("claimed", "company-research")) < first_end
    # the CRM write-back has not run: it waits for approval
    assert "awaiting approval" in shown["crm-writeback"]["flags"]
    assert "crm-writeback" not in states or not states["crm-writeback"].attempts
    shipped = (EXAMPLE / "data" / "crm.json").read_bytes()
    assert crm_file(deck).read_bytes() == shipped

    jobdeck(deck, "approve", "crm-writeback", check=True)
    jobdeck(deck, "run", "--once", check=True)
    assert columns(deck)["crm-writeback"] == columns(deck)["nightly-report"] == "done"
    written = crm_file(deck).read_bytes()
    assert written != shipped
    crm = json.loads(written)
    assert sorted(crm["contacts"]) == NIGHTLY_LEADS
    assert [(c["lead_id"], c["action"]) for c in crm["changes"]] == [
        ("L001", "created"), ("L002", "updated"), ("L003", "created"),
        ("L004", "updated"), ("L005", "created"), ("L006", "created")]
    assert crm["contacts"]["L002"]["stage"] == "contacted" and crm["contacts"]["L002"]["owner"] == "m.silva"
    assert crm["contacts"]["L001"]["enrichment"]["tier"] == "A"
    stamp = crm_file(deck).stat().st_mtime_ns

    # running again does not run the write-back again
    jobdeck(deck, "run", "--once", check=True)
    assert len(board(deck)["crm-writeback"].attempts) == 1
    assert crm_file(deck).read_bytes() == written

    # even a deliberate re-run (retry, approve again) leaves the CRM file untouched: idempotent by lead id
    jobdeck(deck, "retry", "crm-writeback", check=True)
    jobdeck(deck, "approve", "crm-writeback", check=True)
    jobdeck(deck, "run", "--once", check=True)
    assert len(board(deck)["crm-writeback"].attempts) == 2
    assert latest_output(deck, "crm-writeback") == {
        "crm": "../../data/crm.json", "created": [], "updated": [], "unchanged": NIGHTLY_LEADS}
    assert crm_file(deck).read_bytes() == written
    assert crm_file(deck).stat().st_mtime_ns == stamp


def test_a_csv_dropped_in_the_inbox_enriches_only_its_leads(tmp_path: Path) -> None:
    from cli.demo import create_demo_deck

    deck = create_demo_deck(tmp_path / "deck").root
    log = tmp_path / "runner.log"
    with open(log, "wb") as sink:
        runner = subprocess.Popen([sys.executable, "-m", "cli.main", "run"], cwd=deck, env=env_for(deck),
                                  stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: any((deck / ".jobdeck" / "runners").glob("*.json")), what="the runner's heartbeat")
        # written elsewhere, then renamed in: the runner never sees a half-written file
        staged = deck / "workspaces" / "crm" / ".late-leads.csv"
        shutil.copy(EXAMPLE / "samples" / "late-leads.csv", staged)
        os.rename(staged, deck / "workspaces" / "crm" / "inbox" / "late-leads.csv")
        wait_for(lambda: columns(deck) == END_STATE and not _running(deck), timeout=120,
                 what=f"the inbox cycle to settle (runner log: {log})")
        trigger = next(e for e in events(deck) if e["type"] == "triggered" and e["job"] == "load-leads")
        assert trigger["source"] == "inbox" and trigger["inputs"]["input"].endswith("inbox/late-leads.csv")

        merged = latest_output(deck, "merge-enrichment")
        assert [lead["lead_id"] for lead in merged["leads"]] == LATE_LEADS
        assert merged["ignored"]["lead-scoring"] == NIGHTLY_LEADS  # the model's other answers are dropped
        assert [lead["lead_id"] for lead in latest_output(deck, "hot-leads")["hot"]] == ["L009"]

        jobdeck(deck, "approve", "crm-writeback", check=True)
        wait_for(lambda: columns(deck)["nightly-report"] == "done", timeout=60, what="the approved write-back")
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=60)
    crm = json.loads(crm_file(deck).read_text())
    assert sorted(crm["contacts"]) == ["L002", "L004", *LATE_LEADS]
    assert [(c["lead_id"], c["action"]) for c in crm["changes"]] == [("L009", "created"), ("L010", "created")]
    assert crm["contacts"]["L002"]["enrichment"] is None  # not in this batch: untouched


def _running(deck: Path) -> bool:
    return any(state.status.value == "running" for state in board(deck).values())


def test_interactive_demo_runs_a_runner_for_the_cockpit_and_stops_it_on_quit(
        tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    """`jobdeck demo` without --headless, the cockpit replaced by an operator who approves and quits."""
    import cli.demo
    import cockpit.app

    started: list[subprocess.Popen[bytes]] = []
    real_start = cli.demo.start_runner

    def start_and_keep(deck: Any, pace: str | None) -> subprocess.Popen[bytes]:
        started.append(real_start(deck, pace))
        return started[-1]

    def operator(deck: Any) -> int:
        root = deck.root
        assert started and started[0].poll() is None, "the cockpit opens with the runner already up"
        wait_for(lambda: columns(root) == END_STATE and not _running(root), timeout=120,
                 what="the fired pipeline to reach review and approval")
        jobdeck(root, "approve", "crm-writeback", check=True)  # what `a` in the review queue appends
        wait_for(lambda: columns(root)["nightly-report"] == "done", timeout=60, what="the approved write-back")
        return 0

    monkeypatch.setenv("JOBDECK_DEMO_PACE", "0.01")
    monkeypatch.setattr(cli.demo, "start_runner", start_and_keep)
    monkeypatch.setattr(cockpit.app, "run_cockpit", operator)
    deck = tmp_path / "demo"
    assert cli.demo.run_demo(deck) == 0
    runner = started[0]
    assert runner.returncode == 0  # stopped by SIGTERM when the cockpit quit, cleanly
    assert not list((deck / ".jobdeck" / "runners").glob("*.json"))  # its heartbeat is gone with it
    assert sorted(json.loads(crm_file(deck).read_text())["contacts"]) == NIGHTLY_LEADS
    assert "crm-writeback done" in (deck / "logs" / "runner.log").read_text()
    assert f"jobdeck --deck {deck} cockpit" in capsys.readouterr().out


def test_demo_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    done = subprocess.run([sys.executable, "-m", "cli.main", "demo", str(target), "--headless"],
                          cwd=tmp_path, env=env_for(target), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "already exists and is not empty" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
