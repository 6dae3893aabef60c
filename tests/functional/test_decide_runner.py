"""The decision service in a real runner: shadow changes nothing, live follows the ranking, guardrails hold.

Decks are real directories; history is seeded through ``Store.commit`` with past
timestamps (what a deck that ran for days holds); `jobdeck run --once` runs as a
subprocess and the claim order is read back from the chain of work.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import RunCli, cli_env
from jobdeck.runner.capacity import Capacity
from jobdeck.runner.deciding import Deciding
from jobdeck.runner.selection import ReadyIndex, pick
from jobdeck.state.board import open_store
from jobdeck.state.deck import Deck, init_deck
from jobdeck.state.loader import load_spec

DAY = 86400.0


def deadline_in(minutes: float) -> str:
    """A time of day ``minutes`` from now (UTC), for a job whose deadline is close."""
    return time.strftime("%H:%M", time.gmtime(time.time() + minutes * 60))


def make_deck(root: Path, mode: str, jobs: list[dict[str, Any]], **decide: Any) -> Deck:
    spec = {"decide": {"mode": mode, **decide}, "jobs": [{"command": ["true"], **job} for job in jobs]}
    return init_deck(root, json.dumps(spec, indent=1).encode())


def seed(deck: Deck, job: str, runs: int, seconds: float, *, cost: float | None = None, ago: float = DAY,
         outcome: str = "succeeded") -> None:
    """``runs`` past attempts of ``job``, each ``seconds`` long, ended ``ago`` seconds back; it is left queued again."""
    with open_store(deck) as store:
        for _ in range(runs):
            start = time.time() - ago - seconds
            if store.board.state(job).status != "backlog":
                store.commit([{"type": "retried", "job": job, "by": "past"}], now=start)
            state = store.board.state(job)
            store.commit([{"type": "claimed", "job": job, "attempt": state.next_attempt, "runner": "past"}], now=start)
            ended: dict[str, Any] = {"type": outcome, "job": job, "token": store.board.state(job).token}
            if cost is not None:
                ended["cost"] = cost
            if outcome == "failed":
                ended["reason"], ended["retry_at"] = "exit_code", 0.0
            store.commit([ended], now=start + seconds)
        if store.board.state(job).status != "backlog":
            store.commit([{"type": "retried", "job": job, "by": "past"}])


def claims(deck: Deck) -> list[str]:
    with open_store(deck):
        pass
    lines = deck.events_path.read_text().splitlines()
    return [r["job"] for r in map(json.loads, lines) if r["type"] == "claimed" and r.get("runner") != "past"]


def decided(deck: Deck) -> list[dict[str, Any]]:
    return [r for r in map(json.loads, deck.events_path.read_text().splitlines()) if r["type"] == "decided"]


def pipeline() -> list[dict[str, Any]]:
    """Ad hoc jobs and a three-step path to a report due in 25 minutes (from when the test runs)."""
    return [
        {"id": "adhoc-1", "priority": 5}, {"id": "adhoc-2", "priority": 5}, {"id": "adhoc-3", "priority": 2},
        {"id": "fetch"}, {"id": "enrich", "depends_on": ["fetch"]},
        {"id": "report", "depends_on": ["enrich"], "deadline": deadline_in(25)},
        {"id": "tidy", "priority": -1},
    ]


def pipeline_deck(root: Path, mode: str) -> Deck:
    deck = make_deck(root, mode, pipeline(), horizon="1h")
    for job in ("fetch", "enrich", "report"):  # each takes ~7 minutes: the pipeline needs ~22 of its 25
        seed(deck, job, 3, 420)
    return deck


def test_shadow_claims_in_exactly_the_order_off_gives_and_records_where_it_would_differ(tmp_path: Path,
                                                                                        cli: RunCli) -> None:
    off, shadow = pipeline_deck(tmp_path / "off", "off"), pipeline_deck(tmp_path / "shadow", "shadow")
    for deck in (off, shadow):
        done = cli("run", "--once", "--parallel", "1", "--quiet", cwd=deck.root)
        assert done.returncode == 0, done.stderr
    assert claims(shadow) == claims(off)
    assert claims(off)[:3] == ["adhoc-1", "adhoc-2", "adhoc-3"]  # the operator's order: priority first
    assert decided(off) == []
    notes = decided(shadow)
    assert [n["job"] for n in notes] == claims(shadow)
    assert all(n["mode"] == "shadow" and n["policy"] and n["reasons"] for n in notes)
    differed = [n for n in notes if n["followed"] is False]
    assert differed and differed[0]["job"] == "adhoc-1" and differed[0]["advised"][0] == "fetch"
    assert differed[0]["advised_why"][0].startswith("feeds report (deadline ")
    report = json.loads(cli("decisions", "--report", "--since", "1h", "--json", cwd=shadow.root).stdout)
    assert report["claims"] == len(pipeline()) and report["differed"] == len(differed)
    assert cli("audit", "verify", cwd=shadow.root).returncode == 0
    # the report is the deck's: a job or a count given with it would be ignored, so it is refused
    refused = cli("decisions", "--report", "fetch", cwd=shadow.root)
    assert refused.returncode == 2 and "give it no id nor -n" in refused.stderr
    assert cli("decisions", "fetch", cwd=shadow.root).stdout.count(" fetch: ") == 1
    unknown = cli("decisions", "fecth", cwd=shadow.root)
    assert unknown.returncode == 1 and "no job 'fecth'" in unknown.stderr


def test_live_starts_the_deadline_path_first_and_says_why(tmp_path: Path, cli: RunCli) -> None:
    deck = pipeline_deck(tmp_path / "live", "live")
    done = cli("run", "--once", "--parallel", "1", "--quiet", cwd=deck.root)
    assert done.returncode == 0, done.stderr
    assert claims(deck)[:3] == ["fetch", "enrich", "report"]
    assert claims(deck)[3:] == ["adhoc-1", "adhoc-2", "adhoc-3", "tidy"]
    first = decided(deck)[0]
    assert (first["job"], first["action"], first["followed"]) == ("fetch", "start", True)
    assert first["reasons"][0].startswith("feeds report (deadline ") and "slack" in first["reasons"][0]
    assert cli("audit", "verify", cwd=deck.root).returncode == 0


def test_live_never_spends_past_the_daily_budget_and_holds_with_the_reason(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "live", [{"id": "spent"}, {"id": "ask-a"}, {"id": "cheap"}, {"id": "free"}],
                     budget={"daily": 1.0})
    seed(deck, "ask-a", 2, 5, cost=0.3, ago=2 * DAY)
    seed(deck, "cheap", 2, 5, cost=0.1, ago=2 * DAY)
    seed(deck, "spent", 1, 5, cost=0.8, ago=60)  # today: $0.80 of $1.00 is gone
    done = cli("run", "--once", "--parallel", "4", "--quiet", cwd=deck.root)
    assert done.returncode == 0, done.stderr
    assert sorted(claims(deck)) == ["cheap", "free"]  # $0.10 fits in what is left; $0.30 and $0.80 do not
    holds = {n["job"]: n for n in decided(deck) if n["action"] == "hold"}
    assert set(holds) == {"spent", "ask-a"} and all(n["needs"] == "budget" for n in holds.values())
    assert holds["ask-a"]["reasons"][0].startswith("budget: $0.80 spent today + $")
    assert holds["ask-a"]["reasons"][0].endswith("up to $0.30 for this job > $1.00 a day")
    why = json.loads(cli("why", "ask-a", "--json", cwd=deck.root).stdout)
    assert why["verdict"]["action"] == "hold" and "budget" in why["summary"]


def test_live_holds_work_that_would_overfill_the_review_queue(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "live", [{"id": "waiting", "risk": "medium"}, {"id": "checked", "risk": "medium"},
                                             {"id": "plain"}], review_capacity=1)
    with open_store(deck) as store:
        store.commit([{"type": "claimed", "job": "waiting", "attempt": 1, "runner": "past"}])
        store.commit([{"type": "succeeded", "job": "waiting", "token": store.board.state("waiting").token,
                       "review": True}])
    done = cli("run", "--once", "--parallel", "1", "--quiet", cwd=deck.root)
    assert done.returncode == 0, done.stderr
    assert claims(deck) == ["plain"]
    [hold] = [n for n in decided(deck) if n["action"] == "hold"]
    assert hold["job"] == "checked" and hold["needs"] == "reviews"
    assert cli("approve", "waiting", cwd=deck.root).returncode == 0
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 1  # checked's output waits for review
    assert claims(deck) == ["plain", "checked"]


def test_the_operator_wins_pin_hold_and_release_from_the_command_line(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "off", [{"id": "a", "priority": 3}, {"id": "b"}, {"id": "c"}])
    assert cli("pin", "c", "--reason", "customer waiting", cwd=deck.root).returncode == 0
    assert cli("hold", "a", cwd=deck.root).returncode == 0
    again = cli("hold", "a", cwd=deck.root)
    assert again.returncode == 1 and "already held" in again.stderr
    assert cli("release", "b", cwd=deck.root).stderr.strip() == \
        "jobdeck: cannot release job 'b': it is neither pinned nor held"
    why = cli("why", "a", cwd=deck.root).stdout
    assert "held by the operator" in why
    assert cli("run", "--once", "--parallel", "1", "--quiet", cwd=deck.root).returncode == 0
    assert claims(deck) == ["c", "b"]
    events = [json.loads(line) for line in deck.events_path.read_text().splitlines()]
    pin = next(e for e in events if e["type"] == "pinned")
    assert pin["reason"] == "customer waiting" and "@" in pin["by"]
    assert cli("release", "a", cwd=deck.root).returncode == 0
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert claims(deck) == ["c", "b", "a"]


def test_a_closed_window_defers_in_live_mode_and_run_once_still_ends(tmp_path: Path, cli: RunCli) -> None:
    hour = time.gmtime(time.time() + 3 * 3600).tm_hour
    window = f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"
    deck = make_deck(tmp_path / "d", "live", [{"id": "night", "window": window}, {"id": "now"}])
    done = cli("run", "--once", "--quiet", cwd=deck.root, timeout=60)
    assert done.returncode == 0, done.stderr
    assert claims(deck) == ["now"]
    [defer] = [n for n in decided(deck) if n["job"] == "night"]
    assert defer["action"] == "defer" and defer["reasons"][0].startswith(f"window {window} (UTC) opens at")
    assert cli("pin", "night", cwd=deck.root).returncode == 0  # run it now anyway
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert claims(deck) == ["now", "night"]


@pytest.mark.parametrize("mode", ["off", "shadow", "advise", "live"])
def test_a_closed_window_holds_in_every_mode_is_told_once_and_a_pin_runs_it(tmp_path: Path, cli: RunCli,
                                                                            mode: str) -> None:
    hour = time.gmtime(time.time() + 3 * 3600).tm_hour
    window = f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"
    deck = make_deck(tmp_path / "d", mode, [{"id": "night", "window": window}, {"id": "now"}])
    for run in range(3):  # a new runner each time (cron), one from the log alone: the deferral is told once
        if run == 2:
            deck.board_path.unlink()
        done = cli("run", "--once", "--quiet", cwd=deck.root, timeout=60)
        assert done.returncode == 0, done.stderr
    assert claims(deck) == ["now"]
    [defer] = [n for n in decided(deck) if n["job"] == "night"]
    assert (defer["action"], defer["mode"], defer["needs"]) == ("defer", mode, "window")
    assert defer["reasons"][0].startswith(f"window {window} (UTC) opens at") and defer["note"] == f"⏱ window {hour:02d}:00"
    why = cli("why", "night", cwd=deck.root).stdout
    assert why.startswith(f"night: it is ready but cannot start now\n  - window {window} (UTC) opens at"), why
    assert cli("pin", "night", cwd=deck.root).returncode == 0  # run it now anyway
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert claims(deck) == ["now", "night"]


def test_a_hold_is_told_once_across_runners_and_told_again_after_it_changed(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "live", [{"id": "waiting", "risk": "medium"}, {"id": "checked", "risk": "medium"}],
                     review_capacity=1)
    with open_store(deck) as store:
        store.commit([{"type": "claimed", "job": "waiting", "attempt": 1, "runner": "past"}])
        store.commit([{"type": "succeeded", "job": "waiting", "token": store.board.state("waiting").token,
                       "review": True}])
    for _ in range(4):
        assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    spec = json.loads(deck.spec_path.read_text())
    deck.spec_path.write_text(json.dumps({"//": "a comment changes no policy", **spec}))
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    with open_store(deck) as store:  # a runner that adopts jobs.json again as it runs
        index, deciding = ReadyIndex(), Deciding(deck.state_dir / "cooldowns.json")
        for _ in range(2):
            loaded = load_spec(deck.spec_path).spec
            deciding.reset(loaded, store.board, index)
            index.reset(loaded)
            index.update(store.board, time.time())
            picked = pick(index, Capacity(2), deciding, loaded, store.board, time.time(), (), ())
            assert picked.chosen == [] and picked.decided == []
    assert [(n["job"], n["action"], n["needs"]) for n in decided(deck)] == [("checked", "hold", "reviews")]
    assert cli("pause", "checked", cwd=deck.root).returncode == 0
    assert cli("resume", "checked", cwd=deck.root).returncode == 0  # the operator acted on it: told again
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert [n["action"] for n in decided(deck)] == ["hold", "hold"]


def test_a_hold_on_the_review_queue_leaves_the_card_once_the_queue_has_room(tmp_path: Path, cli: RunCli) -> None:
    """`ls` drops "⏸ reviews" when reviews end and the queue is under capacity, before any runner looks again
    (a `run --once` from cron may be minutes away); while the queue is still full, the note stays."""
    reviewed = [{"id": f"r{n}", "risk": "medium"} for n in range(3)]
    deck = make_deck(tmp_path / "d", "live", [*reviewed, {"id": "checked", "risk": "medium"}], review_capacity=2)
    with open_store(deck) as store:
        for job in ("r0", "r1", "r2"):
            store.commit([{"type": "claimed", "job": job, "attempt": 1, "runner": "past"}])
            store.commit([{"type": "succeeded", "job": job, "token": store.board.state(job).token, "review": True}])
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert [(n["job"], n["needs"], n["capacity"]) for n in decided(deck)] == [("checked", "reviews", 2)]

    def note() -> list[str]:
        return {c["id"]: c for c in json.loads(cli("ls", "--json", cwd=deck.root).stdout)}["checked"]["flags"]

    assert note() == ["⏸ reviews"]
    assert cli("approve", "r0", cwd=deck.root).returncode == 0
    assert note() == ["⏸ reviews"]  # two still wait: the queue is at its capacity of 2
    assert cli("reject", "r1", cwd=deck.root).returncode == 0
    assert note() == []  # one waits: a runner would start it
    rows = {line.split()[0]: line for line in cli("ls", cwd=deck.root).stdout.splitlines()[1:]}
    assert "⏸" not in rows["checked"]
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 1  # it ran, and its output waits for review
    assert json.loads(cli("show", "checked", "--json", cwd=deck.root).stdout)["card"]["column"] == "review"


def test_ls_and_run_job_say_why_the_service_holds_or_defers_a_job(tmp_path: Path, cli: RunCli) -> None:
    hour = time.gmtime(time.time() + 3 * 3600).tm_hour
    deck = make_deck(tmp_path / "d", "live", [{"id": "waiting", "risk": "medium"}, {"id": "checked", "risk": "medium"},
                                             {"id": "night", "window": f"{hour:02d}:00-{hour:02d}:30"}],
                     review_capacity=1)
    with open_store(deck) as store:
        store.commit([{"type": "claimed", "job": "waiting", "attempt": 1, "runner": "past"}])
        store.commit([{"type": "succeeded", "job": "waiting", "token": store.board.state("waiting").token,
                       "review": True}])
    ran = cli("run", "--once", cwd=deck.root)
    assert ran.returncode == 0
    said = [line.split(" ", 1)[1] for line in ran.stdout.splitlines()]  # the runner's own lines say it too
    assert ("checked held by the decision service: review queue 1 of capacity 1, and its output goes to review "
            "(hint: `jobdeck pin checked` starts it now anyway)") in said
    assert any(line.startswith(f"night deferred: window {hour:02d}:00") for line in said)
    rows = {line.split()[0]: line for line in cli("ls", cwd=deck.root).stdout.splitlines()[1:]}
    assert rows["checked"].rstrip().endswith("⏸ reviews") and rows["night"].rstrip().endswith(f"⏱ window {hour:02d}:00")
    cards = {c["id"]: c for c in json.loads(cli("ls", "--json", cwd=deck.root).stdout)}
    assert cards["checked"]["flags"] == ["⏸ reviews"]
    refused = cli("run", "--job", "checked", cwd=deck.root)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (
        "jobdeck run: job 'checked' is in the backlog: held by the decision service: review queue 1 of capacity 1, and its "
        "output goes to review (hint: `jobdeck pin checked` starts it now anyway)")
    waiting = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--job", "night", "--wait", "--quiet"],
                               cwd=deck.root, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert waiting.stderr is not None
        line = waiting.stderr.readline()  # it says what it waits for, then waits
        assert line.startswith(f"jobdeck run: job 'night' waits: deferred: window "
                               f"{hour:02d}:00-{hour:02d}:30 (UTC) opens at {hour:02d}:00"), line
        assert line.rstrip().endswith("(hint: `jobdeck pin night` starts it now anyway)")
    finally:
        waiting.terminate()
        waiting.wait(timeout=30)


def test_ls_shows_a_pin_and_a_hold(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "off", [{"id": "a"}, {"id": "b"}])
    assert cli("pin", "a", cwd=deck.root).returncode == 0
    assert cli("hold", "b", cwd=deck.root).returncode == 0
    cards = {c["id"]: c for c in json.loads(cli("ls", "--json", cwd=deck.root).stdout)}
    assert cards["a"]["flags"] == ["pinned to start next"] and cards["b"]["flags"] == ["held by the operator"]


def test_a_policy_typo_gets_one_line_with_the_fix(tmp_path: Path, cli: RunCli) -> None:
    bad = {"agents": {"sh": {"type": "shell", "command": ["true"]}},
           "decide": {"mod": "live", "scorer": {"agent": "sh"}, "budget": {"daily": "5"}},
           "jobs": [{"id": "a", "command": ["true"], "deadline": "6am", "window": "22-06", "max_wait": "soon"}]}
    (tmp_path / "jobs.json").write_text(json.dumps(bad))
    done = cli("validate", cwd=tmp_path)
    assert done.returncode == 1
    lines = (done.stdout + done.stderr).splitlines()
    assert any("field 'decide.mod': unknown field 'mod' (hint: did you mean 'mode'?)" in line for line in lines)
    assert any("field 'decide.budget.daily': give a number of US dollars, like 5 or 0.25" in line for line in lines)
    assert any("job 'a', field 'deadline': '6am' is neither a time of day like \"06:00\"" in line for line in lines)
    assert any("job 'a', field 'window': '22-06' is not a daily window like \"22:00-06:00\"" in line for line in lines)
    assert any("job 'a', field 'max_wait': 'soon' is not a duration" in line for line in lines)
    assert lines[-1] == f"5 problems in {tmp_path / 'jobs.json'}"
    bad["decide"] = {"scorer": {"agent": "sh"}}
    bad["jobs"] = [{"id": "a", "command": ["true"]}]
    (tmp_path / "jobs.json").write_text(json.dumps(bad))
    done = cli("validate", cwd=tmp_path)
    assert done.returncode == 1
    assert "decide.scorer names agent 'sh', which is not an llm agent in 'agents'" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_live_routes_a_job_to_its_cheapest_model_when_the_budget_runs_low(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "live",
                     [{"id": "spent"}, {"id": "other"},
                      {"id": "ask", "model": "openai/gpt-4o-mini", "fallbacks": ["openai/gpt-4.1-mini"],
                       "prompt": "hi", "mock_response": "ok", "command": None}],
                     budget={"daily": 1.0})
    spec = json.loads(deck.spec_path.read_text())
    for job in spec["jobs"]:  # (make_deck gives every job a command; the llm job has none)
        if job.get("command") is None:
            del job["command"]
    deck.spec_path.write_text(json.dumps(spec))
    with open_store(deck) as store:
        for job, model, cost in (("ask", "openai/gpt-4o-mini", 0.02), ("other", "openai/gpt-4.1-mini", 0.001)):
            for _ in range(2):
                start = time.time() - 2 * DAY
                if store.board.state(job).status != "backlog":
                    store.commit([{"type": "retried", "job": job, "by": "past"}], now=start)
                attempt = store.board.state(job).next_attempt
                store.commit([{"type": "claimed", "job": job, "attempt": attempt, "runner": "past"}], now=start)
                store.commit([{"type": "succeeded", "job": job, "token": store.board.state(job).token, "cost": cost,
                               "model": model}], now=start + 5)
        store.commit([{"type": "retried", "job": j, "by": "past"} for j in ("ask", "other")])
    seed(deck, "spent", 1, 5, cost=0.85, ago=60)  # 85% of the day is gone; 87% with ask itself
    done = cli("run", "--once", "--job", "ask", cwd=deck.root, env={"LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in deck.events_path.read_text().splitlines()]
    [claim] = [r for r in records if r["type"] == "claimed" and r["job"] == "ask" and r["runner"] != "past"]
    assert claim["route"] == "openai/gpt-4.1-mini"
    [note] = [r for r in records if r["type"] == "decided" and r["job"] == "ask"]
    assert note["route"] == "openai/gpt-4.1-mini"
    assert note["reasons"][0].startswith("budget 87% used: routed to openai/gpt-4.1-mini, $0.001 a run against "
                                         "$0.02 on openai/gpt-4o-mini")
    ended = [r for r in records if r["type"] == "succeeded" and r["job"] == "ask"][-1]
    assert ended["model"] == "openai/gpt-4.1-mini"  # the attempt called the routed model first


def test_a_deadline_at_risk_tells_the_operator_once(tmp_path: Path, cli: RunCli) -> None:
    seen = tmp_path / "alerts.jsonl"
    hook = {"command": ["sh", "-c", f"cat >> {seen}; echo >> {seen}"]}
    deadline = deadline_in(12)  # (once: the run may cross a minute's end)
    deck = make_deck(tmp_path / "d", "shadow",
                     [{"id": "fetch", "command": ["sh", "-c", "sleep 0.3"]},
                      {"id": "report", "depends_on": ["fetch"], "deadline": deadline}],
                     budget={"daily": 1.0})
    spec = json.loads(deck.spec_path.read_text())
    spec["notify"] = {"targets": {"hook": hook}, "rules": [{"to": ["hook"], "throttle": 0}]}
    deck.spec_path.write_text(json.dumps(spec))
    for job in ("fetch", "report"):  # each takes ~8 minutes: the path needs ~16 of its 12
        seed(deck, job, 3, 480)
    done = cli("run", "--once", "--quiet", cwd=deck.root)
    assert done.returncode == 0, done.stderr
    [risk] = [n for n in decided(deck) if n["action"] == "at_risk"]
    assert risk["job"] == "report" and risk["reasons"][0].startswith(f"deadline {deadline} UTC at risk: ")
    alerts = [json.loads(line) for line in seen.read_text().splitlines() if line.strip()]
    kinds = [a["kind"] for alert in alerts for a in alert["alerts"]]
    assert kinds == ["deadline"]
    assert alerts[0]["title"] == "jobdeck needs you: deadline report"
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0  # nothing new: no second alert
    assert len([n for n in decided(deck) if n["action"] == "at_risk"]) == 1


def test_holding_the_deck_stops_new_starts_keeps_fires_and_is_reported(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "off", [{"id": "a"}, {"id": "b", "trigger": "*.csv"}])
    held = cli("hold", "--reason", "provider maintenance", cwd=deck.root)
    assert held.returncode == 0 and held.stdout.startswith("deck held: no new starts")
    again = cli("hold", cwd=deck.root)
    assert again.returncode == 1 and "the deck is already held (held by " in again.stderr
    inbox = deck.inbox_dir("default")
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "late.csv").write_text("x\n")
    run = cli("run", "--once", cwd=deck.root)
    assert run.returncode == 0, run.stderr
    assert "the deck is held by " in run.stderr and "provider maintenance" in run.stderr
    assert claims(deck) == []
    records = [json.loads(line) for line in deck.events_path.read_text().splitlines()]
    assert [r["job"] for r in records if r["type"] == "triggered"] == ["b"]  # the file fired: kept, not lost
    listed = cli("ls", cwd=deck.root)
    assert "no new starts (`jobdeck release`)" in listed.stderr
    why = cli("why", "a", cwd=deck.root).stdout
    assert why.startswith("a: it cannot start yet\n  - the whole deck is held by ") and "provider maintenance" in why
    answer = json.loads(cli("why", "a", "--json", cwd=deck.root).stdout)
    assert answer["headline"] == "it cannot start yet" and "the whole deck is held" in answer["blocking"][0]
    check = cli("status", "--check", cwd=deck.root)
    assert check.returncode == 1 and "problem: the deck is held by " in check.stdout
    assert "(provider maintenance): no new starts (hint: `jobdeck release`)" in check.stdout
    assert cli("release", cwd=deck.root).returncode == 0
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert sorted(claims(deck)) == ["a", "b"]
    assert cli("release", cwd=deck.root).stderr.strip() == \
        "jobdeck: the deck is not held (hint: `jobdeck release ID` releases one job)"


def test_a_deadline_still_at_risk_is_told_once_across_runs_from_cron(tmp_path: Path, cli: RunCli) -> None:
    """`run --once` every few minutes from cron: each run sees the same deadline at risk; one alert in all."""
    deadline = deadline_in(12)
    deck = make_deck(tmp_path / "d", "shadow",
                     [{"id": "fetch", "paused": True},  # paused: the path never moves, the risk stays
                      {"id": "report", "depends_on": ["fetch"], "deadline": deadline}])
    for job in ("fetch", "report"):  # each takes ~8 minutes: the path needs ~16 of its 12
        seed(deck, job, 3, 480)
    for run in range(3):
        assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
        if run == 1:
            deck.board_path.unlink()  # and from the log alone, without board.json
    risks = [n for n in decided(deck) if n["action"] == "at_risk"]
    assert [(n["job"], n["deadline"]) for n in risks] == [("report", risks[0]["deadline"])]


def test_a_deadline_that_passes_while_its_job_runs_is_told_missed_when_it_passes(tmp_path: Path, cli: RunCli) -> None:
    """The miss is its own alert, told while the job still runs (not at the next minute's look), once."""
    seen = tmp_path / "alerts.jsonl"
    due = time.time() + 3
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "slow", "command": ["sleep", "6"],
                                                  "deadline": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due))}])
    spec = json.loads(deck.spec_path.read_text())
    hook = {"command": ["sh", "-c", f"cat >> {seen}; echo >> {seen}"]}
    spec["notify"] = {"targets": {"hook": hook}, "rules": [{"to": ["hook"], "throttle": 0}]}
    deck.spec_path.write_text(json.dumps(spec))
    run = cli("run", "--once", cwd=deck.root)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in deck.events_path.read_text().splitlines()]
    [missed] = [r for r in records if r["type"] == "decided" and r["action"] == "missed"]
    [done] = [r for r in records if r["type"] == "succeeded"]
    assert missed["job"] == "slow" and missed["ts"] < done["ts"]  # told while it ran: at its deadline
    assert missed["reasons"][0].startswith("deadline ") and " missed " in missed["reasons"][0]
    assert "slow: deadline " in run.stdout and " missed " in run.stdout
    alerts = [a for line in seen.read_text().splitlines() if line.strip() for a in json.loads(line)["alerts"]]
    assert alerts[-1]["kind"] == "deadline" and " missed " in alerts[-1]["text"], alerts
    assert "missed" in cli("events", "-n", "3", cwd=deck.root).stdout


