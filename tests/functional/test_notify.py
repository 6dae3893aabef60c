"""Alerts through Apprise to a real HTTP receiver on 127.0.0.1: one per "needs you" change, bursts bounded,
a hanging target costs the runner nothing, no secret leaves, and the ping URL is pinged."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.functional.receiver import Receiver
from tests.functional.runner_kit import env_for, events, jobdeck, make_deck

NEEDS_YOU_TO_HERE = {"targets": {"here": {"url": {"env": "HERE_URL"}}},
                     "rules": [{"on": ["needs_you"], "to": ["here"], "throttle": 0}]}


def run_once(deck: Path, **env: str) -> Any:
    return jobdeck(deck, "run", "--once", env=env_for(deck, **env), timeout=120)


def titles(receiver: Receiver) -> list[str]:
    return sorted(message["title"] for message in receiver.messages())


def test_each_needs_you_change_sends_exactly_one_message(tmp_path: Path) -> None:
    jobs = [{"id": "bad", "command": ["false"]},
            {"id": "flaky", "command": ["sh", "-c", "exit 75"], "retry": {"max_attempts": 2, "delay": 0.01,
                                                                          "retryable_exit_codes": [75]}},
            {"id": "pub", "command": ["echo", "draft"], "review": "always"},
            {"id": "risky", "command": ["true"], "risk": "high"},
            {"id": "fine", "command": ["true"]},
            {"id": "gate", "command": ["true"], "risk": "high", "depends_on": ["fine"]}]
    with Receiver() as receiver:
        deck = make_deck(tmp_path, jobs, notify=NEEDS_YOU_TO_HERE)
        run_once(deck, HERE_URL=receiver.json_url)
        # gate waits for approval only once fine is done: raised when fine's success is seen
        expected = ["jobdeck needs you: approval gate", "jobdeck needs you: approval risky",
                    "jobdeck needs you: failed bad",
                    "jobdeck needs you: failed flaky", "jobdeck needs you: review pub"]
        assert titles(receiver) == expected  # flaky's retry was no alert; its final failure was one
        assert all(m["type"] == "failure" for m in receiver.messages())
        run_once(deck, HERE_URL=receiver.json_url)  # a second runner repeats none of them
        assert titles(receiver) == expected
        jobdeck(deck, "approve", "risky", check=True)
        run_once(deck, HERE_URL=receiver.json_url)  # risky ends done: news, which this rule does not send
        assert titles(receiver) == expected


def test_news_goes_only_where_a_rule_sends_it(tmp_path: Path) -> None:
    notify = {"targets": {"here": {"url": {"env": "HERE_URL"}}}, "rules": [{"on": ["news"], "to": ["here"]}]}
    with Receiver() as receiver:
        deck = make_deck(tmp_path, [{"id": "fetch", "command": ["true"]},
                                    {"id": "publish", "command": ["true"], "depends_on": ["fetch"]},
                                    {"id": "bad", "command": ["false"]}], notify=notify)
        run_once(deck, HERE_URL=receiver.json_url)
        assert titles(receiver) == ["jobdeck news: pipeline_done publish"]
        assert receiver.messages()[0]["type"] == "info"


def test_a_burst_of_100_failures_sends_a_bounded_number_of_messages(tmp_path: Path) -> None:
    notify = {"targets": {"here": {"url": {"env": "HERE_URL"}}}, "rules": [{"to": ["here"], "throttle": "1h"}]}
    with Receiver() as receiver:
        deck = make_deck(tmp_path, [{"id": f"bad{n:03}", "command": ["false"]} for n in range(100)], notify=notify)
        run_once(deck, HERE_URL=receiver.json_url)
        failed = [e for e in events(deck) if e["type"] == "failed"]
        assert len(failed) == 100
        messages = receiver.messages()
        # the first at once; the other 99 summed up in one message when the window ends (here: the run's end)
        assert len(messages) == 2, [m["title"] for m in messages]
        assert messages[1]["title"] == "jobdeck needs you: 99 failed"
        assert "and 89 more" in messages[1]["message"]


def test_no_secret_leaves_in_a_message(tmp_path: Path) -> None:
    secret = "tok-9f8e7d6c5b4a"
    leak = {"id": "leaky", "command": ["sh", "-c", 'echo "using $TOKEN"'], "env": {"TOKEN": {"env": "API_TOKEN"}},
            "validate": {"command": ["sh", "-c", 'echo "rejected token $TOKEN" >&2; exit 1']}}
    with Receiver() as receiver:
        deck = make_deck(tmp_path, [leak], notify=NEEDS_YOU_TO_HERE)
        run_once(deck, HERE_URL=receiver.json_url, API_TOKEN=secret)
        messages = receiver.messages()
        assert [m["title"] for m in messages] == ["jobdeck needs you: review leaky"]
        assert "rejected token [REDACTED:API_TOKEN]" in messages[0]["message"]
        assert secret not in json.dumps(receiver.requests)


def test_a_command_target_gets_the_alert_on_stdin(tmp_path: Path) -> None:
    seen = tmp_path / "alert.json"
    hook = {"command": ["sh", "-c", f'cat > {seen}; echo "$JOBDECK_ALERT_KINDS $JOBDECK_JOB_ID" > {seen}.env']}
    notify = {"targets": {"hook": hook}, "rules": [{"to": ["hook"], "throttle": 0}]}
    deck = make_deck(tmp_path, [{"id": "bad", "command": ["false"]}], notify=notify)
    run_once(deck)
    alert = json.loads(seen.read_text())
    assert alert["title"] == "jobdeck needs you: failed bad" and alert["alerts"][0]["job"] == "bad"
    assert Path(f"{seen}.env").read_text() == "failed bad\n"


def test_a_failed_send_is_recorded_not_fatal(tmp_path: Path) -> None:
    notify = {"targets": {"broken": {"command": ["sh", "-c", "echo nope >&2; exit 3"], "retries": 1}},
              "rules": [{"to": ["broken"], "throttle": 0}]}
    deck = make_deck(tmp_path, [{"id": "bad", "command": ["false"]}], notify=notify)
    result = run_once(deck)
    assert result.returncode == 1  # bad failed; the runner itself did not
    assert "sending to broken failed after 2 tries: sh exited with code 3: nope" in result.stderr
    notes = [e for e in events(deck) if e["type"] == "progress" and e.get("what") == "notify_failed"]
    assert [(n["job"], n["target"]) for n in notes] == [("bad", "broken")]


def test_the_ping_url_is_pinged_at_start_and_fail_on_a_failure(tmp_path: Path) -> None:
    with Receiver() as receiver:
        deck = make_deck(tmp_path, [{"id": "ok", "command": ["true"]}], notify={"ping": {"env": "PING_URL"}})
        run_once(deck, PING_URL=receiver.url)
        assert [(m, p) for m, p, _ in receiver.requests] == [("GET", "/ping")]
        (deck / "jobs.json").write_text(json.dumps({"jobs": [{"id": "bad", "command": ["false"]}],
                                                    "notify": {"ping": {"env": "PING_URL"}}}))
        run_once(deck, PING_URL=receiver.url)
        assert [p for _, p, _ in receiver.requests] == ["/ping", "/ping", "/ping/fail"]


def per_job_seconds(deck: Path) -> float:
    records = events(deck)
    claims = [r["ts"] for r in records if r["type"] == "claimed"]
    ends = [r["ts"] for r in records if r["type"] in ("succeeded", "failed")]
    return (max(ends) - min(claims)) / len(claims)


def test_a_hanging_target_does_not_slow_the_runner(tmp_path: Path) -> None:
    jobs = [{"id": f"bad{n:03}", "command": ["false"]} for n in range(200)]
    plain = make_deck(tmp_path / "plain", jobs)
    run_once(plain)
    with Receiver(hang=True) as receiver:
        notify = {"targets": {"stuck": {"url": {"env": "HERE_URL"}, "timeout": 30, "retries": 0}},
                  "rules": [{"to": ["stuck"], "throttle": 0}], "ping": {"env": "PING_URL"}}
        hanging = make_deck(tmp_path / "hanging", jobs, notify=notify)
        started = time.monotonic()
        result = run_once(hanging, HERE_URL=receiver.json_url, PING_URL=receiver.url)
        took = time.monotonic() - started
        assert receiver.requests, "the target was never reached"
    without, with_hang = per_job_seconds(plain), per_job_seconds(hanging)
    print(f"per-job: no target {without * 1000:.2f} ms, hanging target {with_hang * 1000:.2f} ms; "
          f"exit after {took:.1f}s")
    assert with_hang < without * 2 + 0.002, (without, with_hang)
    assert took < 40  # the stop waits at most 5 s for queued alerts
    assert "queue full" in result.stderr  # 200 alerts for a dead target: dropped and said, not piled up


def test_notify_test_sends_one_message_per_target(tmp_path: Path) -> None:
    notify = {"targets": {"here": {"url": {"env": "HERE_URL"}}, "unset": {"url": {"env": "NOT_SET_ANYWHERE"}}}}
    with Receiver() as receiver:
        deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}], notify=notify)
        env = env_for(deck, HERE_URL=receiver.json_url)
        env.pop("NOT_SET_ANYWHERE", None)
        sent = jobdeck(deck, "notify", "test", "here", env=env)
        assert (sent.returncode, sent.stdout) == (0, "here: sent\n")
        assert [m["title"] for m in receiver.messages()] == ["jobdeck news: test"]
        both = jobdeck(deck, "notify", "test", env=env)
        assert both.returncode == 1
        assert both.stdout.splitlines() == ["here: sent", "unset: failed: environment variable NOT_SET_ANYWHERE is "
                                            "not set (notify.targets.unset.url)"]
        unknown = jobdeck(deck, "notify", "test", "nope", env=env)
        assert unknown.returncode == 2 and unknown.stderr.startswith("jobdeck: no target 'nope' in notify.targets")


def test_a_running_runner_sends_the_summary_when_the_window_ends(tmp_path: Path) -> None:
    import signal

    from tests.functional.runner_kit import start_runner

    notify = {"targets": {"here": {"url": {"env": "HERE_URL"}}}, "rules": [{"to": ["here"], "throttle": "1s"}]}
    with Receiver() as receiver:
        deck = make_deck(tmp_path, [{"id": f"bad{n}", "command": ["false"]} for n in range(5)], notify=notify)
        runner = start_runner(deck, env=env_for(deck, HERE_URL=receiver.json_url))
        try:
            receiver.wait(2, timeout=30)  # the first failure at once, the other four summed up a second later
            assert runner.poll() is None  # not the stop's flush: the runner still runs
            assert [m["title"] for m in receiver.messages()][1] == "jobdeck needs you: 4 failed"
        finally:
            runner.send_signal(signal.SIGTERM)
            runner.wait(30)
        assert len(receiver.messages()) == 2


def test_runner_trouble_is_one_alert(tmp_path: Path) -> None:
    import signal

    from tests.functional.runner_kit import start_runner, wait_for

    with Receiver() as receiver:
        deck = make_deck(tmp_path, [{"id": "ok", "command": ["true"]}], notify=NEEDS_YOU_TO_HERE)
        runner = start_runner(deck, env=env_for(deck, HERE_URL=receiver.json_url))
        try:
            wait_for(lambda: list((deck / ".jobdeck" / "runners").glob("*.json")), what="the runner's heartbeat")
            good = (deck / "jobs.json").read_text()
            def save(text: str) -> None:  # as an editor does: a runner never sees the file empty mid-write
                (deck / "jobs.json.new").write_text(text)
                os.replace(deck / "jobs.json.new", deck / "jobs.json")

            save(good.replace('"command"', '"comand"'))  # a typo the runner rejects
            receiver.wait(1, timeout=30)
            save(good.replace('"ok"', '"ok2"'))  # fixed, and a new job runs
            wait_for(lambda: any(e["type"] == "succeeded" and e["job"] == "ok2" for e in events(deck)),
                     what="the fixed spec's job to run")
        finally:
            runner.send_signal(signal.SIGTERM)
            runner.wait(30)
        [message] = receiver.messages()
        assert message["title"] == "jobdeck needs you: runner"
        assert "spec_error" in message["message"] and "comand" in message["message"]


def test_an_attempt_a_stopping_runner_interrupts_is_one_review_alert(tmp_path: Path) -> None:
    import signal

    from tests.functional.runner_kit import board, start_runner, wait_for

    with Receiver() as receiver:
        deck = make_deck(tmp_path, [{"id": "long", "command": ["sleep", "60"]}], notify=NEEDS_YOU_TO_HERE)
        runner = start_runner(deck, "--grace", "0.5", env=env_for(deck, HERE_URL=receiver.json_url))
        wait_for(lambda: (st := board(deck).get("long")) is not None and st.status.value == "running",
                 what="the job to start")
        runner.send_signal(signal.SIGTERM)
        runner.wait(30)
        assert board(deck)["long"].status.value == "review"
        # told before the runner exited
        assert titles(receiver) == ["jobdeck needs you: review long"]


def test_a_running_runner_pings_at_most_every_ping_every(tmp_path: Path) -> None:
    import signal

    from tests.functional.runner_kit import start_runner

    with Receiver() as receiver:
        deck = make_deck(tmp_path, [{"id": "ok", "command": ["true"]}],
                         notify={"ping": {"env": "PING_URL"}, "ping_every": "1s"})
        runner = start_runner(deck, env=env_for(deck, PING_URL=receiver.url))
        try:
            # the start's, then at most one a second, on the runner's turns (5 s apart when idle)
            receiver.wait(3, timeout=30)
        finally:
            runner.send_signal(signal.SIGTERM)
            runner.wait(30)
        assert {path for _, path, _ in receiver.requests} == {"/ping"}
        gaps = [later - earlier for earlier, later in zip(receiver.arrived[1:], receiver.arrived[2:])]
        assert all(gap >= 0.9 for gap in gaps), gaps  # throttled: never two pings within ping_every


def test_the_daily_digest_is_news_once_a_day_across_runs(tmp_path: Path) -> None:
    from jobdeck.state.board import open_store
    from jobdeck.state.deck import Deck

    seen = tmp_path / "digests.jsonl"
    hook = {"command": ["sh", "-c", f"cat >> {seen}; echo >> {seen}"]}
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"]}],
                     notify={"targets": {"hook": hook}, "rules": [{"on": ["digest"], "to": ["hook"], "throttle": 0}]})
    yesterday = (int(time.time() // 86400) - 1) * 86400 + 3600
    with open_store(Deck(deck)) as store:
        for job, outcome, cost in (("a", "succeeded", 0.25), ("b", "failed", None)):
            store.commit([{"type": "claimed", "job": job, "attempt": 1, "runner": "past"}], now=yesterday)
            ended = {"type": outcome, "job": job, "token": store.board.state(job).token}
            if cost:
                ended["cost"] = cost
            store.commit([ended], now=yesterday + 60)
        store.commit([{"type": "retried", "job": j, "by": "op"} for j in ("a", "b")])
    assert run_once(deck).returncode == 0
    assert run_once(deck).returncode == 0  # the next run, the same day: no second digest
    digests = [json.loads(line) for line in seen.read_text().splitlines() if line.strip()]
    assert [a["kind"] for d in digests for a in d["alerts"]] == ["digest"]
    day = time.strftime("%Y-%m-%d", time.gmtime(yesterday))
    assert digests[0]["alerts"][0]["text"].startswith(f"{day} (UTC): 1 attempt(s) done, 1 failed, $0.25 spent; ")


def test_a_hold_by_the_decision_service_is_one_alert_across_runs(tmp_path: Path) -> None:
    log = tmp_path / "alerts.log"
    hook = {"command": ["sh", "-c", f'echo "$JOBDECK_ALERT_TITLE" >> {log}']}
    notify = {"targets": {"log": hook}, "rules": [{"on": ["needs_you"], "to": ["log"], "throttle": 0}]}
    jobs = [{"id": "b", "command": ["true"], "review": "always"},
            {"id": "c", "command": ["true"], "review": "always", "depends_on": ["b"]},
            {"id": "x", "command": ["true"], "review": "always"}]
    deck = make_deck(tmp_path, jobs, notify=notify, decide={"mode": "live", "review_capacity": 1})
    run_once(deck)
    [hold] = [e for e in events(deck) if e["type"] == "decided" and e["action"] == "hold"]
    assert (hold["job"], hold["needs"]) == ("x", "reviews")
    expected = ["jobdeck needs you: hold x", "jobdeck needs you: review b"]
    assert sorted(log.read_text().splitlines()) == expected
    run_once(deck)  # x is held again for the same reason: the next run from cron does not say it again
    assert sorted(log.read_text().splitlines()) == expected


def test_in_shadow_a_gate_that_would_have_held_a_job_it_ran_pages_nobody(tmp_path: Path) -> None:
    log = tmp_path / "alerts.log"
    hook = {"command": ["sh", "-c", f'echo "$JOBDECK_ALERT_TITLE" >> {log}']}
    notify = {"targets": {"log": hook}, "rules": [{"on": ["hold"], "to": ["log"], "throttle": 0}]}
    jobs = [{"id": "draft-1", "command": ["true"], "review": "always"},
            {"id": "draft-2", "command": ["true"], "review": "always"}]
    deck = make_deck(tmp_path, jobs, notify=notify, decide={"mode": "shadow", "review_capacity": 1})
    jobdeck(deck, "run", "--once", "--parallel", "1", env=env_for(deck), timeout=120)  # (exit 1: both wait for review)
    decided = {e["job"]: e for e in events(deck) if e["type"] == "decided"}
    assert decided["draft-2"]["action"] == "hold"  # what live would have done: recorded for the report
    assert {e["job"] for e in events(deck) if e["type"] == "claimed"} == {"draft-1", "draft-2"}
    assert not log.exists() or "hold" not in log.read_text()


def test_a_command_target_gets_no_control_sequence(tmp_path: Path) -> None:
    seen = tmp_path / "alert.json"
    hook = {"command": ["sh", "-c", f'cat > {seen}']}
    notify = {"targets": {"hook": hook}, "rules": [{"to": ["hook"], "throttle": 0}]}
    title_attack = {"id": "pwn", "command": ["true"],
                    "validate": {"command": ["sh", "-c", r"printf 'bad \033]2;PWN\007 output\n' >&2; exit 1"]}}
    deck = make_deck(tmp_path, [title_attack], notify=notify)
    run_once(deck)
    alert = json.loads(seen.read_text())  # (JSON escapes controls; a hook that prints the decoded text must not)
    for text in (alert["body"], alert["alerts"][0]["text"]):
        assert "\x1b" not in text and "\x07" not in text and "\\x1b]2;PWN\\x07" in text, text


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie no longer does)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_stopping_runner_stops_a_slow_hook_and_says_the_alert_is_unconfirmed(tmp_path: Path) -> None:
    pid_file = tmp_path / "hook.pid"
    hook = {"command": ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"], "timeout": "60s"}
    notify = {"targets": {"slow": hook}, "rules": [{"to": ["slow"], "throttle": 0}]}
    deck = make_deck(tmp_path, [{"id": "bad", "command": ["false"]}], notify=notify)
    started = time.monotonic()
    result = run_once(deck)
    took = time.monotonic() - started
    assert result.returncode == 1  # bad failed
    assert took < 20, took  # 5 s for the alerts, not the hook's 30
    pid = int(pid_file.read_text())
    assert not alive(pid)  # killed with its process group before the runner exited
    line = ("alerts to slow not confirmed as the runner stopped: 'jobdeck needs you: failed bad' still sending "
            "after 5s; the hook was stopped\n")
    assert line in result.stderr, result.stderr
    notes = [e for e in events(deck) if e["type"] == "progress" and e.get("what") == "notify_failed"]
    assert [(n["job"], n["target"]) for n in notes] == [("bad", "slow")]


def test_notify_test_takes_json_anywhere_and_answers_in_json_when_it_cannot_send(tmp_path: Path) -> None:
    notify = {"targets": {"web": {"url": {"env": "NOT_SET_ANYWHERE"}}}}
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}], notify=notify)
    env = env_for(deck)
    env.pop("NOT_SET_ANYWHERE", None)
    for argv in (["notify", "test", "--json", "web"], ["notify", "--json", "test", "web"],
                 ["notify", "test", "web", "--json"]):
        result = jobdeck(deck, *argv, env=env)
        assert result.returncode == 1, (argv, result.stderr)
        assert json.loads(result.stdout) == {"ok": False, "error": None, "targets": {"web": {
            "ok": False, "error": "environment variable NOT_SET_ANYWHERE is not set (notify.targets.web.url)"}}}
    bare = jobdeck(deck, "notify", env=env)
    assert bare.returncode == 2
    usage, error = bare.stderr.splitlines()
    assert usage.startswith("usage: jobdeck notify") and " test" in usage
    assert error == "jobdeck notify: error: the following arguments are required: test"
    empty = make_deck(tmp_path / "empty", [{"id": "a", "command": ["true"]}])
    none = jobdeck(empty, "notify", "test", "--json")
    assert none.returncode == 1 and none.stderr == ""
    answer = json.loads(none.stdout)
    assert (answer["ok"], answer["targets"]) == (False, {})
    assert "no alert targets: jobs.json has no notify.targets" in answer["error"]


def test_two_runners_on_one_deck_send_each_alert_once(tmp_path: Path) -> None:
    """Each runner raised alerts from every record it read, its own and the other's: two runners (or a cron
    `run --once` beside a long-running one) sent each failure, review and decision twice. The runner that wrote
    a record raises its alert; the other only notes the job changed."""
    import signal

    from tests.functional.runner_kit import start_runner, wait_for

    jobs = [{"id": f"bad{n}", "command": ["sh", "-c", "sleep 0.2; false"]} for n in range(8)]
    with Receiver() as receiver:
        deck = make_deck(tmp_path, jobs, notify=NEEDS_YOU_TO_HERE, limits={"parallel": 2})
        env = env_for(deck, HERE_URL=receiver.json_url)
        runners = [start_runner(deck, env=env), start_runner(deck, env=env)]
        try:
            wait_for(lambda: sum(e["type"] == "failed" for e in events(deck)) == 8, what="every job to fail")
            claimed_by = {e["runner"] for e in events(deck) if e["type"] == "claimed"}
            assert len(claimed_by) == 2, "both runners ran jobs"  # (else the test shows nothing)
            wait_for(lambda: len(receiver.messages()) >= 8, what="the alerts")
        finally:
            for runner in runners:
                runner.send_signal(signal.SIGTERM)
            for runner in runners:
                runner.wait(30)
        assert titles(receiver) == sorted(f"jobdeck needs you: failed bad{n}" for n in range(8))


def test_the_operators_own_cancel_of_a_running_job_pages_nobody(tmp_path: Path) -> None:
    from tests.functional.runner_kit import start_runner, status, wait_for

    log = tmp_path / "alerts.log"
    hook = {"command": ["sh", "-c", f'echo "$JOBDECK_ALERT_TITLE" >> {log}']}
    notify = {"targets": {"log": hook}, "rules": [{"on": ["needs_you"], "to": ["log"], "throttle": 0}]}
    deck = make_deck(tmp_path, [{"id": "long", "command": ["sleep", "60"]},
                                {"id": "bad", "command": ["false"], "paused": True}], notify=notify)
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "long") == "running", what="long to run")
        jobdeck(deck, "cancel", "long", check=True)
        wait_for(lambda: any(e["type"] == "failed" and e["job"] == "long" for e in events(deck)),
                 what="the cancelled attempt's end")
        jobdeck(deck, "resume", "bad", check=True)  # a failure after it: its alert comes after the cancel's end
        wait_for(lambda: log.exists() and "failed bad" in log.read_text(), what="bad's alert")
    finally:
        runner.terminate()
        runner.communicate(timeout=30)
    assert status(deck, "long") == "cancelled"
    assert log.read_text().splitlines() == ["jobdeck needs you: failed bad"]  # not "failed long" first


def test_two_rules_that_send_one_alert_to_one_target_send_it_once_paced_by_the_shorter_throttle(
        tmp_path: Path) -> None:
    log = tmp_path / "alerts.log"
    hook = {"command": ["sh", "-c", f'echo "$JOBDECK_ALERT_TITLE" >> {log}']}
    # both rules cover "failed": the first would sum the last two failures up, the second sends each at once
    notify = {"targets": {"log": hook}, "rules": [{"on": ["failed"], "to": ["log"], "throttle": "15m"},
                                                  {"on": ["needs_you"], "to": ["log"], "throttle": 0}]}
    deck = make_deck(tmp_path, [{"id": f"bad{n}", "command": ["false"]} for n in range(3)], notify=notify)
    run_once(deck)
    assert sorted(log.read_text().splitlines()) == [f"jobdeck needs you: failed bad{n}" for n in range(3)]


def held_alert_deck(tmp_path: Path, hook: dict[str, Any]) -> Path:
    """A deck whose first failure's alert goes out to ``hook`` at once and whose second is held for an hour; a
    third job, which succeeds, runs after both, so once it is done the second alert is held."""
    jobs = [{"id": "a", "command": ["false"], "priority": 2}, {"id": "b", "command": ["false"], "priority": 1},
            {"id": "c", "command": ["true"]}]
    notify = {"targets": {"log": hook}, "rules": [{"on": ["needs_you"], "to": ["log"], "throttle": "1h"}]}
    return make_deck(tmp_path, jobs, notify=notify, limits={"parallel": 1})


def gated_hook(started: Path, go: Path, log: Path) -> dict[str, Any]:
    """A hook that notes its start, waits until ``go`` exists, then appends the alert's title to ``log``."""
    script = (f'echo $$ >> {started}; until [ -e {go} ]; do sleep 0.05; done; '
              f'echo "$JOBDECK_ALERT_TITLE" >> {log}')
    return {"command": ["sh", "-c", script], "timeout": "60s"}


