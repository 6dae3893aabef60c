"""Every benchmark script, run at a tiny size: they keep working between the sessions that run them.

The figures are not checked (performance is measured in bench/, not asserted in
tests); each script must exit 0 and print the lines its report is made of.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMALL = {
    "throughput": (["bench/throughput.py", "--jobs", "20", "--runs", "1", "--history", "500", "--chain", "5"],
                   ["## 20 `true` jobs, parallel 2", "## dependency done -> dependent started",
                    "durable floor", "## claim -> start with 500 past events"]),
    "state": (["bench/state.py", "--jobs", "100", "--events", "200"], ["fold 200 events from the start"]),
    "ls": (["bench/ls.py", "--jobs", "200", "--runs", "1"], ["ls --json warm"]),
    "spawn": (["bench/spawn.py", "--jobs", "20", "--runs", "1"], ["posix_spawn(setsid, dup2)"]),
    "boundary": (["bench/boundary.py", "--jobs", "10", "--runs", "1"], ["group      runner cpu", "subreaper  runner cpu"]),
    "llm_overhead": (["bench/llm_overhead.py", "--jobs", "10", "--runs", "1", "--concurrency", "5",
                      "--latency", "0.05", "--tokens", "5"], ["agent overhead, wall", "ok 10/10"]),
    "cockpit": (["bench/cockpit.py", "--jobs", "100", "--runs", "1", "--changes", "1"],
                ["first paint cold", "change to screen"]),
    "runner_memory": (["bench/runner_memory.py", "--queued", "50", "--llm", "2", "--runs", "1",
                       "--latency", "0.05", "--tokens", "5"], ["peak RSS median"]),
    "load_cockpit": (["bench/load_cockpit.py", "--queued", "100", "--llm", "2", "--gates", "1"],
                     ["gate0: failed event -> screen", "cockpit open: change to screen median"]),
    "history": (["bench/history.py", "--tiny"],
                ["## history at 2,000 events", "| audit verify |", "| run --once to first claim, no board.json |",
                 "| cockpit first paint (no card cache, jobs.json never validated) |", "disk: .jobdeck/", "## summary"]),
    "decide_replay": (["bench/decide_replay.py", "--tiny"],
                      ["## decide replay: ", "| off | ", "| shadow | ", "| live | ", "| live+scorer | ", "accepted |",
                       "decision overhead"]),
    "notify": (["bench/notify.py", "--jobs", "20", "--runs", "1"],
               ["json:// target that hangs", "no notify section"]),
    "stats": (["bench/stats.py", "--tiny"], ["## jobdeck stats at 2,0", "| cold (no stats cache) |",
                                             "| grown by 1,000 records |", "target: warm under 1 s"]),
    "cli": (["bench/cli.py", "--tiny"], ["| `python -c pass` |", "| `jobdeck approve ", "| `jobdeck add --id added"]),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_benchmark_runs_at_a_tiny_size(name: str) -> None:
    argv, expected = SMALL[name]
    env = dict(os.environ)
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{name} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    for line in expected:
        assert line in done.stdout, f"{name} did not print {line!r}:\n{done.stdout[-2000:]}"
