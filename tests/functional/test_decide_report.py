"""`jobdeck decisions --report`: what live mode would have changed, spend against the daily budget, waits as
`stats` measures them; over a window where the decision service was off, it says so and compares nothing.

Real decks, a real `jobdeck run --once` in a subprocess (history seeded through ``Store.commit`` with past
timestamps), the report read back from the CLI. Last, the deadline a job's cycle is held to, as `status --check` and
the runner tell it, and how the report and `stats` judge it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import RunCli
from jobdeck.state.board import Store, open_store
from jobdeck.state.deck import Deck, init_deck
from test_decide_runner import decided, make_deck

OFF_LINE = "the decision service was off over this window: it decided nothing, so there is nothing to compare"


def spec_bytes(decide: dict[str, Any] | None) -> bytes:
    hour = time.gmtime(time.time() + 3 * 3600).tm_hour  # a window that is closed now
    jobs = [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"], "priority": 2},
            {"id": "night", "command": ["true"], "window": f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"}]
    return json.dumps({**({"decide": decide} if decide is not None else {}), "jobs": jobs}, indent=1).encode()


def run_once(cli: RunCli, deck: Deck) -> None:
    done = cli("run", "--once", "--quiet", cwd=deck.root, timeout=60)
    assert done.returncode == 0, done.stderr


def report(cli: RunCli, deck: Deck) -> tuple[str, dict[str, Any]]:
    text = cli("decisions", "--report", cwd=deck.root)
    data = cli("decisions", "--report", "--json", cwd=deck.root)
    assert text.returncode == data.returncode == 0, text.stderr + data.stderr
    return text.stdout, json.loads(data.stdout)


def test_with_the_service_off_the_report_says_so_and_points_at_shadow_mode(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes(None))  # no decide section: off
    run_once(cli, deck)
    text, data = report(cli, deck)
    lines = text.splitlines()
    assert lines[0] == OFF_LINE
    assert lines[1].startswith('  to measure it without changing the order, turn on shadow mode: "decide": '
                               '{"mode": "shadow"}')
    assert lines[2] == "  (1 deferral for a closed window, which holds in every mode: `jobdeck decisions` lists it)"
    assert lines[3] == "claims: 2"  # what was measured still is: claims, waits, outcomes
    assert "(0%)" not in text and "would have started another job" not in text
    assert "deadlines: not judged" in text and "outcomes: 2 succeeded" in text
    assert data["service_off"] is True and data["claims"] == 2 and data["by_mode"] == {"off": 1}


def test_a_service_turned_on_since_says_its_window_was_off_and_what_comes_next(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes({"mode": "off"}))
    run_once(cli, deck)
    deck.spec_path.write_bytes(spec_bytes({"mode": "shadow"}))  # turned on after those claims
    text, data = report(cli, deck)
    assert text.splitlines()[:2] == [OFF_LINE, "  it is in shadow mode now: the claims to come are compared"]
    assert data["service_off"] is True


def test_decisions_from_an_earlier_mode_are_reported_as_they_were_made(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes({"mode": "shadow"}))
    run_once(cli, deck)
    deck.spec_path.write_bytes(spec_bytes({"mode": "off"}))  # turned off since
    text, data = report(cli, deck)
    assert text.startswith("decisions: 3 (shadow 3); policies ")
    assert "claims: 2; live would have changed 0 (0%)\n" in text and "started another job first" not in text
    assert "budget: no daily budget set (decide.budget.daily)" in text and data["budget"]["daily"] is None
    assert OFF_LINE not in text and data["service_off"] is False


def test_a_service_that_is_on_with_nothing_claimed_yet_is_not_called_off(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes({"mode": "shadow"}))
    text, data = report(cli, deck)
    assert OFF_LINE not in text and data["service_off"] is False and data["claims"] == 0


def test_the_share_it_would_have_differed_counts_only_claims_made_while_it_was_on(tmp_path: Path,
                                                                                   cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes({"mode": "off"}))
    run_once(cli, deck)  # a and b claimed with the service off: nothing to compare them with
    deck.spec_path.write_bytes(spec_bytes({"mode": "shadow"}))
    assert cli("retry", "a", "b", cwd=deck.root).returncode == 0
    run_once(cli, deck)  # a and b again, each with the shadow's verdict
    text, data = report(cli, deck)
    assert (data["claims"], data["compared"]) == (4, 2)
    assert "claims: 4; live would have changed 0 (0% of the 2 made while it was on)" in text


# -- a shadow deck: what live would have changed, and the budget ----------------------------------------

LLM = {"model": "openai/gpt-4o-mini", "prompt": "summarise the day", "mock_response": "ok"}


def attempt(store: Store, job: str, start: float, seconds: float, cost: float | None = None,
            ready: float | None = None) -> None:
    """One past attempt of ``job`` (claimed at ``start``, ``ready`` since then if given), left done."""
    if store.board.state(job).status != "backlog":
        store.commit([{"type": "retried", "job": job, "by": "past"}], now=start)
    claim = {"type": "claimed", "job": job, "attempt": store.board.state(job).next_attempt, "runner": "past",
             **({"ready": ready} if ready is not None else {})}
    store.commit([claim], now=start)
    ended: dict[str, Any] = {"type": "succeeded", "job": job, "token": store.board.state(job).token,
                             **({"cost": cost} if cost is not None else {})}
    store.commit([ended], now=start + seconds)


def shadow_deck(root: Path) -> Deck:
    """A day's work in shadow: ad hoc jobs at priority 5 before a path to a report due in 25 minutes; two
    llm jobs at priority 3 when today's spend ($0.08, three calls moments ago) is past the $0.06 budget;
    two drafts for review with room for one; housekeeping last."""
    due = time.strftime("%H:%M", time.gmtime(time.time() + 25 * 60))
    jobs = [{"id": "adhoc-1", "command": ["true"], "priority": 5},
            {"id": "adhoc-2", "command": ["true"], "priority": 5},
            {"id": "fetch", "command": ["true"]},
            {"id": "enrich", "command": ["true"], "depends_on": ["fetch"]},
            {"id": "report", "command": ["true"], "depends_on": ["enrich"], "deadline": due},
            {"id": "summarise", **LLM, "priority": 3},
            {"id": "digest", **LLM, "priority": 3},
            {"id": "draft-1", "command": ["true"], "review": "always", "priority": 1},
            {"id": "draft-2", "command": ["true"], "review": "always", "priority": 1},
            {"id": "tidy", "command": ["true"], "priority": -1}]
    decide = {"mode": "shadow", "budget": {"daily": 0.06}, "default_cost": 0.02, "review_capacity": 1,
              "horizon": "1h"}
    deck = init_deck(root, json.dumps({"decide": decide, "jobs": jobs}, indent=1).encode())
    now = time.time()
    with open_store(deck) as store:
        for job in ("fetch", "enrich", "report"):  # yesterday, 7 minutes each: the path needs ~21 of its 25
            for _ in range(3):
                attempt(store, job, now - 86400 - 420, 420)
        for n, cost in enumerate((0.03, 0.025, 0.025)):  # moments ago (today, UTC): $0.08
            attempt(store, "summarise", now - 20 + 2 * n, 1, cost)
        for job in ("fetch", "enrich", "report", "summarise"):
            store.commit([{"type": "retried", "job": job, "by": "past"}])
    return deck


def test_the_report_counts_every_claim_live_would_have_changed_and_shows_each_kind(tmp_path: Path,
                                                                                  cli: RunCli) -> None:
    deck = shadow_deck(tmp_path / "d")
    done = cli("run", "--once", "--parallel", "1", "--quiet", cwd=deck.root, timeout=60)
    assert done.returncode == 1, done.stderr  # the drafts wait for review: not done
    text, data = report(cli, deck)
    # 10 claims with a verdict: 3 would have waited for fetch (the report's path), 3 would not have started then
    assert (data["compared"], data["changed"], data["differed"], data["kept_back"]) == (10, 6, 3, 3)
    assert data["kept_back_for"] == {"budget": 2, "reviews": 1}
    lines = text.splitlines()
    head = lines.index("claims: 22; live would have changed 6 (60% of the 10 made while it was on)")
    assert lines[head + 1] == "  started another job first: 3 (30%)"
    assert [line.split(" ran ")[1].split(",")[0] for line in lines[head + 2:head + 5]] == \
        ["adhoc-1", "adhoc-2", "draft-1"]
    assert lines[head + 5] == "  not started the job then: 3 (30%): held for budget 2, reviews 1"
    kept = lines[head + 6:head + 9]
    assert [line.split(" ran ")[1].split(",")[0] for line in kept] == ["summarise", "digest", "draft-2"]
    assert kept[0].endswith(", would have held it: budget: $0.08 spent today + $0.00 running or starting first"
                            " + up to $0.03 for this job > $0.06 a day")
    assert kept[2].endswith(", would have held it: review queue 1 of capacity 1, and its output goes to review")
    assert [(e["claimed"], e["action"], e["needs"]) for e in data["kept_back_examples"]] == \
        [("summarise", "hold", "budget"), ("digest", "hold", "budget"), ("draft-2", "hold", "reviews")]
    assert [e["claimed"] for e in data["examples"]] == ["adhoc-1", "adhoc-2", "draft-1"]


def test_the_report_sets_each_utc_days_spend_against_the_daily_budget(tmp_path: Path, cli: RunCli) -> None:
    deck = shadow_deck(tmp_path / "d")
    done = cli("run", "--once", "--parallel", "1", "--quiet", cwd=deck.root, timeout=60)
    assert done.returncode == 1, done.stderr  # the drafts wait for review: not done
    held = [r for r in map(json.loads, deck.events_path.read_text().splitlines()) if r.get("needs") == "budget"]
    today = time.strftime("%Y-%m-%d", time.gmtime(held[0]["ts"]))
    text, data = report(cli, deck)
    assert data["budget"] == {"daily": 0.06, "days": [{"day": today, "spent": 0.08, "over": 0.02, "held": 0,
                                                       "would_have_held": 2}]}
    assert text.endswith("budget: $0.06 a day (decide.budget.daily), by UTC day:\n"
                         f"  {today}: spent $0.08, over it by $0.02 (+33%); live would have held 2 claims for it\n")
    # a window that starts within the day still sets the whole day's spend against the budget
    since = cli("decisions", "--report", "--json", "--since", "10s", cwd=deck.root)
    assert json.loads(since.stdout)["budget"]["days"] == data["budget"]["days"]


def test_the_reports_median_wait_is_the_one_stats_gives(tmp_path: Path, cli: RunCli) -> None:
    waits = [0, 0, 0, 0, 20, 33, 38, 78, 118, 118, 137, 147, 154, 214]  # an even sample: p50 is the 7th, 38s
    jobs = [{"id": f"w{n}", "command": ["true"]} for n in range(len(waits))]
    deck = init_deck(tmp_path / "d", json.dumps({"decide": {"mode": "shadow"}, "jobs": jobs}).encode())
    start = float(int(time.time()) - 3600)  # whole seconds: each wait exact
    with open_store(deck) as store:
        for n, wait in enumerate(waits):
            attempt(store, f"w{n}", start + 60 * n, 1, ready=start + 60 * n - wait)
    text, data = report(cli, deck)
    stats = json.loads(cli("stats", "--json", cwd=deck.root).stdout)["deck"]
    assert data["wait_p50"] == 38  # the exact wait (38s, not its neighbour 78s)
    assert stats["wait_p50"] == pytest.approx(38, rel=0.1)  # the middle of its histogram bucket: 39s
    assert data["wait_p95"] == 214 and stats["wait_p95"] == pytest.approx(214, rel=0.1)
    assert "waits: p50 38s, p95 3m34s, max 3m34s" in text


def test_an_attempt_that_called_no_model_is_no_claim_and_ends_no_wait(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", json.dumps({"decide": {"mode": "shadow"},
                                                 "jobs": [{"id": "a", "command": ["true"]}]}).encode())
    start = float(int(time.time()) - 3600)
    with open_store(deck) as store:  # claimed after 100 s, but every model was cooling: no try, retried at +400
        store.commit([{"type": "claimed", "job": "a", "attempt": 1, "runner": "past", "ready": start - 100}],
                     now=start)
        store.commit([{"type": "failed", "job": "a", "token": store.board.state("a").token, "reason": "not_called",
                       "retry_at": start + 400}], now=start + 1)
        attempt(store, "a", start + 410, 5, ready=start + 400)  # then it waited 10 s for a slot, and ran
    _, data = report(cli, deck)
    stats = json.loads(cli("stats", "--json", cwd=deck.root).stdout)["deck"]
    assert data["claims"] == 1 and data["wait_p50"] == data["wait_p95"] == 10
    assert stats["runs"] == 1 and stats["wait_p50"] == pytest.approx(10, rel=0.1)
    assert stats["wait_p95"] == pytest.approx(10, rel=0.1)  # the 100 s before a claim that started nothing: gone


def clock(moment: float) -> str:
    """``moment``'s time of day (UTC), as a ``deadline`` is written."""
    return time.strftime("%H:%M", time.gmtime(moment))


