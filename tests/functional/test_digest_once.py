"""The daily digest goes out once per UTC day whatever the number of runners on the deck, and a runner killed
after it took the digest on but before it was sent leaves it to the next runner rather than losing it.

Two kinds of process share one deck and one HTTP receiver on 127.0.0.1: real `jobdeck run --once` runners,
and a runner's Notifier alone in a process of its own (``DRIVER``), whose turns the test asks for with the
time they happen at, so that one of them can stand on the next UTC day. The barrier that makes a race
deterministic is the crash point of the digest file's write, with SIGSTOP: the process stops there (after it
decided to send) until the test continues it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jobdeck.runner.digest_once import DIGEST_FILE, SENDING_FILE
from tests.functional.receiver import Receiver
from tests.functional.runner_kit import ROOT, env_for, jobdeck, make_deck, wait_for

DIGEST_TO_HERE = {"targets": {"here": {"url": {"env": "HERE_URL"}}},
                  "rules": [{"on": ["digest"], "to": ["here"], "throttle": 0}]}
DAY = 86400

DRIVER = r"""
import os, sys
from pathlib import Path
from jobdeck.runner.notifier import Notifier
from jobdeck.state.board import open_store
from jobdeck.state.deck import Deck
from jobdeck.state.loader import load_spec
from jobdeck.state.redact import Redactor

deck = Deck(Path(sys.argv[1]))
spec = load_spec(deck.spec_path).spec
redactor = Redactor.for_spec(spec, os.environ)
store = open_store(deck)
notifier = Notifier(str(deck.root), os.environ, redactor, raised_path=deck.state_dir / "alerts-raised.json")
notifier.configure(spec, redactor)
for line in sys.stdin:  # "turn NOW": one turn of a runner at NOW, its sends waited for, then the next turn
    now = float(line.split()[1])
    store.refresh()
    notifier.turn(spec, store.board, now)
    notifier.flush(now)
    notifier.drain(float(os.environ.get("DRAIN", "20")))  # (a stopping runner waits NOTIFY_DRAIN)
    notifier.turn(spec, store.board, now)
    print("turned", *notifier.problems, flush=True)
    notifier.problems.clear()
notifier.close()
"""


def driver(deck: Path, receiver: Receiver, **env: str) -> subprocess.Popen[str]:
    """A runner's Notifier in a process of its own, taking "turn NOW" lines on stdin."""
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(deck)], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_for(deck, HERE_URL=receiver.json_url, **env))


