"""Which processes in the runner's cgroup leaf an attempt's boundary takes for its own leftovers.

The leaf holds the runner and whatever it starts before moving it elsewhere: attempt
leaders, and helpers such as sbatch, validators and alert hooks. A helper forked but not
yet exec'd holds a copy of every descriptor the runner has open, an attempt's output and
lease among them: under load, an ending attempt's boundary took a starting sbatch for a
leftover and stopped it (`sbatch exited with code -15`). The leaf's member list is a plain
file here (``cgroup.procs``), so this runs anywhere; the processes and their files are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from jobdeck.agents.cgroups import _stragglers
from jobdeck.agents.containment import attempt_files


def test_the_runners_own_children_are_never_an_attempts_leftovers_but_what_they_fork_is(tmp_path: Path) -> None:
    attempt = tmp_path / "attempt"
    attempt.mkdir()
    output = os.open(attempt / "output", os.O_WRONLY | os.O_CREAT, 0o600)
    lease = os.open(attempt / "stderr.log", os.O_RDONLY | os.O_CREAT, 0o600)
    files = attempt_files(attempt)
    assert len(files) == 2
    # A child of ours holding the attempt's output (as a helper between fork and exec does), and a
    # grandchild that holds it too (as a process the attempt's leader forked before its move does).
    script = ("import subprocess, sys, time\n"
              f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], pass_fds=({output},))\n"
              "print(p.pid, flush=True)\ntime.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", script], pass_fds=(output,), stdout=subprocess.PIPE, text=True)
    grandchild = None
    try:
        grandchild = int(child.stdout.readline())  # type: ignore[union-attr]
        leaf = tmp_path / "runner"
        leaf.mkdir()
        (leaf / "cgroup.procs").write_text(f"{os.getpid()}\n{child.pid}\n{grandchild}\n")
        found = {proc.pid for proc in _stragglers(leaf, "0123456789abcdef", None, files)}
        assert found == {grandchild}
    finally:
        child.kill()
        child.wait()
        os.close(output)
        os.close(lease)
        if grandchild is not None:
            try:
                os.kill(grandchild, 9)
            except ProcessLookupError:
                pass