def problems(cli: RunCli, root: Path, kind: str) -> list[dict[str, Any]]:
    """The problems of ``kind`` `status --check` reports."""
    found = json.loads(cli("status", "--check", "--json", cwd=root).stdout)["problems"]
    return [problem for problem in found if problem["kind"] == kind]


def test_a_fire_skipped_while_the_cycle_runs_leaves_its_missed_deadline_missed(tmp_path: Path, cli: RunCli) -> None:
    now = time.time()
    due = (now - 20 * 60) // 60 * 60  # twenty minutes ago, on the minute
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "nightly", "schedule": "*/5 * * * *", "deadline": clock(due)}])
    with open_store(deck) as store:
        fire = due - 10 * 60
        store.commit([{"type": "triggered", "job": "nightly", "source": "cron", "root": "nightly", "by": "past",
                       "fire": fire}], now=fire)
        store.commit([{"type": "claimed", "job": "nightly", "attempt": 1, "runner": "past"}], now=fire + 1)
    assert [p["job"] for p in problems(cli, deck.root, "deadline_missed")] == ["nightly"]
    with open_store(deck) as store:  # the next fire, ten minutes after the deadline, is skipped: the job still runs
        skipped = due + 10 * 60
        store.commit([{"type": "progress", "job": "nightly", "what": "fire_skipped", "fire": skipped,
                       "reason": "previous cycle still running"}], now=skipped)
        state = store.board.state("nightly")
        assert (state.status, state.cycle, state.last_fire) == ("running", 1, skipped)
    # not done, and no new cycle began: still missed
    assert [p["job"] for p in problems(cli, deck.root, "deadline_missed")] == ["nightly"]


