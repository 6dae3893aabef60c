"""Which records raise alerts, one per state change, and how a burst becomes a bounded number of messages."""

from __future__ import annotations

import json
from typing import Any

from jobdeck.state.board import Board
from jobdeck.state.loader import parse_spec
from jobdeck.state.machine import JobState, transition
from jobdeck.state.notify_rules import Alert, Dedup, Throttle, approvals, from_record
from jobdeck.state.redact import Redactor

NOW = 1_700_000_000.0


def spec_of(*jobs: dict[str, Any], **top: Any) -> Any:
    return parse_spec(json.dumps({"jobs": list(jobs), **top}).encode()).spec


def job(job_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": job_id, "command": ["true"], **fields}


SPEC = spec_of(job("up"), job("down", depends_on=["up"]), job("risky", risk="high", depends_on=["up"]))


def kind_of(record: dict[str, Any]) -> str | None:
    alert = from_record({"ts": NOW, "seq": 7, **record}, SPEC)
    return alert.kind if alert else None


def test_needs_you_and_news_and_what_is_neither() -> None:
    assert kind_of({"type": "succeeded", "job": "up", "review": True, "reasons": ["invalid"]}) == "review"
    assert kind_of({"type": "interrupted", "job": "up"}) == "review"
    assert kind_of({"type": "failed", "job": "up", "message": "exit 1"}) == "failed"
    assert kind_of({"type": "decided", "job": "up", "action": "hold", "needs": "budget", "mode": "live",
                    "reasons": ["budget: $0.90 spent today"]}) == "hold"
    for mode in ("off", "shadow", "advise"):  # there the gates advise: the verdict rides the job's own claim
        assert kind_of({"type": "decided", "job": "up", "action": "hold", "needs": "budget", "mode": mode,
                        "reasons": ["budget: $0.90 spent today"]}) is None
    assert kind_of({"type": "decided", "job": "up", "action": "at_risk", "reasons": ["deadline 06:00 at risk"]}) \
        == "deadline"
    assert kind_of({"type": "decided", "job": "up", "action": "missed", "reasons": ["deadline 06:00 missed"]}) \
        == "deadline"
    assert kind_of({"type": "decided", "job": "up", "action": "start", "reasons": ["priority 5"]}) is None
    assert kind_of({"type": "write_error", "message": "disk full"}) == "runner"
    assert kind_of({"type": "succeeded", "job": "down"}) == "pipeline_done"
    # retries, cooldowns, transient failures, a success mid-pipeline: nothing
    assert kind_of({"type": "failed", "job": "up", "retry_at": NOW + 5}) is None
    assert kind_of({"type": "interrupted", "job": "up", "retry_at": NOW}) is None
    assert kind_of({"type": "progress", "job": "up", "what": "cooldown"}) is None
    assert kind_of({"type": "succeeded", "job": "up"}) is None
    assert kind_of({"type": "claimed", "job": "up"}) is None


def test_an_approval_is_raised_once_the_dependencies_are_done() -> None:
    running = transition(JobState("up"), {"type": "claimed", "attempt": 1, "seq": 1}, NOW)
    assert approvals(SPEC, Board({"up": running}), ["risky", "down"], NOW) == []
    done = transition(running, {"type": "succeeded", "token": 1}, NOW + 1)
    found = approvals(SPEC, Board({"up": done}), ["risky", "down"], NOW + 1)
    assert [(a.kind, a.job) for a in found] == [("approval", "risky")]
    approved = transition(JobState("risky"), {"type": "approved"}, NOW + 2)
    assert approvals(SPEC, Board({"up": done, "risky": approved}), ["risky"], NOW + 2) == []


def test_one_alert_per_job_per_state_change() -> None:
    dedup = Dedup(size=3)
    first = from_record({"type": "failed", "job": "up", "seq": 7}, SPEC)
    again = from_record({"type": "failed", "job": "up", "seq": 7}, SPEC)
    later = from_record({"type": "failed", "job": "up", "seq": 9}, SPEC)
    assert first is not None and again is not None and later is not None
    assert [dedup.first(first), dedup.first(again), dedup.first(later)] == [True, False, True]


def test_a_burst_of_100_failures_is_two_messages() -> None:
    throttle = Throttle(every=60.0)
    sent = []
    for n in range(100):
        alert = Alert("failed", f"failed:job{n}:{n}", f"job{n}: failed for good", f"job{n}", NOW + n * 0.01)
        message = throttle.offer(alert, NOW + n * 0.01)
        if message is not None:
            sent.append(message)
        due = throttle.due(NOW + n * 0.01)
        if due is not None:
            sent.append(due)
    assert len(sent) == 1 and throttle.next_due == NOW + 60
    assert throttle.due(NOW + 59) is None
    summary = throttle.due(NOW + 60)
    assert summary is not None
    assert summary.title == "jobdeck needs you: 99 failed"
    assert "jobs: job1, job2" in summary.body and "and 89 more" in summary.body
    assert len(summary.body.splitlines()) == 5  # bounded, whatever the burst
    assert throttle.due(NOW + 200) is None


def test_no_throttle_sends_each() -> None:
    throttle = Throttle(every=0.0)
    alerts = [Alert("review", f"r{n}", "t", "j", NOW) for n in range(3)]
    assert all(throttle.offer(alert, NOW) is not None for alert in alerts)


def test_a_message_carries_no_secret_and_no_terminal_sequence() -> None:
    from jobdeck.runner.notifier import Notifier

    redactor = Redactor({"API_TOKEN": "s3cr3t-value-123"})
    notifier = Notifier("/deck", {}, redactor)
    alert = Alert("failed", "k", "job: failed for good (token s3cr3t-value-123 \x1b[2J\x1b]0;pwned\x07)", "job", NOW)
    from jobdeck.state.notify_rules import message

    send = notifier.safe(message([alert]))
    text = send.title + send.body + json.dumps(send.payload)
    assert "s3cr3t-value-123" not in text and "[REDACTED:API_TOKEN]" in send.body
    assert "\x1b" not in send.title + send.body and "\x07" not in send.body


def test_notify_rules_name_declared_targets_and_the_variables_are_secrets() -> None:
    spec = spec_of(job("a"), notify={"targets": {"phone": {"url": {"env": "NTFY_URL"}},
                                                  "hook": {"command": ["./alert.sh"]}},
                                      "ping": {"env": "HC_URL"}})
    assert [rule.to for rule in spec.notify.effective_rules()] == [["phone", "hook"]]
    assert spec.notify.effective_rules()[0].kinds == {"approval", "review", "failed", "runner", "hold", "deadline"}
    redactor = Redactor.for_spec(spec, {"NTFY_URL": "ntfy://tok-123456@host/t", "HC_URL": "https://hc/abcdef-1"})
    assert redactor.text("ntfy://tok-123456@host/t https://hc/abcdef-1") == "[REDACTED:NTFY_URL] [REDACTED:HC_URL]"


def test_the_spec_and_the_rules_agree_on_what_needs_you() -> None:
    from typing import get_args

    from jobdeck.state.notify_rules import NEEDS_YOU
    from jobdeck.state.spec import ALERT_GROUPS, AlertName

    assert set(ALERT_GROUPS["needs_you"]) == NEEDS_YOU
    assert set(get_args(AlertName)) == {"needs_you", "news", *NEEDS_YOU, *ALERT_GROUPS["news"]}


def test_a_throttle_is_a_duration_or_zero() -> None:
    import pytest

    from jobdeck.state.errors import SpecError

    for given, seconds in ((0, 0.0), ("0", 0.0), ("5m", 300.0), (90, 90.0)):
        rules = spec_of(job("a"), notify={"targets": {"t": {"command": ["true"]}},
                                          "rules": [{"to": ["t"], "throttle": given}]}).notify.rules
        assert rules[0].throttle == seconds
    for bad in (False, "soon", -1):
        with pytest.raises(SpecError, match="throttle"):
            spec_of(job("a"), notify={"targets": {"t": {"command": ["true"]}},
                                      "rules": [{"to": ["t"], "throttle": bad}]})


def test_a_typo_in_the_notify_and_metrics_sections_gets_a_suggestion() -> None:
    import pytest

    from jobdeck.state.errors import SpecError

    with pytest.raises(SpecError) as found:
        spec_of(job("a"), notify={"targets": {"t": {"comand": ["true"]}}, "rules": [{"to": ["t"], "throtle": 0}]},
                metrics={"textfle": "x.prom"})
    lines = str(found.value).splitlines()
    assert any("field 'notify.targets.t.comand'" in line and "did you mean 'command'?" in line for line in lines)
    assert any("field 'notify.rules.0.throtle'" in line and "did you mean 'throttle'?" in line for line in lines)
    assert any("field 'metrics.textfle'" in line and "did you mean 'textfile'?" in line for line in lines)


def test_a_runner_report_is_dated_now_and_alerts_again_in_a_later_hour_or_for_a_new_jobs_json_error() -> None:
    """Runner reports carry no ts: dated 0, every one had the key of 1970's first hour, once per runner's life."""
    broken = {"type": "spec_error", "message": "jobs.json:3: 'risk' must be low, medium or high"}
    first = from_record(broken, SPEC, None, NOW)
    assert first is not None and first.at == NOW
    dedup = Dedup()

    def new(record: dict[str, Any], at: float) -> bool:
        alert = from_record(record, SPEC, None, at)
        return alert is not None and dedup.first(alert)
    assert dedup.first(first)
    assert not new(broken, NOW + 60)  # the same error, the same hour
    assert new({**broken, "message": "jobs.json:4: unknown field 'comand'"}, NOW + 70)  # another error is news
    lock = {"type": "lock_timeout", "message": "the deck lock is held"}
    assert new(lock, NOW) and not new(lock, NOW + 5)
    assert new(lock, NOW + 3600)  # still so an hour on: told again