def test_a_missed_deadline_is_told_once_across_runs_and_status_reports_it_in_every_mode(
        tmp_path: Path, cli: RunCli) -> None:
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "report", "paused": True, "deadline": past}, {"id": "other"}])
    for run in range(3):
        assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
        if run == 1:
            deck.board_path.unlink()  # and from the log alone, without board.json
    assert [(n["job"], n["action"]) for n in decided(deck) if n["action"] in ("at_risk", "missed")] \
        == [("report", "missed")]
    for mode in ("shadow", "off"):
        spec = json.loads(deck.spec_path.read_text())
        spec["decide"]["mode"] = mode
        deck.spec_path.write_text(json.dumps(spec))
        check = cli("status", "--check", "--json", cwd=deck.root)
        assert check.returncode == 1, check.stdout
        [problem] = [p for p in json.loads(check.stdout)["problems"] if p["kind"] == "deadline_missed"]
        assert problem["job"] == "report" and problem["age"] >= 600
        assert problem["message"].startswith(f"report missed its deadline {past[11:16]} UTC 10m")
        assert problem["message"].endswith("ago and is not done (backlog); see `jobdeck why report`")
    assert cli("resume", "report", cwd=deck.root).returncode == 0
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    check = json.loads(cli("status", "--json", cwd=deck.root).stdout)
    assert [p for p in check["problems"] if p["kind"] == "deadline_missed"] == []  # done, late: no longer a problem


