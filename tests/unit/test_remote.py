"""The executor seam without a cluster: the wrapper script, result codes, client environment, placement."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from jobdeck.agents.remote import _read_result, client_env, wrapper_script
from jobdeck.agents.slurm import last_line, time_limit
from jobdeck.state.limits import limit_keys
from jobdeck.state.loader import parse_spec


def context(tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(attempt=3, job=SimpleNamespace(id="train"))


def run_wrapper(tmp_path: Path, argv: list[str], stdin: bytes | None = None,
                cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    result = tmp_path / "remote.result"
    stdin_path = None
    if stdin is not None:
        stdin_path = tmp_path / "remote.stdin"
        stdin_path.write_bytes(stdin)
    script = tmp_path / "remote.sh"
    script.write_text(wrapper_script(argv, cwd or tmp_path, stdin_path, result, context(tmp_path)))  # type: ignore[arg-type]
    return subprocess.run(["/bin/sh", str(script)], capture_output=True, timeout=30), result


def test_the_wrapper_passes_every_argument_literally(tmp_path: Path) -> None:
    odd = ["a b", "$HOME", "it's", "new\nline", "`id`", "$(touch pwned)", "*", "-n", ""]
    proc, result = run_wrapper(tmp_path, ["printf", "<%s>", *odd])
    assert proc.stdout.decode() == "".join(f"<{arg}>" for arg in odd)
    assert json.loads(result.read_text()) == {"exit": 0}
    assert not (tmp_path / "pwned").exists()
    assert not list(tmp_path.glob("*.tmp")), "the result is renamed into place"


def test_the_wrapper_records_the_exit_status_feeds_stdin_and_runs_in_cwd(tmp_path: Path) -> None:
    work = tmp_path / "work dir"
    work.mkdir()
    proc, result = run_wrapper(tmp_path, ["sh", "-c", "pwd; cat; exit 3"], stdin=b"the prompt\n", cwd=work)
    assert proc.stdout.decode() == f"{work}\nthe prompt\n"
    assert proc.returncode == 3, "the wrapper exits as its command did (the batch system reports it)"
    assert _read_result(result) == 3


def test_the_wrapper_outlives_a_term_to_record_how_its_command_ended(tmp_path: Path) -> None:
    # The whole process group gets TERM, as `scancel --full --signal=TERM` does.
    script = ["sh", "-c", "echo up; exec sleep 30"]
    result = tmp_path / "remote.result"
    path = tmp_path / "remote.sh"
    path.write_text(wrapper_script(script, tmp_path, None, result, context(tmp_path)))  # type: ignore[arg-type]
    proc = subprocess.Popen(["/bin/sh", str(path)], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    import os
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert _read_result(result) == -signal.SIGTERM, "a shell's 128+N reads as killed by signal N"


def test_a_missing_working_directory_is_recorded_not_run_elsewhere(tmp_path: Path) -> None:
    proc, result = run_wrapper(tmp_path, ["touch", "here"], cwd=tmp_path / "gone")
    assert _read_result(result) == 126
    assert not (tmp_path / "here").exists()


@pytest.mark.parametrize(("text", "code"), [('{"exit": 0}', 0), ('{"exit": 2}', 2), ('{"exit": 137}', -9),
                                             ('{"exit": 255}', 255), ('{"exit"', None), ("[]", None)])
def test_result_codes(tmp_path: Path, text: str, code: int | None) -> None:
    path = tmp_path / "remote.result"
    path.write_text(text)
    assert _read_result(path) == code


def test_no_result_yet(tmp_path: Path) -> None:
    assert _read_result(tmp_path / "remote.result") is None


def test_time_limit_rounds_up_and_leaves_the_runner_first() -> None:
    assert time_limit(1) == "2"
    assert time_limit(60) == "2"
    assert time_limit(61) == "3"
    assert time_limit(6 * 3600) == "361"


def test_last_line_is_slurms_own_words() -> None:
    err = ("sbatch: error: invalid partition specified: nope\n"
           "sbatch: error: Batch job submission failed: Invalid partition name specified\n")
    assert last_line(err) == "Batch job submission failed: Invalid partition name specified"
    assert last_line("\n  \n") == ""


def test_client_commands_get_slurms_settings_and_no_job_secret() -> None:
    env = {"PATH": "/usr/bin", "SLURM_CONF": "/etc/slurm/x.conf", "OPENAI_API_KEY": "sk-1", "HOME": "/h",
           "API_TOKEN": "t", "JOBDECK_OUTPUT": "/d/out"}
    assert client_env(env) == {"PATH": "/usr/bin", "SLURM_CONF": "/etc/slurm/x.conf", "HOME": "/h"}


SPEC = b"""{
  "executors": {"gpu": {"type": "slurm", "partition": "gpu", "parallel": 2},
                "here": {"type": "local"}},
  "agents": {"coder": {"type": "shell", "command": ["./code.sh"], "executor": "gpu"}},
  "jobs": [
    {"id": "train", "command": ["./train.sh"], "executor": "gpu"},
    {"id": "code", "agent": "coder"},
    {"id": "code-here", "agent": "coder", "executor": "here"},
    {"id": "plain", "command": ["true"]}
  ]
}"""


def test_a_job_runs_on_its_own_executor_else_its_agents_else_here() -> None:
    spec = parse_spec(SPEC, "jobs.json").spec
    placed = {job.id: (spec.executor_of(job) or ("here", None))[0] for job in spec.jobs}
    assert placed == {"train": "gpu", "code": "gpu", "code-here": "here", "plain": "here"}


def test_an_executors_parallel_is_a_limit_bucket() -> None:
    spec = parse_spec(SPEC, "jobs.json").spec
    assert ("executor", "gpu", 2) in limit_keys(spec.by_id["train"], spec)
    assert not [key for key in limit_keys(spec.by_id["plain"], spec) if key[0] == "executor"]
