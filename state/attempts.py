"""The names of the files in an attempt directory (``Deck.attempt_dir``), spelled once.

The runner creates and writes them, recovery reads them, and the cockpit and
the CLI show them; the names are the on-disk format they all share.
"""

from __future__ import annotations

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