def test_leaving_live_lifts_its_holds_with_a_record_that_names_them(tmp_path: Path, cli: RunCli) -> None:
    """Switched from live to off, a held job started with nothing recorded, and `ls`/`release` still said it was held."""
    deck = make_deck(tmp_path / "d", "live", [{"id": "ask", "model": "openai/gpt-4o-mini", "prompt": "hi",
                                               "mock_response": "ok", "command": None}, {"id": "plain"}],
                     budget={"daily": 0.01}, default_cost=0.02)
    spec = json.loads(deck.spec_path.read_text())
    del spec["jobs"][0]["command"]
    deck.spec_path.write_text(json.dumps(spec))
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    held = cli("run", "--once", cwd=deck.root, env=env)
    assert held.returncode == 0 and "ask held by the decision service: budget" in held.stdout, held.stdout
    assert "⏸ budget" in cli("ls", cwd=deck.root).stdout
    spec["decide"]["mode"] = "off"
    deck.spec_path.write_text(json.dumps(spec))
    done = cli("run", "--once", cwd=deck.root, env=env)
    assert done.returncode == 0, done.stderr
    assert "decision service: live -> off; its holds are lifted: ask" in done.stdout
    records = [json.loads(line) for line in deck.events_path.read_text().splitlines()]
    assert [(r["mode"], r["was"], r["lifted"]) for r in records if r["type"] == "decide_mode"] == [
        ("live", None, []), ("off", "live", ["ask"])]
    assert [r["job"] for r in records if r["type"] == "succeeded"][-1] == "ask"
    deck.board_path.unlink()  # the fold from the log lifts them too
    assert "⏸" not in cli("ls", cwd=deck.root).stdout
    assert cli("run", "--once", cwd=deck.root, env=env).returncode == 0
    assert len([line for line in deck.events_path.read_text().splitlines() if '"decide_mode"' in line]) == 2


