"""`jobdeck stats` after real runs, against what really happened: the 429s a real HTTP server on 127.0.0.1
answered, the waits of plain jobs, and deadlines missed without a success; and against a fold of the events
written here, by hand, independently of state/history.py."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from conftest import RunCli, records  # noqa: E402
from jobdeck.state.board import open_store  # noqa: E402
from jobdeck.state.deck import Deck, init_deck  # noqa: E402
from tests.fixtures.llm_server import Fail, LLMServer, Reply, rate_limited, server_error  # noqa: E402

FIRST, SECOND = "openai/gpt-4o-mini", "openai/gpt-4.1-mini"
FIRST_WIRE, SECOND_WIRE = "gpt-4o-mini", "gpt-4.1-mini"  # the names the server sees
KEY_VAR = "JOBDECK_TEST_STATS_KEY"
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", KEY_VAR: "sk-stats-test"}
ENDS = ("succeeded", "failed", "interrupted")


def stats(cli: RunCli, deck: Deck, *args: str) -> dict[str, Any]:
    done = cli("stats", "--json", *args, cwd=deck.root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def by_hand(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The deck's figures folded from the events here, as the README defines them."""
    open_tokens: dict[str, int] = {}
    cancelled: set[str] = set()
    runs, outcomes, retries, reasons, interventions = 0, {}, 0, {}, {}
    for record in events:
        kind, job = record["type"], record.get("job")
        if kind == "claimed":
            open_tokens[job] = record["seq"]
            cancelled.discard(job)
        elif kind == "cancelled" and job in open_tokens:
            cancelled.add(job)
        if kind in ("approved", "rejected", "retried", "cancelled", "pinned", "held", "released") \
                and record.get("by"):
            interventions[kind] = interventions.get(kind, 0) + 1
        if kind in ENDS and open_tokens.get(job) == record.get("token"):
            del open_tokens[job]
            if record.get("reason") == "not_started":
                continue
            outcome = "cancelled" if job in cancelled else kind
            runs += 1
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome == "failed":
                reasons[record["reason"]] = reasons.get(record["reason"], 0) + 1
            if record.get("retry_at") is not None and outcome != "cancelled":
                retries += 1
    return {"runs": runs, "outcomes": outcomes, "retries": retries, "reasons": reasons,
            "interventions": interventions}


def test_stats_count_every_429_the_server_answered_and_agree_with_the_events(tmp_path: Path, cli: RunCli,
                                                                             server: LLMServer) -> None:
    # first: FIRST 429 (retried), 429 (its last: the fallback says it); SECOND 429 (retried), then an answer.
    # then: FIRST 429 a third time (its cooldown opens: said by the cooldown, not again by the fallback);
    #   SECOND 429 (retried), 429 again (its last, on the last model: the attempt's failure says it).
    # last: FIRST cooling down (skipped); SECOND 500, its third failure in a row: a cooldown, no rate limit.
    # (A 429 whose retry-after is past what an attempt waits opens a cooldown at once: test_retry_after_cooldown.py.)
    scripts = {FIRST_WIRE: [rate_limited(0.01), rate_limited(0.01), rate_limited(0.01)],
               SECOND_WIRE: [rate_limited(0.01), Reply(), rate_limited(0.01), rate_limited(0.01), server_error(),
                             server_error()]}
    for wire, steps in scripts.items():
        server.script(wire, *steps)
    ai = {"type": "llm", "model": FIRST, "fallbacks": [SECOND], "api_base": server.base_url,
          "api_key": {"env": KEY_VAR}, "options": {"retries": 1, "retry_delay": 0.01}}
    llm = {"agent": "ai", "prompt": "say hi", "retry": {"max_attempts": 1}}
    spec = {"agents": {"ai": ai}, "limits": {"parallel": 1}, "jobs": [
        {"id": "first", **llm, "priority": 9},
        {"id": "then", **llm, "priority": 8},
        {"id": "last", **llm, "priority": 7},
        {"id": "flaky", "command": ["sh", "-c", "exit 75"], "priority": 6,
         "retry": {"max_attempts": 2, "delay": 0.01, "retryable_exit_codes": [75]}},
        {"id": "checked", "command": ["true"], "review": "always", "priority": 5}]}
    deck = init_deck(tmp_path / "deck", json.dumps(spec, indent=1).encode())
    cli("run", "--once", "--quiet", cwd=deck.root, env=ENV)
    assert cli("approve", "checked", cwd=deck.root).returncode == 0

    answered_429 = 0  # what the server really answered: the scripted steps its requests used up
    for wire, steps in scripts.items():
        used = steps[:len(server.calls(wire))]
        answered_429 += sum(1 for step in used if isinstance(step, Fail) and step.status == 429)
    events = records(deck)
    progress = [(e["job"], e["what"], e["reason"][:20]) for e in events if e["type"] == "progress"]
    report = stats(cli, deck)["deck"]
    assert answered_429 == 6 and len(server.calls(SECOND_WIRE)) == 5, progress  # the scenario above ran as written
    assert report["rate_limits"] == answered_429, progress
    hand = by_hand(events)
    assert {key: report[key] for key in ("runs", "outcomes", "retries", "reasons", "interventions")} == hand
    assert hand["reasons"] == {"cooldown": 1, "exit_code": 2, "rate_limit": 1}, hand  # last: FIRST's cooldown
    assert report["failures"]["provider_rate_limit"] == 1 and report["failures"]["exit"] == 2
    cooldowns = [e for e in events if e["type"] == "progress" and e["what"] == "cooldown"]
    skipped = [e for e in cooldowns if e["reason"].startswith("skipped")]
    assert (report["cooldowns"], report["cooldown_skips"]) == (len(cooldowns) - len(skipped), len(skipped)) != (0, 0)
    assert stats(cli, deck)["deck"] == report  # folded once, then read from the cache