def test_a_rerun_of_a_job_that_met_its_deadline_is_not_told_it_missed_it(tmp_path: Path, cli: RunCli) -> None:
    now = time.time()
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "report", "deadline": clock(now - 3600),
                                                 "command": ["sleep", "3"]}])
    with open_store(deck) as store:  # today's deadline passed an hour ago; the job was done two hours before it
        store.commit([{"type": "listed", "jobs": ["report"]}], now=now - 3 * 3600)
        store.commit([{"type": "claimed", "job": "report", "attempt": 1, "runner": "past"}], now=now - 3 * 3600 + 60)
        token = store.board.state("report").token
        store.commit([{"type": "succeeded", "job": "report", "token": token}], now=now - 3 * 3600 + 120)
    report = json.loads(cli("decisions", "--report", "--json", cwd=deck.root).stdout)
    assert (report["deadline_jobs"], report["deadline_misses"]) == (0, 0)
    # the operator runs it again: `jobdeck retry` of a done job keeps its cycle, and the deadline it met
    assert cli("retry", "report", cwd=deck.root).returncode == 0
    assert problems(cli, deck.root, "deadline_missed") == []
    done = cli("run", "--once", "--quiet", cwd=deck.root)
    assert done.returncode == 0, done.stderr
    assert [d for d in decided(deck) if d["action"] in ("missed", "at_risk")] == []
    with open_store(deck) as store:
        assert store.board.state("report").status == "done" and len(store.board.state("report").attempts) == 2


