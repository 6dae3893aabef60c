"""The runner's printed output: a stream that fails is given up, never fatal to the runner."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from jobdeck.cli.report import Reporter
from jobdeck.state.gc import GcError

RECORD = {"type": "succeeded", "job": "fetch", "seq": 3, "ts": 0.0, "review": False}


def test_json_lines_are_one_record_each() -> None:
    stream = io.StringIO()
    Reporter(json_lines=True, stream=stream)(RECORD)
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == [RECORD]


def test_a_full_stream_is_given_up_after_one_notice(capsys: pytest.CaptureFixture[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as to a closed `| head`
    stream = open(write_end, "w")
    reporter = Reporter(json_lines=True, stream=stream)
    reporter(RECORD)
    reporter(RECORD)
    assert reporter.broken
    assert capsys.readouterr().err.count("cannot write the runner's output") == 1
    try:
        stream.close()
    except OSError:
        pass


def test_the_runners_own_trouble_goes_to_stderr_even_when_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    reporter = Reporter(quiet=True, stream=stream)
    reporter({"type": "write_error", "message": "/d/.jobdeck/events.jsonl: Permission denied",
              "next": "starting nothing new; retrying every second", "ts": 0.0})
    reporter({"type": "lock_timeout", "message": "the deck lock /d/.jobdeck/lock is held", "ts": 0.0})
    reporter(RECORD)
    err = capsys.readouterr().err.splitlines()
    assert [line.split(" ", 1)[1] for line in err] == [
        "the deck refuses writes, starting nothing new; retrying every second: "
        "/d/.jobdeck/events.jsonl: Permission denied",
        "the deck lock /d/.jobdeck/lock is held; trying again"]
    assert stream.getvalue() == ""


def test_a_record_the_command_reports_itself_is_not_printed(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    reporter = Reporter(stream=stream, unprinted=frozenset({"write_error"}))
    reporter({"type": "write_error", "message": "full", "ts": 0.0})
    assert capsys.readouterr().err == "" and stream.getvalue() == ""
    json_stream = io.StringIO()
    Reporter(json_lines=True, stream=json_stream, unprinted=frozenset({"write_error"}))({"type": "write_error"})
    assert json.loads(json_stream.getvalue()) == {"type": "write_error"}, "scripts still get every record"


def test_an_automatic_gc_that_left_directories_names_the_first_and_how_to_mend_it_on_stderr(
        capsys: pytest.CaptureFixture[str]) -> None:
    first = GcError(Path("/d/workspaces/default/runs/up/.gc-2"), "Permission denied",
                    "make it writable, as its owner: `chmod -R u+rwX /d/workspaces/default/runs/up/.gc-2`, "
                    "then run `jobdeck gc` again")
    second = GcError(Path("/d/workspaces/default/runs/up/.gc-3"), "Permission denied", "the same")
    stream = io.StringIO()
    Reporter(stream=stream, quiet=True)({"type": "gc", "removed": 3, "bytes_freed": 4096,
                                         "errors": [first.to_json(), second.to_json()]})
    assert stream.getvalue() == ""
    line = capsys.readouterr().err
    assert line.endswith(" retention removed 3 attempt directories (4 KiB); could not remove "
                         "/d/workspaces/default/runs/up/.gc-2: Permission denied (hint: make it writable, as its "
                         "owner: `chmod -R u+rwX /d/workspaces/default/runs/up/.gc-2`, then run `jobdeck gc` again) "
                         "(and 1 more: `jobdeck gc` names each)\n"), line


def test_what_the_decision_service_keeps_back_or_warns_of_is_a_line_and_a_claims_verdict_is_not() -> None:
    stream = io.StringIO()
    reporter = Reporter(stream=stream)
    decided = {"type": "decided", "mode": "live", "seq": 9, "ts": 0.0}
    reporter({**decided, "job": "draft", "action": "hold", "needs": "reviews",
              "reasons": ["review queue 3 of capacity 3, and its output goes to review"]})
    reporter({**decided, "job": "night", "action": "defer", "needs": "window", "until": 3600.0,
              "reasons": ["window 22:00-06:00 (UTC) opens at 22:00"]})
    reporter({**decided, "job": "report", "action": "at_risk", "deadline": 7200.0,
              "reasons": ["deadline 06:00 UTC at risk: what is left of its path takes 2h at p90, so it ends about "
                          "07:00 UTC, 1h late"]})
    reporter({**decided, "job": "fetch", "action": "start", "rank": 1, "reasons": ["deadline 06:00 UTC, slack 2h"]})
    # shadow's advice on a claim it would not have made: the job starts, so no "held" line says otherwise
    reporter({**decided, "mode": "shadow", "job": "draft2", "action": "hold", "needs": "reviews", "followed": False,
              "advised": ["fetch"], "reasons": ["review queue 0 of capacity 0, and its output goes to review"]})
    assert [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()] == [
        "draft held by the decision service: review queue 3 of capacity 3, and its output goes to review "
        "(hint: `jobdeck pin draft` starts it now anyway)",
        "night deferred: window 22:00-06:00 (UTC) opens at 22:00 "
        "(hint: `jobdeck pin night` starts it now anyway)",
        "report: deadline 06:00 UTC at risk: what is left of its path takes 2h at p90, so it ends about 07:00 UTC, "
        "1h late"]


def _line(record: dict[str, object], capsys: pytest.CaptureFixture[str], **options: bool) -> str:
    """The one line a reporter for people prints for ``record`` (stdout or stderr), without its time."""
    stream = io.StringIO()
    Reporter(stream=stream, **options)({"ts": 0.0, **record})
    printed = (stream.getvalue() + capsys.readouterr().err).splitlines()
    assert len(printed) == 1, printed
    return printed[0].split(" ", 1)[1]


@pytest.mark.parametrize(("error", "said"), [
    (PermissionError(13, "Permission denied", "/sys/fs/cgroup/user.slice/jobdeck-42-a1b2c3"),
     "no cgroup: /sys/fs/cgroup/user.slice is not writable by this user"),
    (PermissionError(1, "Operation not permitted", "/sys/fs/cgroup/jobdeck-42-a1b2c3/runner/cgroup.procs"),
     "no cgroup: /sys/fs/cgroup/jobdeck-42-a1b2c3/runner/cgroup.procs is not writable by this user"),
    (OSError(30, "Read-only file system", "/sys/fs/cgroup/jobdeck-42-a1b2c3"),
     "no cgroup: /sys/fs/cgroup is read-only"),
    (FileNotFoundError("no cgroup v2 hierarchy holds this process"),
     "no cgroup: no cgroup v2 hierarchy holds this process"),
])
def test_no_cgroup_reads_as_the_usual_case_not_as_an_error(capsys: pytest.CaptureFixture[str],
                                                          error: OSError, said: str) -> None:
    record = {"type": "runner_started", "runner": "vm-42-a1b2", "parallel": 4, "boundary": "subreaper",
              "boundary_why": f"no cgroup: {error}"}  # as agents/containment.py words it
    assert _line(record, capsys) == f"runner vm-42-a1b2 started (parallel 4, boundary subreaper; {said})"
    json_stream = io.StringIO()
    Reporter(json_lines=True, stream=json_stream)(record)
    assert json.loads(json_stream.getvalue())["boundary_why"] == f"no cgroup: {error}"  # the reason, as raised


def test_another_runners_claim_is_said_to_be_theirs(capsys: pytest.CaptureFixture[str]) -> None:
    record = {"type": "claimed_elsewhere", "job": "report", "attempt": 2, "runner": "vm-7-beef"}
    assert _line(record, capsys) == "report started by another runner, vm-7-beef (attempt 2)"


@pytest.mark.parametrize(("record", "options", "said"), [
    ({"type": "stopping", "by": "SIGINT", "grace": 10.0, "running": 2}, {},
     "stopping: waiting up to 10s for 2 running attempts (^C again to stop now)"),
    ({"type": "stopping", "by": "SIGTERM", "grace": 2.5, "running": 1}, {"quiet": True},
     "stopping on SIGTERM: waiting up to 2.5s for 1 running attempt"),
    ({"type": "stopping_now", "by": "SIGINT", "running": 1}, {"quiet": True},
     "stopping now: stopping 1 running attempt"),
])
def test_a_stop_is_said_on_stderr_even_when_quiet(capsys: pytest.CaptureFixture[str], record: dict[str, object],
                                                  options: dict[str, bool], said: str) -> None:
    stream = io.StringIO()
    Reporter(stream=stream, **options)({"ts": 0.0, **record})
    assert stream.getvalue() == ""
    assert capsys.readouterr().err.split(" ", 1)[1] == said + "\n"


@pytest.mark.parametrize(("record", "said"), [
    ({"type": "approved", "job": "publish", "by": "ana@box"}, "publish approved by ana@box"),
    ({"type": "rejected", "job": "report", "by": "ana@box", "reason": "wrong totals"},
     "report rejected by ana@box: wrong totals"),
    ({"type": "paused", "job": "enrich", "by": "ana@box"}, "enrich paused by ana@box"),
    ({"type": "resumed", "job": "enrich", "by": "cockpit"}, "enrich resumed by cockpit"),
    ({"type": "pinned", "job": "night", "by": "ana@box", "reason": "the board meets at 9"},
     "night pinned to start next by ana@box: the board meets at 9"),
    ({"type": "held", "job": "night", "by": "ana@box"}, "night held until released by ana@box"),
    ({"type": "released", "job": "night", "by": "ana@box"}, "night released by ana@box"),
])
def test_the_operators_hand_is_a_line_whether_or_not_it_moves_the_job(capsys: pytest.CaptureFixture[str],
                                                                     record: dict[str, object], said: str) -> None:
    assert _line(record, capsys) == said


def test_processes_a_job_left_running_are_said_when_the_runner_stops_them(capsys: pytest.CaptureFixture[str]) -> None:
    record = {"type": "progress", "job": "svc", "what": "leftovers_stopped", "processes": 2, "names": ["redis-server"]}
    assert _line(record, capsys) == \
        "svc: stopped 2 processes it left running (redis-server) (a job's processes end with it)"
