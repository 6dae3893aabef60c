"""Output size limits, through the real runner: a flood is stopped at its limit, big outputs are never loaded.

Each runner is a subprocess with a timeout: a limit that did not stop its job
would leave `run --once` running, and the timeout fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.functional.runner_kit import board, env_for, jobdeck, make_deck

CANARY = "sk-canary-limit-0123456789"


def output_size(deck: Path, job: str, attempt: int = 1) -> int:
    return (deck / "workspaces" / "default" / "runs" / job / str(attempt) / "output").stat().st_size


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in the process group ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_an_endless_writer_is_stopped_at_its_limit_and_not_retried(tmp_path: Path) -> None:
    pids = tmp_path / "pgids"
    deck = make_deck(tmp_path, [
        # straight into the output file: the runner watches the file's size
        {"id": "direct", "command": ["sh", "-c", f"echo $$ >> {pids}; yes"], "output_limit": "1MiB",
         "retry": {"max_attempts": 3}},
        # a secret in its environment: its output is piped through the redactor
        {"id": "piped", "command": ["sh", "-c", f"echo $$ >> {pids}; yes $API_KEY & yes; wait"],
         "output_limit": "64KiB", "env": {"API_KEY": {"env": "JOBDECK_CANARY"}}, "retry": {"max_attempts": 3}},
    ])
    result = jobdeck(deck, "run", "--once", timeout=60, env=env_for(deck, JOBDECK_CANARY=CANARY))
    assert result.returncode == 1, result.stderr
    states = board(deck)
    for job, shown, size in (("direct", "1 MiB", 1 << 20), ("piped", "64 KiB", 64 << 10)):
        assert [(a.outcome, a.reason) for a in states[job].attempts] == [("failed", "output_limit")], job
        assert states[job].status.value == "failed", "a persistent failure: never retried"
        assert f"{job} failed: output passed {shown} (output_limit)" in result.stdout
        assert output_size(deck, job) == size, "the output is kept up to its limit"
    for pgid in map(int, pids.read_text().split()):
        assert group_members(pgid) == [], "the whole process group was stopped"


def test_the_deck_limit_applies_to_jobs_without_their_own(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "over", "command": ["head", "-c", "200000", "/dev/zero"]},  # exits before it is noticed
        {"id": "at", "command": ["head", "-c", "100000", "/dev/zero"]},
        {"id": "own", "command": ["head", "-c", "200000", "/dev/zero"], "output_limit": 200000},
    ], limits={"output": "100kB"})
    result = jobdeck(deck, "run", "--once", timeout=60)
    states = board(deck)
    assert states["over"].status.value == "failed" and states["over"].attempts[0].reason == "output_limit"
    assert "over failed: output passed 100 kB (limits.output)" in result.stdout
    assert output_size(deck, "over") == 100000
    assert states["at"].status.value == "done" and states["own"].status.value == "done"


def test_an_llm_answer_past_its_limit_fails_the_attempt(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "chatty", "model": "openai/gpt-4o-mini", "prompt": "hi",
                                 "mock_response": "word " * 2000, "output_limit": 1000}])
    result = jobdeck(deck, "run", "--once", timeout=120)
    state = board(deck)["chatty"]
    assert state.status.value == "failed" and state.attempts[0].reason == "output_limit", result.stdout + result.stderr
    assert output_size(deck, "chatty") == 1000


def test_a_dependency_output_too_big_for_a_prompt_is_refused_without_loading_it(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "dump", "command": 'truncate -s 300M "$JOBDECK_OUTPUT"', "shell": True},  # sparse: no disk used
        {"id": "use", "depends_on": ["dump"], "command": ["echo", "{{deps.dump}}"]},
    ])
    peak, result = run_measured(deck)
    states = board(deck)
    assert states["dump"].status.value == "done"
    assert states["use"].status.value == "failed" and states["use"].attempts[0].reason == "agent_error"
    assert "{{deps.dump}}: the output of 'dump' is 300 MiB, more than the 1 MiB a template value may hold" \
        in result["stdout"]
    assert peak < 150, f"the runner's peak RSS was {peak:.0f} MB: it read the output"


def test_an_output_too_big_to_validate_goes_to_review_without_loading_it(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "dump", "command": 'truncate -s 300M "$JOBDECK_OUTPUT"', "shell": True,
         "output": "json", "validate": {"regex": "ok"}},
    ])
    peak, result = run_measured(deck)
    state = board(deck)["dump"]
    assert state.status.value == "review"
    assert "output is 300 MiB, more than the 16 MiB the JSON and regex check reads" in result["stdout"]
    assert peak < 150, f"the runner's peak RSS was {peak:.0f} MB: it read the output"


def run_measured(deck: Path) -> tuple[float, dict[str, str]]:
    """`jobdeck run --once` on ``deck`` and the runner's peak RSS in MB (measured by a fresh parent)."""
    probe = textwrap.dedent(f"""
        import json, resource, subprocess, sys
        done = subprocess.run([sys.executable, "-m", "jobdeck", "run", "--once"], cwd={str(deck)!r},
                              capture_output=True, text=True, timeout=120)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps({{"peak": peak, "stdout": done.stdout, "stderr": done.stderr}}))
    """)
    done = subprocess.run([sys.executable, "-c", probe], env=env_for(deck), capture_output=True, text=True,
                          timeout=150, check=True)
    result = json.loads(done.stdout)
    return result["peak"], result
