"""The Slurm executor against a real single-node cluster (started by conftest.py): real sbatch, real runners.

Jobs that must be caught mid-run wait on a file the test creates (a barrier),
so nothing here depends on how fast the cluster is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.functional.runner_kit import env_for, events, jobdeck, make_deck, output_of, start_runner, status, wait_for

WAIT = 60.0
"""Seconds any one step may take (a Slurm job starts within a second or two here)."""


def slurm_deck(tmp_path: Path, jobs: list[dict[str, Any]], **top: Any) -> Path:
    executors = top.pop("executors", {"cluster": {"type": "slurm", "partition": "debug", "poll": 0.3}})
    return make_deck(tmp_path, [{"executor": "cluster", **job} for job in jobs], executors=executors, **top)


def runner_env(deck: Path, slurm: Any, **extra: str) -> dict[str, str]:
    return env_for(deck, **slurm.env, **extra)


def barrier(tmp_path: Path) -> tuple[Path, list[str]]:
    """A file the test creates to let a job go on, and a command that prints, waits for it, prints again."""
    path = tmp_path / "go"
    return path, ["sh", "-c", f"echo first; while [ ! -e {path} ]; do sleep 0.1; done; echo second"]


def remote_record(deck: Path, job: str, attempt: int = 1) -> dict[str, Any] | None:
    path = deck / "workspaces" / "default" / "runs" / job / str(attempt) / "remote.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def squeue(slurm: Any, *args: str) -> str:
    return subprocess.run(["squeue", "-h", "--states=all", *args], env={**os.environ, **slurm.env},
                          capture_output=True, text=True, check=True).stdout


def slurm_state(slurm: Any, job_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], env={**os.environ, **slurm.env},
                         capture_output=True, text=True).stdout
    fields = dict(item.partition("=")[::2] for item in out.split())
    return fields.get("JobState", "gone")


def running_remotely(deck: Path, job: str, slurm: Any) -> str | None:
    """The Slurm job id once the attempt's job runs on the cluster, else None."""
    record = remote_record(deck, job)
    if record is None or "id" not in record:
        return None
    return record["id"] if slurm_state(slurm, record["id"]) == "RUNNING" else None


def train_on_cluster(tmp_path: Path, slurm: Any, *runner_args: str) -> tuple[Path, Path, subprocess.Popen[str], str]:
    """A deck whose job "train" runs on the cluster, waiting at a barrier: (deck, barrier, runner, Slurm id)."""
    go, command = barrier(tmp_path)
    deck = slurm_deck(tmp_path, [{"id": "train", "command": command}])
    runner = start_runner(deck, *runner_args, env=runner_env(deck, slurm))
    try:
        job_id = wait_for(lambda: running_remotely(deck, "train", slurm), WAIT, "the job to run on the cluster")
    except BaseException:
        stop(runner)
        raise
    return deck, go, runner, job_id


def finish(deck: Path, go: Path, runner: subprocess.Popen[str]) -> None:
    """Let the job past its barrier; the `--once` runner ends, with the job done and its whole output kept."""
    try:
        go.touch()
        assert runner.wait(timeout=WAIT) == 0
    finally:
        stop(runner)
    assert status(deck, "train") == "done"
    assert output_of(deck, "train") == "first\nsecond\n"


def following(deck: Path, pid: int, job: str) -> bool:
    """Whether the runner with this pid says (in its heartbeat) that it follows the job on the cluster."""
    from jobdeck.state.heartbeat import read_heartbeats

    return any(beat.pid == pid and job in beat.running and beat.notes.get(job, "").startswith("running on")
               for beat in read_heartbeats(deck / ".jobdeck" / "runners"))


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=WAIT)
    return out + err


def test_output_is_streamed_while_the_job_runs_and_the_attempt_succeeds(tmp_path: Path, slurm: Any) -> None:
    deck, go, proc, _ = train_on_cluster(tmp_path, slurm, "--once")
    try:
        wait_for(lambda: "first" in output_of(deck, "train"), WAIT, "the first line, while the job runs")
        assert status(deck, "train") == "running"
        wait_for(lambda: any(e.get("remote") == "running" and e.get("node") == slurm.node for e in events(deck)),
                 WAIT, "the runner to record where the job runs")
    finally:
        finish(deck, go, proc)
    kinds = [e.get("remote") for e in events(deck) if e["type"] == "progress"]
    assert kinds.count("submitted") == 1
    attempt_dir = deck / "workspaces" / "default" / "runs" / "train" / "1"
    assert sorted(p.name for p in attempt_dir.iterdir()) == ["output", "remote.json", "result.json", "stderr.log"]