def turn(process: subprocess.Popen[str], now: float) -> str:
    """Ask ``process`` for a turn at ``now`` and wait for it."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"turn {now}\n")
    process.stdin.flush()
    return process.stdout.readline()


def stopped(pid: int) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP at a crash point)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return stat.read().rsplit(b")", 1)[1].split()[0] == b"T"


def deck_with_work_on(tmp_path: Path, *days: int) -> Path:
    """A deck whose job `a` succeeded once on each of ``days`` (UTC day numbers), and is done."""
    from jobdeck.state.board import open_store
    from jobdeck.state.deck import Deck

    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}], notify=DIGEST_TO_HERE)
    with open_store(Deck(deck)) as store:
        for attempt, day in enumerate(days, 1):
            at = day * DAY + 3600
            if store.board.state("a").status.value == "done":
                store.commit([{"type": "retried", "job": "a", "by": "op"}], now=at - 1)
            store.commit([{"type": "claimed", "job": "a", "attempt": attempt, "runner": "past"}], now=at)
            store.commit([{"type": "succeeded", "job": "a", "token": store.board.state("a").token}], now=at + 60)
    return deck


def digests(receiver: Receiver) -> list[str]:
    return [m["message"].split(" (UTC)")[0] for m in receiver.messages() if m["title"] == "jobdeck news: digest"]


def run_once(deck: Path, receiver: Receiver) -> subprocess.CompletedProcess[str]:
    result = jobdeck(deck, "run", "--once", env=env_for(deck, HERE_URL=receiver.json_url), timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def stopped_at(deck: Path, receiver: Receiver, crash_at: str, what: str) -> subprocess.Popen[str]:
    """A driver asked for a turn now, stopped (SIGSTOP) at the crash point ``crash_at`` of that turn."""
    process = driver(deck, receiver, JOBDECK_CRASH_AT=crash_at, JOBDECK_CRASH_SIGNAL="SIGSTOP")
    assert process.stdin is not None
    process.stdin.write(f"turn {time.time()}\n")
    process.stdin.flush()
    wait_for(lambda: stopped(process.pid), 30, what)
    return process


def test_two_runners_reaching_the_digest_at_once_send_it_once(tmp_path: Path) -> None:
    today = int(time.time() // DAY)
    deck = deck_with_work_on(tmp_path, today - 1)
    with Receiver() as receiver:
        # the first stops right after it decided to send, as it writes the digest files
        first = stopped_at(deck, receiver, "atomic.before_write", "the first runner to stop at the digest's write")
        # a second runner (cron's run --once) reaches the digest meanwhile, and finishes its run
        second = run_once(deck, receiver)
        first.send_signal(signal.SIGCONT)
        assert first.stdout is not None and first.stdout.readline().startswith("turned")
        assert first.stdin is not None
        first.stdin.close()
        assert first.wait(30) == 0, first.stderr.read() if first.stderr else ""
        run_once(deck, receiver)  # a third, later: the digest was sent
        day = time.strftime("%Y-%m-%d", time.gmtime((today - 1) * DAY))
        assert digests(receiver) == [day], second.stderr
    assert (deck / ".jobdeck" / DIGEST_FILE).read_text().strip() == str(today)


def test_a_runner_that_looked_yesterday_does_not_repeat_the_digest_another_sent_today(tmp_path: Path) -> None:
    today = int(time.time() // DAY)
    deck = deck_with_work_on(tmp_path, today - 2, today - 1)
    with Receiver() as receiver:
        long_running = driver(deck, receiver)
        try:
            assert turn(long_running, (today - 1) * DAY + 7200).startswith("turned")  # yesterday: the day before's
            run_once(deck, receiver)  # cron, past midnight: yesterday's digest
            assert turn(long_running, time.time()).startswith("turned")  # the long-running runner's next turn
        finally:
            assert long_running.stdin is not None
            long_running.stdin.close()
            long_running.wait(30)
        days = [time.strftime("%Y-%m-%d", time.gmtime(day * DAY)) for day in (today - 2, today - 1)]
        assert digests(receiver) == days


def test_a_runner_killed_after_taking_the_digest_on_leaves_it_to_the_next(tmp_path: Path) -> None:
    today = int(time.time() // DAY)
    deck = deck_with_work_on(tmp_path, today - 1)
    with Receiver() as receiver:
        # stopped once its decision is on disk (digest-sending, then the day in digest-sent, renamed into place),
        # before anything is sent
        doomed = stopped_at(deck, receiver, "atomic.after_rename:2", "the runner to stop after writing the digest")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(30)
        assert digests(receiver) == []
        # the day alone, as a jobdeck from before digest-sending reads it: taken on, not to be sent by it too
        assert (deck / ".jobdeck" / DIGEST_FILE).read_text() == str(today)
        assert (deck / ".jobdeck" / SENDING_FILE).exists()
        after = run_once(deck, receiver)  # the next runner sends it, and says why
        run_once(deck, receiver)
        day = time.strftime("%Y-%m-%d", time.gmtime((today - 1) * DAY))
        assert digests(receiver) == [day]
        assert f"sending the digest of {day} again" in after.stderr
    assert (deck / ".jobdeck" / DIGEST_FILE).read_text().strip() == str(today)
    assert not (deck / ".jobdeck" / SENDING_FILE).exists()


def test_a_digest_still_sending_when_its_runner_stops_is_not_sent_again_by_every_run(tmp_path: Path) -> None:
    """A target slower than a stopping runner waits (an SMTP relay, a slow webhook): the digest was handed over,
    and may arrive; the next runs must not send it again, every cron minute of the day."""
    today = int(time.time() // DAY)
    deck = deck_with_work_on(tmp_path, today - 1)
    with Receiver(hang=True) as slow:
        stopping = driver(deck, slow, DRAIN="0.3")
        try:
            assert turn(stopping, time.time()).startswith("turned")
            slow.wait(1)  # it reached the target, which holds it
        finally:
            assert stopping.stdin is not None
            stopping.stdin.close()
            stopping.wait(30)
    assert (deck / ".jobdeck" / DIGEST_FILE).read_text().strip() == str(today)
    with Receiver() as receiver:
        later = run_once(deck, receiver)
        assert digests(receiver) == [] and "again" not in later.stderr