def edit_notify(deck: Path, notify: dict[str, Any]) -> None:
    """Replace jobs.json's notify section as an editor does, and wait for the runner to adopt the new file (it
    keeps the bytes of each version it accepts)."""
    from tests.functional.runner_kit import wait_for

    spec = json.loads((deck / "jobs.json").read_text())
    new = json.dumps({**spec, "notify": notify}, indent=1).encode()
    (deck / "jobs.json.new").write_bytes(new)
    os.replace(deck / "jobs.json.new", deck / "jobs.json")
    wait_for(lambda: (deck / ".jobdeck" / "spec.kept.json").read_bytes() == new, what="the runner to reload")


def wait_for_the_held_alert(deck: Path, started: Path) -> None:
    from tests.functional.runner_kit import wait_for

    wait_for(lambda: started.exists() and any(e["type"] == "succeeded" and e["job"] == "c" for e in events(deck)),
             what="a's alert to be sending and b's to be held")


def _through_an_edit(tmp_path: Path, edited: Any) -> tuple[Path, str]:
    """A runner holds b's alert while a's hook runs; the notify section is replaced by ``edited(notify, hook)``,
    a's hook let go, the runner stopped. The log of the first target, and the runner's stderr: the stop waits for
    what is queued, so the log is final once the runner has exited."""
    import signal

    from tests.functional.runner_kit import start_runner

    started, go, log = tmp_path / "started", tmp_path / "go", tmp_path / "alerts.log"
    hook = gated_hook(started, go, log)
    deck = held_alert_deck(tmp_path, hook)
    runner = start_runner(deck)
    try:
        wait_for_the_held_alert(deck, started)
        edit_notify(deck, edited(json.loads((deck / "jobs.json").read_text())["notify"], hook))
    finally:
        go.touch()
        runner.send_signal(signal.SIGTERM)
        _, stderr = runner.communicate(timeout=60)
    return log, stderr