def test_report_since_judges_the_deadlines_named_just_before_its_window(tmp_path: Path, cli: RunCli) -> None:
    now = time.time()
    hour = now // 3600 * 3600  # the window begins on the hour, so `stats --since` (whole hours) sees the same one
    if now - hour < 20 * 60:
        hour -= 3600
    ontime_due, late_due, early_due = hour + 15 * 60, hour + 5 * 60, hour + 12 * 60
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "ontime", "deadline": clock(ontime_due)},
                                               {"id": "late", "deadline": clock(late_due)},
                                               {"id": "early", "deadline": clock(early_due)}])
    with open_store(deck) as store:
        store.commit([{"type": "listed", "jobs": ["ontime", "late", "early"]}], now=hour - 3600)
        for job, due in (("ontime", ontime_due), ("late", late_due), ("early", early_due)):
            store.commit([{"type": "decided", "job": job, "mode": "shadow", "action": "start", "reasons": [],
                           "followed": True, "deadline": due},
                          {"type": "claimed", "job": job, "attempt": 1, "runner": "r"}], now=hour - 120)
        # early is done before the window, its deadline in it: met, before the window, so not the window's
        store.commit([{"type": "succeeded", "job": "early", "token": store.board.state("early").token}],
                     now=hour - 60)
        for job in ("ontime", "late"):  # both end ten minutes into the window: ontime 5 min early, late 5 min late
            store.commit([{"type": "succeeded", "job": job, "token": store.board.state(job).token}],
                         now=hour + 10 * 60)
    since = f"{int(now - hour)}s"
    report = json.loads(cli("decisions", "--report", "--since", since, "--json", cwd=deck.root).stdout)
    stats = json.loads(cli("stats", "--since", since, "--json", cwd=deck.root).stdout)
    assert (stats["deck"]["deadlines"]["met"], stats["deck"]["deadlines"]["missed"]) == (1, 1)
    assert (report["deadline_jobs"], report["deadline_misses"]) == (2, 1)
    assert report["missed"] == [{"job": "late", "deadline": late_due, "done": hour + 10 * 60}]