def test_secrets_are_redacted_and_on_no_command_line_or_script(tmp_path: Path, slurm: Any) -> None:
    secret = "s3cr3t-value-4242"
    deck = slurm_deck(tmp_path, [{"id": "leak", "command": ["sh", "-c", "echo token=$TOKEN; echo $TOKEN >&2"],
                                  "env": {"TOKEN": {"env": "API_TOKEN"}}}])
    result = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm, API_TOKEN=secret), timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    attempt_dir = deck / "workspaces" / "default" / "runs" / "leak" / "1"
    for path in attempt_dir.iterdir():
        assert secret.encode() not in path.read_bytes(), path.name
    assert "token=" in output_of(deck, "leak") and "[REDACTED" in output_of(deck, "leak")
    assert oct(os.stat(attempt_dir / "output").st_mode & 0o777) == "0o600"


def test_a_retryable_exit_code_is_retried_on_the_cluster(tmp_path: Path, slurm: Any) -> None:
    marker = tmp_path / "marker"
    deck = slurm_deck(tmp_path, [{"id": "flaky", "command": [
        "sh", "-c", f"if [ -e {marker} ]; then echo ok; exit 0; fi; touch {marker}; exit 3"],
        "retry": {"max_attempts": 2, "retryable_exit_codes": [3], "delay": 0.1}}])
    result = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm), timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    ends = [e for e in events(deck) if e["type"] in ("failed", "succeeded")]
    assert [(e["type"], e.get("exit_code")) for e in ends] == [("failed", 3), ("succeeded", 0)]
    assert ends[0]["reason"] == "exit_code"
    assert output_of(deck, "flaky", 2) == "ok\n"


@pytest.mark.parametrize("kind", ["idle", "hard"])
def test_timeouts_stop_the_slurm_job(tmp_path: Path, slurm: Any, kind: str) -> None:
    timeout = {"idle": 1.5} if kind == "idle" else {"hard": 2}
    deck = slurm_deck(tmp_path, [{"id": "stuck", "command": ["sh", "-c", "echo started; exec sleep 300"],
                                  "timeout": {**timeout, "grace": 1}}])
    result = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm), timeout=WAIT)
    assert result.returncode != 0
    failed = [e for e in events(deck) if e["type"] == "failed"]
    assert [e["reason"] for e in failed] == [f"{kind}_timeout"]
    record = remote_record(deck, "stuck")
    assert record is not None
    wait_for(lambda: slurm_state(slurm, record["id"]) not in ("RUNNING", "PENDING", "gone"), WAIT,
             "the Slurm job to end")
    assert output_of(deck, "stuck") == "started\n"


def test_cancel_ends_the_slurm_job(tmp_path: Path, slurm: Any) -> None:
    deck = slurm_deck(tmp_path, [{"id": "long", "command": ["sh", "-c", "echo up; exec sleep 300"]}])
    proc = start_runner(deck, env=runner_env(deck, slurm))
    try:
        job_id = wait_for(lambda: running_remotely(deck, "long", slurm), WAIT, "the job to run on the cluster")
        wait_for(lambda: "up" in output_of(deck, "long"), WAIT, "its output")
        jobdeck(deck, "cancel", "long", check=True)
        wait_for(lambda: status(deck, "long") != "running", WAIT, "the attempt to end")
        wait_for(lambda: slurm_state(slurm, job_id) in ("CANCELLED", "FAILED", "COMPLETED"), WAIT,
                 "the Slurm job to end")
    finally:
        stop(proc)
    assert [e["reason"] for e in events(deck) if e["type"] == "failed"] == ["cancelled"]


def test_a_refused_submission_fails_the_job_with_slurms_reason(tmp_path: Path, slurm: Any) -> None:
    deck = slurm_deck(tmp_path, [{"id": "train", "command": ["true"]}, {"id": "after", "command": ["true"],
                                                                        "executor": "local"}],
                      executors={"cluster": {"type": "slurm", "partition": "no-such-partition"}})
    result = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm), timeout=WAIT)
    assert result.returncode != 0
    failed = [e for e in events(deck) if e["type"] == "failed"]
    assert len(failed) == 1 and failed[0]["reason"] == "not_submitted"
    assert failed[0]["message"] == ("cluster refused the job: Batch job submission failed: "
                                    "Invalid partition name specified")
    assert status(deck, "after") == "done", "the rest of the deck ran"
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "train" in line and "fail" in line]
    assert len(lines) == 1 and "Invalid partition name" in lines[0], result.stdout + result.stderr