def test_plain_jobs_that_waited_for_a_free_slot_have_waits(tmp_path: Path, cli: RunCli) -> None:
    spec = {"limits": {"parallel": 1},
            "jobs": [{"id": name, "command": ["sleep", "0.5"], "priority": -n} for n, name in enumerate("abc")]}
    deck = init_deck(tmp_path / "deck", json.dumps(spec, indent=1).encode())
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    claims = [e for e in records(deck) if e["type"] == "claimed"]
    assert [c["job"] for c in claims] == ["a", "b", "c"]
    waited = {c["job"]: c["ts"] - claims[0]["ts"] for c in claims}  # ready from the run's first claim on
    assert waited["c"] >= 1.0
    report = stats(cli, deck)
    rows = {row["id"]: row for row in report["jobs"]}
    for job, seconds in waited.items():
        assert rows[job]["wait_p50"] == pytest.approx(seconds, rel=0.1, abs=0.01), (job, seconds)
    assert report["deck"]["wait_p95"] == pytest.approx(waited["c"], rel=0.1)
    table = cli("stats", cwd=deck.root).stdout.splitlines()
    assert table[2].split()[3] != "-"  # WAIT P50
    lines = cli("decisions", "--report", cwd=deck.root).stdout.splitlines()
    assert any(line.startswith("waits: p50 ") for line in lines), lines


def test_a_job_that_waited_on_its_dependency_waited_only_from_the_dependencys_end(tmp_path: Path,
                                                                                    cli: RunCli) -> None:
    """Its claim says when it became ready; `stats` and `decisions --report` count its wait from there."""
    spec = {"limits": {"parallel": 2},
            "jobs": [{"id": "up", "command": ["sleep", "1"]}, {"id": "down", "command": ["true"], "depends_on": ["up"]}]}
    deck = init_deck(tmp_path / "deck", json.dumps(spec, indent=1).encode())
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    log = records(deck)
    [up_done] = [e for e in log if e["type"] == "succeeded" and e["job"] == "up"]
    claims = {e["job"]: e for e in log if e["type"] == "claimed"}
    assert claims["down"]["ready"] == up_done["ts"]  # not the runner's start, a second earlier
    waited = claims["down"]["ts"] - up_done["ts"]
    assert claims["down"]["ts"] - claims["up"]["ts"] >= 1.0 > waited
    rows = {row["id"]: row for row in stats(cli, deck)["jobs"]}
    assert rows["down"]["wait_p50"] == pytest.approx(waited, rel=0.1, abs=0.01)


