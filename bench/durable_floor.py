#!/usr/bin/env python3
"""The least a runner that keeps jobdeck's guarantees must do for N short jobs, in plain Python.

    python bench/durable_floor.py DIR [--jobs 1000] [--parallel 2] [--command true]
                                      [--idempotent] [--cgroup CGROUP_DIR]

Not a runner: no spec, no board, no retries, no timeouts, no hash chain. Only
the file-system and process work that the architecture requires per attempt
(docs/ARCHITECTURE.md, "Claim"), in a loop with nothing else in it:

- the claim is appended to a log and fdatasync'ed before its job starts, so a
  power cut cannot let a job run twice; outcomes ride on the next batch's sync
  (group commit, as in jobdeck). With ``--idempotent`` (jobdeck's fast path for
  ``"idempotent": true`` jobs) the job starts at once and a thread syncs behind;
- an attempt directory per attempt (runs/<job>/<n>/), a lease taken on its
  stderr.log, an output file;
- the job started in a session of its own with its output going to the file;
  with ``--cgroup DIR`` (a cgroup v2 directory this process may write: jobdeck's
  runner uses one wherever it can, so that nothing a job forks outlives it), in
  a group of its own below DIR: made, the job moved in, found empty, removed;
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
import threading
import time


class Groups:
    """A tree of our own below ``home`` (this process in its leaf, as jobdeck's runner lives) and a group a job."""

    def __init__(self, home: str) -> None:
        self.tree = f"{home}/jobdeck-floor-{os.getpid()}"
        self.home = home
        os.mkdir(self.tree)
        os.mkdir(f"{self.tree}/runner")
        self.move(f"{self.tree}/runner", os.getpid())

    @staticmethod
    def move(group: str, pid: int) -> None:
        fd = os.open(f"{group}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, str(pid).encode())
        except ProcessLookupError:  # it has exited already
            pass
        finally:
            os.close(fd)

    def enclose(self, job: str, pid: int) -> None:
        os.mkdir(f"{self.tree}/{job}")
        self.move(f"{self.tree}/{job}", pid)

    def release(self, job: str) -> None:
        with open(f"{self.tree}/{job}/cgroup.procs", "rb") as file:
            if file.read():
                raise RuntimeError(f"{job}: its group is not empty")
        os.rmdir(f"{self.tree}/{job}")

    def close(self) -> None:
        self.move(self.home, os.getpid())
        os.rmdir(f"{self.tree}/runner")
        os.rmdir(self.tree)


class Syncer:
    """fdatasync behind the loop (the idempotent fast path): the job does not wait for its claim's sync."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.wanted = threading.Event()
        threading.Thread(target=self._sync, daemon=True).start()

    def _sync(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            os.fdatasync(self.fd)


def run(root: str, jobs: int, parallel: int, command: str, idempotent: bool = False,
        cgroup: str | None = None) -> int:
    """Run ``jobs`` times ``command`` with at most ``parallel`` at once; return the number of log syncs."""
    program = shutil.which(command) or command
    groups = Groups(cgroup) if cgroup else None
    os.makedirs(f"{root}/runs", exist_ok=True)
    log = os.open(f"{root}/events.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    syncer = Syncer(log) if idempotent else None
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
            if syncer is None:
                os.fdatasync(log)
            else:
                syncer.wanted.set()
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
            if groups is not None:
                groups.enclose(job, pid)
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
            if groups is not None:
                groups.release(ended[-1])
    if groups is not None:
        groups.close()
    if syncer is not None:
        os.fdatasync(log)
    return syncs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", help="an empty or missing directory to work in")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--command", default="true")
    parser.add_argument("--idempotent", action="store_true", help="start each job without waiting for its claim's sync")
    parser.add_argument("--cgroup", metavar="DIR", help="a writable cgroup v2 directory: a group per job below it")
    args = parser.parse_args()
    start = time.perf_counter()
    syncs = run(args.dir, args.jobs, args.parallel, args.command, args.idempotent, args.cgroup)
    print(f"{args.jobs} jobs, {syncs} log syncs, {time.perf_counter() - start:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