def test_a_pin_past_the_budget_says_so_in_its_claims_decision(tmp_path: Path, cli: RunCli) -> None:
    """A pinned job spent past the day's budget, and the chain of work said only "pinned by the operator"."""
    deck = make_deck(tmp_path / "d", "live", [{"id": "ask", "model": "openai/gpt-4o-mini", "prompt": "hi",
                                               "mock_response": "ok", "command": None}],
                     budget={"daily": 0.01}, default_cost=0.02)
    spec = json.loads(deck.spec_path.read_text())
    del spec["jobs"][0]["command"]
    deck.spec_path.write_text(json.dumps(spec))
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    assert cli("pin", "ask", cwd=deck.root).returncode == 0
    assert cli("run", "--once", cwd=deck.root, env=env).returncode == 0
    [started] = [n for n in decided(deck) if n["action"] == "start"]
    assert started["reasons"][0] == "pinned by the operator" and started["overrode"] == "budget"
    assert started["reasons"][-1].startswith("pinned past the decision service's gate: budget: $0.00 spent today")


def test_a_board_json_with_a_bad_warned_entry_is_read_as_no_snapshot(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "report"}])
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    for bad in ("[Infinity, 1]", '"x"', "[1]", "[1.5, 2]"):
        board = json.loads(deck.board_path.read_text())
        text = json.dumps({**board, "warned": {"report": "BAD"}}).replace('"BAD"', bad)
        deck.board_path.write_text(text)
        (deck.state_dir / "cards.jsonl").unlink(missing_ok=True)  # so ls reads board.json
        listed = cli("ls", "--json", cwd=deck.root)
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, (bad, listed.stderr)
        assert [card["column"] for card in json.loads(listed.stdout)] == ["done"]