def test_a_deadline_passed_without_a_success_is_missed(tmp_path: Path, cli: RunCli) -> None:
    spec = {"jobs": [{"id": job, "command": ["true"]} for job in ("ontime", "late", "never")]}
    deck = init_deck(tmp_path / "deck", json.dumps(spec, indent=1).encode())
    t0 = (int(time.time() // 3600) - 3) * 3600.0
    with open_store(deck) as store:
        def at(ts: float, **event: Any) -> None:
            if event.get("token") is None and event["type"] in ("succeeded", "failed"):
                event["token"] = store.board.state(event["job"]).token
            store.commit([event], now=ts)

        at(t0, type="held", by="op")  # the whole deck, by an operator
        at(t0 + 1, type="released", by="op")
        for job, deadline in (("ontime", 1000), ("late", 100), ("never", 300)):
            at(t0 + 2, type="decided", job=job, mode="live", action="start", deadline=t0 + deadline)
        at(t0 + 10, type="claimed", job="late", attempt=1, runner="r")
        at(t0 + 20, type="claimed", job="ontime", attempt=1, runner="r")
        at(t0 + 50, type="succeeded", job="ontime")
        at(t0 + 200, type="failed", job="late", reason="exit_code")  # for good, after its deadline
    whole = stats(cli, deck)["deck"]
    assert whole["deadlines"] == {"met": 1, "missed": 2, "adherence": pytest.approx(1 / 3)}
    assert whole["interventions"] == {"held": 1, "released": 1}
    rows = {row["id"]: row["deadlines"] for row in stats(cli, deck, "ontime", "late", "never")["jobs"]}
    assert {job: (d["met"], d["missed"]) for job, d in rows.items()} == {"ontime": (1, 0), "late": (0, 1),
                                                                          "never": (0, 1)}
    text = cli("stats", cwd=deck.root).stdout
    assert "deadlines: 1 of 3 met (33%), 2 missed" in text and "operators stepped in 2 times" in text
    assert "  deck: 1 exited non-zero" in text  # not "exit 1", which reads as an exit code
    report = cli("decisions", "--report", cwd=deck.root).stdout
    assert "deadlines: 2 missed of 3" in report
    assert "  never: due " in report and ", not done by then" in report


def test_output_that_failed_validation_is_a_failure_of_class_invalid_output(tmp_path: Path, cli: RunCli) -> None:
    """README's failure classes: output that failed `validate` (sent to review, the default) is no success, and its
    time is no success's run time; the same folded cold, on from the stats cache, and from board.json or the log."""
    bad = tmp_path / "bad"
    script = f"if [ -e '{bad}' ]; then sleep 1; echo nope; else echo ok; fi"
    spec = {"jobs": [{"id": "check", "command": ["sh", "-c", script], "validate": {"regex": "^ok"}}]}
    deck = init_deck(tmp_path / "deck", json.dumps(spec, indent=1).encode())
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert stats(cli, deck)["deck"]["outcomes"] == {"succeeded": 1}  # the cache holds the success
    bad.touch()
    assert cli("retry", "check", cwd=deck.root).returncode == 0
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 1  # left in review
    [invalid] = [e for e in records(deck) if e["type"] == "succeeded" and e.get("review")]
    assert invalid["reason"] == "invalid output"  # the runner's verdict: review, as before
    warm = stats(cli, deck)  # folded on from the cache
    (deck.state_dir / "stats-cache.json").unlink()
    cold = stats(cli, deck)
    assert cold == warm == stats(cli, deck)  # and read back from the cache the cold fold wrote
    [row] = cold["jobs"]
    assert row["outcomes"] == {"failed": 1, "succeeded": 1} and row["success_rate"] == 0.5
    assert row["failures"] == {"invalid_output": 1} and row["reasons"] == {"invalid_output": 1}
    assert row["run_p95"] is not None and row["run_p95"] < 0.9  # the success's time, not the second it slept
    assert cold["deck"]["failures"] == {"invalid_output": 1} and cold["failed_last_hour"] == 1
    assert [(day["succeeded"], day["failed"]) for day in cold["days"]] == [(1, 1)]
    deck.board_path.unlink()  # the rollups folded again from the log count it as board.json's did
    assert stats(cli, deck) == cold
    text = cli("stats", cwd=deck.root).stdout
    assert "  check: 1 invalid output" in text
    assert [line.split()[:3] for line in text.splitlines() if line.startswith("check ")] == [["check", "2", "50%"]]
