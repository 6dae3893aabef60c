"""The names of the files in an attempt directory (``Deck.attempt_dir``), spelled once.

The runner creates and writes them, recovery reads them, and the cockpit and
the CLI show them; the names are the on-disk format they all share.
"""

from __future__ import annotations

import re

RUNS = "runs"
"""The directory in a workspace that holds every job's attempt directories (``runs/<job>/<n>/``)."""
OUTPUT = "output"
"""The job's stdout (or streamed tokens), appended as produced, redacted."""
STDERR = "stderr.log"
"""The job's diagnostics, redacted; it exists from the attempt's start, being the lease."""
LEASE = STDERR
"""The file whose flock is the attempt's lease: one file fewer per attempt than a lease of its own."""
LEGACY_LEASE = "lease"
"""The lease file of attempts made by jobdeck before 0.1 (still honoured by recovery)."""
RESULT = "result.json"
"""The completion marker, written last, holding the attempt's outcome event."""
BOUNDARY_XATTR = "user.jobdeck"
"""The extended attribute of the lease file that records the attempt's boundary (leader, runner, cgroup)."""
BOUNDARY = "boundary"
"""The same record as a file, on filesystems without user extended attributes."""
REMOTE = "remote.json"
"""An attempt on a batch system (``agents/remote.py``): the executor, the job's name there, its id once
submitted, and when it started running. Kept after the attempt ends."""
REMOTE_SCRIPT = "remote.sh"
"""The batch script that runs the command and records its exit status."""
REMOTE_STDIN = "remote.stdin"
"""The command's standard input (the rendered prompt), when it has one."""
REMOTE_OUT = "remote.out"
"""What the batch system writes of the command's stdout, unredacted: copied into ``output`` as it grows."""
REMOTE_ERR = "remote.err"
"""The same for stderr, copied into ``stderr.log``."""
REMOTE_RESULT = "remote.result"
"""The command's exit status, as the batch script recorded it."""
REMOTE_SCRATCH = (REMOTE_SCRIPT, REMOTE_STDIN, REMOTE_OUT, REMOTE_ERR, REMOTE_RESULT)
"""Removed when a remote attempt ends: the raw output and the prompt may hold what redaction hides."""
SET_ASIDE = ".lost-"
"""Joins the number and the new claim's token in ``<n>.lost-<token>[.<k>]``: an idempotent job's attempt
directory whose claim the log lost, moved aside by the fast path (``runner/attempt.py``)."""

_ATTEMPT_DIR_RE = re.compile(r"([0-9]+)(\.lost-[0-9]+(?:\.[0-9]+)?)?")


def parse_attempt_dir(name: str) -> tuple[int, str] | None:
    """(attempt number, set-aside suffix or "") of an attempt directory's name; None for any other name."""
    match = _ATTEMPT_DIR_RE.fullmatch(name)
    if match is None:
        return None
    return int(match[1]), match[2] or ""
