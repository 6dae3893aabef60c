"""Run one leader inside a boundary, stop it, and print which of the processes it left are still alive.

Run as ``python -m tests.functional.boundary_probe MODE DIRECTORY`` by
test_agents_boundary.py, in a process of its own: a boundary makes its process
a child subreaper or moves it into a cgroup, which a test process must not become.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jobdeck.agents import proctree
from jobdeck.agents.child import Child
from jobdeck.agents.containment import Containment

# Each kind of leftover writes its pid to <kind>.pid; {lease} is the lease descriptor's number.
LEADER = """
# A cgroup leader is moved into its group just after it starts; a process forked and orphaned before
# that, which also cleared its environment, left the session and closed the attempt's files, is not
# found (the documented window). Wait for the move, so that this probe is about the steady state.
while grep -q '^0::.*/runner$' /proc/$$/cgroup; do sleep 0.001; done
# marker: double fork and setsid, every attempt file closed; only JOBDECK_ATTEMPT_ID ties it to the attempt
(setsid sh -c 'exec {lease}<&-; echo $$ > marker.pid; exec sleep 60' </dev/null >/dev/null 2>&1 &)
# session: environment cleared, attempt files closed, still in the leader's session
(env -i sh -c 'exec {lease}<&-; echo $$ > session.pid; exec sleep 60' </dev/null >/dev/null 2>&1 &)
# files: environment cleared, a session of its own, but it can still write into the output
(env -i setsid sh -c 'exec {lease}<&-; echo $$ > files.pid; exec sleep 60' </dev/null 2>/dev/null &)
# detached: none of the three; only a cgroup holds it
(env -i setsid sh -c 'exec {lease}<&-; echo $$ > detached.pid; exec sleep 60' </dev/null >/dev/null 2>&1 &)
"""
KINDS = ("marker", "session", "files", "detached")


async def main(mode: str, directory: Path) -> dict[str, object]:
    containment = Containment.detect(mode)
    lease = os.open(directory / "stderr.log", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    output = os.open(directory / "output", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    boundary = containment.open(directory, lease)
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)  # not the attempt's: must survive
    env = {**os.environ, **boundary.env}
    child = Child.spawn(["sh", "-c", LEADER.format(lease=lease)], cwd=directory, env=env, stdout=output, stderr=output,
                        pass_fds=(lease,), keep_zombie=True)
    boundary.adopt(child.pid)
    await child.wait()
    pid_files = [directory / f"{kind}.pid" for kind in KINDS]
    deadline = time.monotonic() + 20
    while not all(path.exists() and path.read_text().strip() for path in pid_files):
        assert time.monotonic() < deadline, "the leftovers did not start"
        await asyncio.sleep(0.01)
    pids = {kind: int(path.read_text()) for kind, path in zip(KINDS, pid_files)}
    started = time.monotonic()
    await boundary.stop(grace=0.5)
    took = time.monotonic() - started
    child.release()
    boundary.release_leader()
    boundary.close()
    containment.close()
    alive = {kind: _alive(pid) for kind, pid in pids.items()}
    for pid in pids.values():  # what the boundary missed goes now, so that nothing outlives the test
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    report = {"kind": containment.kind, "alive": alive, "bystander": bystander.poll() is None, "took": took}
    bystander.kill()
    bystander.wait()
    return report


def _alive(pid: int) -> bool:
    proc = proctree.read(pid)
    return proc is not None and not proc.dead


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], Path(sys.argv[2])))))