def test_editing_a_target_sends_what_was_held_and_queued_for_it(tmp_path: Path) -> None:
    """Changing a target's settings stopped its worker, which skipped its queue: the summary the edit flushed,
    and anything else queued, vanished without a word."""
    log, stderr = _through_an_edit(tmp_path, lambda notify, hook: {**notify, "targets": {"log": {**hook,
                                                                                                "timeout": "61s"}}})
    assert log.read_text().splitlines() == ["jobdeck needs you: failed a", "jobdeck needs you: failed b"], stderr
    assert "notify" not in stderr and "not confirmed" not in stderr, stderr


def test_a_removed_target_sends_what_was_held_for_it(tmp_path: Path) -> None:
    other = tmp_path / "other.log"
    log, stderr = _through_an_edit(tmp_path, lambda notify, hook: {
        "targets": {"other": {"command": ["sh", "-c", f'echo "$JOBDECK_ALERT_TITLE" >> {other}']}},
        "rules": [{"on": ["needs_you"], "to": ["other"], "throttle": 0}]})
    # held under the rules that named it: it goes where they sent it
    assert log.read_text().splitlines() == ["jobdeck needs you: failed a", "jobdeck needs you: failed b"], stderr
    assert not other.exists()
    assert "not confirmed" not in stderr, stderr


def test_a_stopping_runner_stops_the_hook_of_an_edited_target_and_says_what_is_unconfirmed(tmp_path: Path) -> None:
    import signal

    from tests.functional.runner_kit import start_runner

    started, go, log = tmp_path / "started", tmp_path / "go", tmp_path / "alerts.log"
    hook = gated_hook(started, go, log)
    deck = held_alert_deck(tmp_path, hook)
    runner = start_runner(deck)
    try:
        wait_for_the_held_alert(deck, started)
        spec = json.loads((deck / "jobs.json").read_text())
        edit_notify(deck, {**spec["notify"], "targets": {"log": {**hook, "timeout": "61s"}}})
        runner.send_signal(signal.SIGTERM)  # a's hook never ends on its own
        _, stderr = runner.communicate(timeout=60)
        [pid] = [int(line) for line in started.read_text().splitlines()]
        assert not alive(pid)  # killed with its process group before the runner exited
    finally:
        go.touch()
        runner.kill()
        runner.wait()
    line = ("alerts to log not confirmed as the runner stopped: 'jobdeck needs you: failed a', "
            "'jobdeck needs you: failed b' still sending after 5s; the hook was stopped\n")
    assert line in stderr, stderr
    assert not log.exists()
