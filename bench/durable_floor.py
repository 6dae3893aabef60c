#!/usr/bin/env python3
"""The least a runner that keeps jobdeck's guarantees must do for N short jobs, in plain Python.

    python bench/durable_floor.py DIR [--jobs 1000] [--parallel 2] [--command true]

Not a runner: no spec, no board, no retries, no timeouts, no hash chain. Only
the file-system and process work that the architecture requires per attempt
(docs/ARCHITECTURE.md, "Claim"), in a loop with nothing else in it:

- the claim is appended to a log and fdatasync'ed before its job starts, so a
  power cut cannot let a job run twice; outcomes ride on the next batch's sync
  (group commit, as in jobdeck);
- an attempt directory per attempt (runs/<job>/<n>/), a lease taken on its
  stderr.log, an output file;
- the job started in a session of its own with its output going to the file;
- result.json written once the job ended, named only when whole (O_TMPFILE).

``bench/throughput.py`` runs it next to jobdeck and the peer tools: jobdeck's
distance from this floor is its own overhead; a peer below it does less than
that per job (task-spooler keeps its queue in memory and syncs nothing).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import selectors
import shutil
import sys
import time


def run(root: str, jobs: int, parallel: int, command: str) -> int:
    """Run ``jobs`` times ``command`` with at most ``parallel`` at once; return the number of log syncs."""
    program = shutil.which(command) or command
    os.makedirs(f"{root}/runs", exist_ok=True)
    log = os.open(f"{root}/events.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    environ = dict(os.environ)
    waiting = iter(range(jobs))
    running: dict[int, tuple[int, int, str]] = {}  # pidfd -> (pid, lease, attempt directory)
    ended: list[str] = []
    selector = selectors.DefaultSelector()
    syncs = 0
    while True:
        starting = []
        while len(running) + len(starting) < parallel:
            job = next(waiting, None)
            if job is None:
                break
            starting.append(f"j{job}")
        batch = [{"type": "succeeded", "job": job} for job in ended] + \
                [{"type": "claimed", "job": job, "attempt": 1} for job in starting]
        ended = []
        if batch:
            os.write(log, b"".join(json.dumps(record).encode() + b"\n" for record in batch))
            os.fdatasync(log)
            syncs += 1
        for job in starting:
            directory = f"{root}/runs/{job}/1"
            os.mkdir(f"{root}/runs/{job}", 0o700)
            os.mkdir(directory, 0o700)
            lease = os.open(f"{directory}/stderr.log", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            output = os.open(f"{directory}/output", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            pid = os.posix_spawn(program, [command], environ, setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, output, 1), (os.POSIX_SPAWN_DUP2, lease, 2)])
            os.close(output)
            pidfd = os.pidfd_open(pid)
            selector.register(pidfd, selectors.EVENT_READ)
            running[pidfd] = (pid, lease, directory)
        if not running:
            break
        for key, _ in selector.select():
            pid, lease, directory = running.pop(key.fd)
            selector.unregister(key.fd)
            os.close(key.fd)
            _, status = os.waitpid(pid, 0)
            result = os.open(directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
            os.write(result, json.dumps({"exit_code": os.waitstatus_to_exitcode(status)}).encode())
            os.link(f"/proc/self/fd/{result}", f"{directory}/result.json", src_dir_fd=result, follow_symlinks=True)
            os.close(result)
            os.close(lease)
            ended.append(directory.split("/")[-2])
    return syncs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", help="an empty or missing directory to work in")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--command", default="true")
    args = parser.parse_args()
    start = time.perf_counter()
    syncs = run(args.dir, args.jobs, args.parallel, args.command)
    print(f"{args.jobs} jobs, {syncs} log syncs, {time.perf_counter() - start:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