def test_the_shadow_report_tells_a_job_it_would_have_held_from_one_it_would_have_put_after_another(
        tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "dear"}], budget={"daily": 1})
    seed(deck, "dear", 1, 5, cost=2.0)  # it may cost $2: the service would hold it for the budget
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0  # shadow runs it anyway
    [note] = decided(deck)
    assert (note["action"], note["needs"], note["followed"]) == ("hold", "budget", False)
    text = cli("decisions", "--report", cwd=deck.root).stdout
    assert "  actions: hold 1; held for budget 1\n" in text
    assert ("claims: 2; live would have changed 1 (100% of the 1 made while it was on)\n"  # (the seeded claim had none)
            "  started another job first: 0 (0%)\n"
            "  not started the job then: 1 (100%): held for budget 1\n") in text


def test_a_plain_job_waits_from_when_a_runner_first_listed_it(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", "shadow", [{"id": "tidy", "max_wait": "3h", "paused": True}, {"id": "plain"}])
    for _ in range(2):
        assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    records = [json.loads(line) for line in deck.events_path.read_text().splitlines()]
    assert [r["jobs"] for r in records if r["type"] == "listed"] == [["tidy", "plain"]]  # once, every unscheduled job
    other = make_deck(tmp_path / "e", "shadow", [{"id": "tidy", "max_wait": "3h", "paused": True}])
    with open_store(other) as store:  # a runner listed it two hours ago
        store.commit([{"type": "listed", "jobs": ["tidy"]}], now=time.time() - 7200)
    assert cli("run", "--once", "--quiet", cwd=other.root).returncode == 0
    why = cli("why", "tidy", cwd=other.root).stdout
    assert "(max_wait 3h00m), in 59m" in why or "(max_wait 3h00m), in 1h00m" in why, why


def test_a_deferrals_note_leaves_ls_when_its_time_comes_even_from_the_card_cache(tmp_path: Path, cli: RunCli) -> None:
    """No runner looks again (cron's next `run --once` is minutes away): `ls` must not go on saying the job waits
    for a window that has opened."""
    from tests.functional.runner_kit import wait_for

    deck = make_deck(tmp_path / "d", "live", [{"id": "night"}, {"id": "now"}])
    until = time.time() + 1.5
    with open_store(deck) as store:  # what a runner records when the job's window is closed
        store.commit([{"type": "decided", "job": "night", "action": "defer", "mode": "live", "needs": "window",
                       "until": until, "note": "⏱ window 22:00", "reasons": ["window 22:00-23:00 (UTC) opens at 22:00"]}])

    def night() -> dict[str, Any]:
        done = cli("ls", "--json", cwd=deck.root)
        assert done.returncode == 0, done.stderr
        return next(c for c in json.loads(done.stdout) if c["id"] == "night")

    assert (night()["flags"], night()["kept_until"]) == (["⏱ window 22:00"], until)  # the second from the cache
    assert cli("ls", cwd=deck.root).stdout.splitlines()[1].rstrip().endswith("⏱ window 22:00")
    wait_for(lambda: time.time() > until, timeout=10, what="the window's time")
    assert (night()["flags"], night()["kept_until"]) == ([], None)
    assert "⏱" not in cli("ls", cwd=deck.root).stdout


def test_a_deck_holds_reason_reaches_ls_inert(tmp_path: Path, cli: RunCli) -> None:
    """The reason is the operator's words, printed by every command after: escape sequences in it stay text."""
    deck = make_deck(tmp_path / "d", "off", [{"id": "a"}])
    assert cli("hold", "--reason", "maint \x1b]0;pwned\x07 \x1b[31mred\x1b[0m", cwd=deck.root).returncode == 0
    for argv in (["ls"], ["ls", "--json"], ["ls"]):  # (the second table comes from the card cache)
        done = cli(*argv, cwd=deck.root)
        assert done.returncode == 0 and "the deck is held" in done.stderr, done.stderr
        assert "\x1b" not in done.stderr and "\x07" not in done.stderr, repr(done.stderr)


def budget_deck_for(root: Path, mode: str) -> Deck:
    """Two jobs whose runs have cost $0.03 each, two days ago, under a $0.05 daily budget: one fits, not both."""
    deck = make_deck(root, mode, [{"id": "a"}, {"id": "b"}], budget={"daily": 0.05})
    for job in ("a", "b"):
        seed(deck, job, 1, 5, cost=0.03, ago=2 * DAY)
    return deck


def test_shadow_counts_a_budget_hold_that_a_claim_of_the_same_turn_causes(tmp_path: Path, cli: RunCli) -> None:
    live, shadow = budget_deck_for(tmp_path / "live", "live"), budget_deck_for(tmp_path / "shadow", "shadow")
    for deck in (live, shadow):
        done = cli("run", "--once", "--parallel", "2", "--quiet", cwd=deck.root)
        assert done.returncode == 0, done.stderr
    assert [(d["job"], d["needs"]) for d in decided(live) if d["action"] == "hold"] == [("b", "budget")]
    notes = {d["job"]: d for d in decided(shadow)}
    assert sorted(claims(shadow)) == ["a", "b"]  # shadow still runs both
    assert (notes["b"]["action"], notes["b"].get("needs"), notes["b"]["followed"]) == ("hold", "budget", False)
    assert "+ $0.03 running or starting first + up to $0.03 for this job" in notes["b"]["reasons"][0]
    report = json.loads(cli("decisions", "--report", "--json", cwd=shadow.root).stdout)
    assert report["kept_back_for"] == {"budget": 1}


def test_shadow_counts_a_review_hold_that_a_claim_of_the_same_turn_causes(tmp_path: Path, cli: RunCli) -> None:
    decks = {mode: make_deck(tmp_path / mode, mode, [{"id": "a", "risk": "medium"}, {"id": "b", "risk": "medium"}],
                             review_capacity=1) for mode in ("live", "shadow")}
    for deck in decks.values():
        done = cli("run", "--once", "--parallel", "2", "--quiet", cwd=deck.root)
        assert done.returncode == 1, done.stderr  # (an output waits for review)
    assert [(d["job"], d["needs"]) for d in decided(decks["live"]) if d["action"] == "hold"] == [("b", "reviews")]
    notes = {d["job"]: d for d in decided(decks["shadow"])}
    assert (notes["a"]["action"], notes["b"]["action"], notes["b"].get("needs")) == ("start", "hold", "reviews")
    report = json.loads(cli("decisions", "--report", "--json", cwd=decks["shadow"].root).stdout)
    assert report["kept_back_for"] == {"reviews": 1}