def test_a_recovered_success_is_judged_by_when_it_ended_not_when_it_was_recorded(tmp_path: Path,
                                                                                 cli: RunCli) -> None:
    now = time.time()
    due = (now - 10 * 60) // 60 * 60  # ten minutes ago, on the minute
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "report", "deadline": clock(due)}])
    with open_store(deck) as store:
        store.commit([{"type": "listed", "jobs": ["report"]}], now=due - 3600)
        store.commit([{"type": "decided", "job": "report", "mode": "shadow", "action": "start", "reasons": [],
                       "followed": True, "deadline": due},
                      {"type": "claimed", "job": "report", "attempt": 1, "runner": "dead"}], now=due - 20 * 60)
        token = store.board.state("report").token
        # it ended five minutes before its deadline; its runner was gone, so the next one recorded it now
        store.commit([{"type": "succeeded", "job": "report", "token": token, "ended": due - 5 * 60,
                       "recovered": True}], now=now)
        assert store.board.state("report").attempt.ended == due - 5 * 60
    report = json.loads(cli("decisions", "--report", "--json", cwd=deck.root).stdout)
    stats = json.loads(cli("stats", "--json", cwd=deck.root).stdout)
    assert (report["deadline_jobs"], report["deadline_misses"], report["missed"]) == (1, 0, [])
    assert (stats["deck"]["deadlines"]["met"], stats["deck"]["deadlines"]["missed"]) == (1, 0)


def test_stats_since_counts_a_missed_deadline_in_its_own_hour_not_the_next_records(tmp_path: Path,
                                                                                  cli: RunCli) -> None:
    now = time.time()
    due = (now - 8 * 3600) // 60 * 60  # eight hours ago
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "report", "deadline": clock(due)}, {"id": "other"}])
    with open_store(deck) as store:
        store.commit([{"type": "listed", "jobs": ["report", "other"]}], now=due - 3600)
        store.commit([{"type": "decided", "job": "report", "mode": "shadow", "action": "start", "reasons": [],
                       "followed": True, "deadline": due},
                      {"type": "claimed", "job": "report", "attempt": 1, "runner": "r"}], now=due - 600)
        # its runner died; nothing was written for eight hours, then the operator held another job
        store.commit([{"type": "held", "job": "other", "by": "op@box"}], now=now - 60)
    whole = json.loads(cli("stats", "--json", cwd=deck.root).stdout)
    last_hour = json.loads(cli("stats", "--since", "1h", "--json", cwd=deck.root).stdout)
    around_it = json.loads(cli("stats", "--since", f"{int(now - due) + 1800}s", "--json", cwd=deck.root).stdout)
    report = json.loads(cli("decisions", "--report", "--since", "1h", "--json", cwd=deck.root).stdout)
    assert whole["deck"]["deadlines"]["missed"] == 1
    assert report["deadline_misses"] == 0  # due eight hours ago: not the last hour's
    assert last_hour["deck"]["deadlines"]["missed"] == 0
    assert around_it["deck"]["deadlines"]["missed"] == 1