def test_a_queued_job_says_why_on_its_card_and_runs_once_the_node_is_back(tmp_path: Path, slurm: Any) -> None:
    deck = slurm_deck(tmp_path, [{"id": "waits", "command": ["echo", "ran"]}])
    slurm.drain("maintenance")
    proc = None
    try:
        proc = start_runner(deck, "--once", env=runner_env(deck, slurm))
        wait_for(lambda: any(e.get("remote") == "queued" and e.get("why") for e in events(deck)), WAIT,
                 "a queued event with Slurm's reason")

        def listed() -> str | None:
            shown = jobdeck(deck, "ls", "--json", env=runner_env(deck, slurm)).stdout
            notes = [flag for job in json.loads(shown) for flag in job.get("flags", ())]
            return next((n for n in notes if n.startswith("queued on cluster (PD: ")), None)

        assert wait_for(listed, WAIT, "the card's note")
        assert status(deck, "waits") == "running"
    finally:
        slurm.resume()
    try:
        assert proc.wait(timeout=WAIT) == 0
    finally:
        stop(proc)
    assert output_of(deck, "waits") == "ran\n"


def test_a_runner_killed_mid_job_is_followed_by_one_that_takes_the_attempt_over(tmp_path: Path, slurm: Any) -> None:
    deck, go, first, job_id = train_on_cluster(tmp_path, slurm)
    wait_for(lambda: "first" in output_of(deck, "train"), WAIT, "its first line")
    first.kill()
    first.communicate()
    assert slurm_state(slurm, job_id) == "RUNNING", "the job outlives its runner"
    second = start_runner(deck, "--once", env=runner_env(deck, slurm))
    try:
        wait_for(lambda: following(deck, second.pid, "train"), WAIT, "the new runner to follow the job")
        go.touch()
        assert second.wait(timeout=WAIT) == 0
    finally:
        said = stop(second)
    assert "taken over" in said or "taken_over" in said, said
    assert status(deck, "train") == "done"
    assert output_of(deck, "train") == "first\nsecond\n"
    assert [e.get("remote_id") for e in events(deck) if e.get("remote") == "submitted"] == [job_id]
    named = squeue(slurm, f"--name={remote_record(deck, 'train')['name']}", "-o", "%i").split()  # type: ignore[index]
    assert named == [job_id], "submitted once"


def test_a_crash_between_sbatch_and_its_record_does_not_submit_twice(tmp_path: Path, slurm: Any) -> None:
    ran = tmp_path / "ran.txt"
    deck = slurm_deck(tmp_path, [{"id": "once", "command": ["sh", "-c", f"echo ran >> {ran}; echo ok"]}])
    crashed = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm, JOBDECK_CRASH_AT="remote.submitted"),
                      timeout=WAIT)
    assert crashed.returncode != 0
    record = remote_record(deck, "once")
    assert record is not None and "id" not in record, "the crash came before the id was recorded"
    result = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm), timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert status(deck, "once") == "done"
    assert ran.read_text() == "ran\n", "the command ran once"
    assert len(squeue(slurm, f"--name={record['name']}", "-o", "%i").split()) == 1


def test_a_slurm_job_that_vanished_interrupts_the_attempt_and_an_idempotent_job_is_retried(
        tmp_path: Path, slurm: Any) -> None:
    deck = slurm_deck(tmp_path, [{"id": "job", "command": ["sh", "-c", "echo up; exec sleep 300"], "idempotent": True,
                                  "retry": {"max_attempts": 2, "delay": 0.1}}])
    first = start_runner(deck, env=runner_env(deck, slurm))
    job_id = wait_for(lambda: running_remotely(deck, "job", slurm), WAIT, "the job to run on the cluster")
    # its command runs, so the batch script is past setting its trap: the cancel below leaves a result
    wait_for(lambda: "up" in output_of(deck, "job"), WAIT, "the command's first line")
    first.kill()
    first.communicate()
    # The cluster loses the job and its result (as after a node failure and a purge): its record points nowhere.
    subprocess.run(["scancel", job_id], env={**os.environ, **slurm.env}, check=True)
    result = deck / "workspaces" / "default" / "runs" / "job" / "1" / "remote.result"
    wait_for(result.exists, WAIT, "the wrapper to record the cancelled command's end")
    result.unlink()
    path = deck / "workspaces" / "default" / "runs" / "job" / "1" / "remote.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "id": "999999"}))
    spec = json.loads((deck / "jobs.json").read_text())
    spec["jobs"][0]["command"] = ["echo", "second"]
    (deck / "jobs.json").write_text(json.dumps(spec))
    result = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm), timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [e["type"] for e in events(deck) if e["type"] in ("interrupted", "succeeded", "failed")] == \
        ["interrupted", "succeeded"]
    assert output_of(deck, "job", 2) == "second\n"


