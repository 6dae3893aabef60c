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
#: After a second cycle (the inbox): news-signals' next offline answer is valid, so the brief runs too.
INBOX_END_STATE = {**END_STATE, "news-signals": "done", "account-brief": "done"}
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
    demo = subprocess.run([sys.executable, "-m", "jobdeck", "demo", str(deck), "--headless"],
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
    # the notify hook was told once of each thing waiting for a person
    alerts = [line.split("  ", 1)[1] for line in (deck / "alerts.log").read_text().splitlines()
              if not line.startswith(" ")]
    # nightly-report's 06:00 (Paris) deadline is at risk only when the demo runs shortly before it: its alert
    # comes with the at_risk decision that says so, whatever the time of day the test runs at
    at_risk = [e["job"] for e in events(deck) if e["type"] == "decided" and e.get("action") == "at_risk"]
    assert sorted(a for a in alerts if a.startswith("jobdeck needs you: deadline ")) == \
        [f"jobdeck needs you: deadline {job}" for job in sorted(at_risk)]
    assert sorted(a for a in alerts if not a.startswith("jobdeck needs you: deadline ")) == [
        "jobdeck needs you: approval crm-writeback", "jobdeck needs you: review news-signals",
        "jobdeck needs you: review outreach-drafts"]
    assert any(line.endswith("jobdeck needs you: approval crm-writeback") for line in demo.stdout.splitlines())

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
    assert (deck / "alerts.log").read_text().count("approval crm-writeback") == 1  # approved each time it waited


def test_interactive_demo_approve_then_inbox_csv_enriches_only_its_leads(
        tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    """`jobdeck demo` as a newcomer uses it, the cockpit replaced by an operator in another shell.

    The operator approves the write-back, drops the sample CSV into the inbox,
    approves the new cycle's write-back and quits; the demo's runner does the rest.
    """
    from jobdeck.cli import demo
    from jobdeck.cockpit import app as cockpit_app

    started: list[subprocess.Popen[bytes]] = []
    real_start = demo.start_runner

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
        nightly = json.loads(crm_file(root).read_text())["contacts"]
        assert sorted(nightly) == NIGHTLY_LEADS

        # written elsewhere, then renamed in: the runner never sees a half-written file
        staged = root / "workspaces" / "crm" / ".late-leads.csv"
        shutil.copy(EXAMPLE / "samples" / "late-leads.csv", staged)
        os.rename(staged, root / "workspaces" / "crm" / "inbox" / "late-leads.csv")
        wait_for(lambda: board(root)["load-leads"].cycle == 2 and columns(root) == INBOX_END_STATE
                 and not _running(root), timeout=120, what="the inbox cycle to settle")
        trigger = [e for e in events(root) if e["type"] == "triggered" and e["job"] == "load-leads"][-1]
        assert trigger["source"] == "inbox" and trigger["inputs"]["input"].endswith("inbox/late-leads.csv")
        merged = latest_output(root, "merge-enrichment")
        assert [lead["lead_id"] for lead in merged["leads"]] == LATE_LEADS
        assert merged["ignored"]["lead-scoring"] == NIGHTLY_LEADS  # the model's other answers are dropped
        assert [lead["lead_id"] for lead in latest_output(root, "hot-leads")["hot"]] == ["L009"]

        jobdeck(root, "approve", "crm-writeback", check=True)  # every cycle needs its own approval
        wait_for(lambda: board(root)["nightly-report"].cycle == 2 and columns(root)["nightly-report"] == "done",
                 timeout=60, what="the second approved write-back")
        crm = json.loads(crm_file(root).read_text())
        assert sorted(crm["contacts"]) == NIGHTLY_LEADS + LATE_LEADS
        assert [(c["lead_id"], c["action"]) for c in crm["changes"][6:]] == [("L009", "created"), ("L010", "created")]
        assert {lead: crm["contacts"][lead] for lead in NIGHTLY_LEADS} == nightly  # not in this batch: untouched
        return 0

    monkeypatch.setenv("JOBDECK_DEMO_PACE", "0.01")
    monkeypatch.setattr(demo, "start_runner", start_and_keep)
    monkeypatch.setattr(cockpit_app, "run_cockpit", operator)
    monkeypatch.setattr("jobdeck.cockpit.tty.need_terminal", lambda hint: None)  # (pytest's stdin is none)
    deck = tmp_path / "demo"
    assert demo.run_demo(deck) == 0
    runner = started[0]
    assert runner.returncode == 0  # stopped by SIGTERM when the cockpit quit, cleanly
    assert not list((deck / ".jobdeck" / "runners").glob("*.json"))  # its heartbeat went with it
    assert "crm-writeback done" in (deck / "logs" / "runner.log").read_text()
    assert f"jobdeck --deck {deck} cockpit" in capsys.readouterr().out


def _running(deck: Path) -> bool:
    return any(state.status.value == "running" for state in board(deck).values())


def test_demo_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    done = subprocess.run([sys.executable, "-m", "jobdeck", "demo", str(target), "--headless"],
                          cwd=tmp_path, env=env_for(target), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "already exists and is not empty" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_the_quick_start_works_twice_in_a_row_and_its_hint_runs_as_printed(tmp_path: Path) -> None:
    """`jobdeck demo --headless` then `jobdeck demo` again: a second deck, not "already exists"; the
    printed next step is a command that works from here, whether or not `jobdeck` is on $PATH."""
    env = {k: v for k, v in os.environ.items() if k != "JOBDECK_DECK"}
    env["PATH"] = "/usr/bin:/bin"  # a fresh shell after the quick start: the venv is not activated
    first = subprocess.run([sys.executable, "-m", "jobdeck", "demo", "--headless"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    hint = first.stdout.splitlines()[-1].strip()
    assert "--deck demo-deck approve crm-writeback &&" in hint and not hint.startswith("jobdeck ")
    done = subprocess.run(hint, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr  # approved, and the run that follows ends with every job done
    second = subprocess.run([sys.executable, "-m", "jobdeck", "demo", "--headless"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0] == "demo-deck is taken (an earlier demo): making demo-deck-2"
    assert (tmp_path / "demo-deck-2" / "jobs.json").is_file()
