"""Helpers every step of the example shares: upstream outputs in, JSON out, safe file writes.

The steps are plain Python (standard library only) so they read like the shell
scripts they stand in for. jobdeck hands each attempt its inputs as
environment variables: ``JOBDECK_INPUT_<DEP>`` is the path of a dependency's
output file, ``JOBDECK_INPUT`` the file that triggered the run. A step prints
its result on stdout (that is the job's output, validated by jobs.json) and
its progress on stderr (kept in the attempt's stderr.log).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

EX_DATAERR = 65
"""Bad input data: retrying cannot help (sysexits.h)."""
EX_TEMPFAIL = 75
"""Temporary failure: the job lists 75 in retry.retryable_exit_codes (sysexits.h)."""

_FENCE = re.compile(r"\A\s*```[A-Za-z0-9_-]*[ \t]*\r?\n(?P<body>.*?)\r?\n?```\s*\Z", re.DOTALL)


def log(message: str) -> None:
    """A progress line on stderr, prefixed with the job and attempt."""
    job = os.environ.get("JOBDECK_JOB", "step")
    attempt = os.environ.get("JOBDECK_ATTEMPT", "?")
    print(f"[{job} #{attempt}] {message}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Stop the step with ``message`` on stderr and exit ``code`` (the runner classifies it)."""
    log(message)
    sys.exit(code)


def pace() -> None:
    """Pause for $JOBDECK_DEMO_PACE seconds, so the cockpit demo shows cards moving.

    `jobdeck demo` sets it for its runner; headless runs and real deployments leave it unset.
    """
    try:
        delay = float(os.environ.get("JOBDECK_DEMO_PACE") or 0)
    except ValueError:
        delay = 0.0
    if delay > 0:
        time.sleep(delay)


def env_suffix(job_id: str) -> str:
    """The <DEP> of JOBDECK_INPUT_<DEP>: the id uppercased, every other character an underscore."""
    return re.sub(r"[^A-Za-z0-9]", "_", job_id).upper()


def upstream(job_id: str) -> Any:
    """The JSON output of dependency ``job_id`` (one Markdown code fence around it is allowed)."""
    name = "JOBDECK_INPUT_" + env_suffix(job_id)
    path = os.environ.get(name)
    if not path:
        fail(f"{name} is not set: is '{job_id}' in this job's depends_on?", code=2)
    text = Path(path).read_text(encoding="utf-8")
    match = _FENCE.match(text)
    try:
        return json.loads(match.group("body") if match else text)
    except json.JSONDecodeError as exc:
        fail(f"output of '{job_id}' ({path}) is not JSON: {exc}", code=EX_DATAERR)


def emit(value: Any) -> None:
    """Print ``value`` as the job's JSON output."""
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def read_json(path: Path) -> Any:
    """A JSON file's content, or a clean failure naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"{path} not found (paths are relative to the workspace, the step's working directory)", code=2)
    except json.JSONDecodeError as exc:
        fail(f"{path} is not valid JSON: {exc}", code=EX_DATAERR)


def write_json_atomic(path: Path, value: Any) -> None:
    """Replace ``path`` with ``value`` so a reader sees the old file or the new one, never half.

    Temporary file in the same directory, fsync, rename over, fsync the directory.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def batch_ids(cleaned: Any) -> list[str]:
    """Lead ids of this run's batch, from clean-leads' output, in order."""
    return [lead["lead_id"] for lead in cleaned["leads"]]