def test_a_controller_restart_mid_job_loses_nothing(tmp_path: Path, slurm: Any) -> None:
    deck, go, proc, _ = train_on_cluster(tmp_path, slurm, "--once")
    try:
        slurm.restart_controller()
    finally:
        finish(deck, go, proc)


def test_a_stopped_runner_leaves_the_job_running_for_the_next(tmp_path: Path, slurm: Any) -> None:
    deck, go, first, job_id = train_on_cluster(tmp_path, slurm)
    started = time.monotonic()
    said = stop(first)
    assert time.monotonic() - started < 10, "a stop does not wait for the cluster's job"
    assert first.returncode == 0, said
    assert slurm_state(slurm, job_id) == "RUNNING" and status(deck, "train") == "running"
    go.touch()
    result = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm), timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert status(deck, "train") == "done" and output_of(deck, "train") == "first\nsecond\n"


def test_an_executors_parallel_limit_counts_its_cluster_attempts(tmp_path: Path, slurm: Any) -> None:
    go, wait = barrier(tmp_path)
    deck = slurm_deck(tmp_path, [{"id": "a", "command": wait}, {"id": "b", "command": ["echo", "b"]},
                                 {"id": "here", "command": ["echo", "here"], "executor": "local"}],
                      executors={"cluster": {"type": "slurm", "partition": "debug", "poll": 0.3, "parallel": 1}},
                      limits={"parallel": 4})
    proc = start_runner(deck, "--once", env=runner_env(deck, slurm))
    try:
        wait_for(lambda: running_remotely(deck, "a", slurm), WAIT, "a to run on the cluster")
        wait_for(lambda: status(deck, "here") == "done", WAIT, "the local job, which the limit leaves alone")
        assert status(deck, "b") == "backlog"
        why = jobdeck(deck, "why", "b", env=runner_env(deck, slurm)).stdout
        assert "executor cluster allows 1 at once: 1 running" in why, why
        go.touch()
        assert proc.wait(timeout=WAIT) == 0
    finally:
        stop(proc)
    order = [(e["type"], e["job"]) for e in events(deck)
             if e["type"] in ("claimed", "succeeded") and e["job"] != "here"]
    assert order == [("claimed", "a"), ("succeeded", "a"), ("claimed", "b"), ("succeeded", "b")]


def test_a_crash_before_sbatch_never_submits_that_attempt_and_an_idempotent_job_runs_again(
        tmp_path: Path, slurm: Any) -> None:
    ran = tmp_path / "ran.txt"
    deck = slurm_deck(tmp_path, [{"id": "job", "command": ["sh", "-c", f"echo ran >> {ran}"], "idempotent": True}])
    crashed = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm, JOBDECK_CRASH_AT="remote.before_submit"),
                      timeout=WAIT)
    assert crashed.returncode != 0
    first = remote_record(deck, "job")
    assert first is not None and "id" not in first
    result = jobdeck(deck, "run", "--once", env=runner_env(deck, slurm), timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [e["type"] for e in events(deck) if e["type"] in ("interrupted", "succeeded", "failed")] == \
        ["interrupted", "succeeded"]
    assert ran.read_text() == "ran\n", "only the second attempt ran"
    assert squeue(slurm, f"--name={first['name']}", "-o", "%i").split() == [], "the first was never submitted"


def test_a_job_cancelled_while_no_runner_follows_it_has_its_batch_job_cancelled_by_the_next(
        tmp_path: Path, slurm: Any) -> None:
    deck, go, first, job_id = train_on_cluster(tmp_path, slurm)
    first.kill()
    first.communicate()
    jobdeck(deck, "cancel", "train", check=True)
    assert slurm_state(slurm, job_id) == "RUNNING", "nothing has stopped it yet"
    second = start_runner(deck, env=runner_env(deck, slurm))
    try:
        wait_for(lambda: slurm_state(slurm, job_id) in ("CANCELLED", "FAILED", "COMPLETED"), WAIT,
                 "the next runner to cancel the batch job")
    finally:
        said = stop(second)
    assert f"train: cancelled its job {job_id} on cluster" in said, said
    assert status(deck, "train") == "cancelled"
    assert not (deck / "workspaces" / "default" / "runs" / "train" / "1" / "remote.sh").exists()
