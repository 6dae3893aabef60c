"""jobs.json for everyday read paths, without pydantic: the preview of a file the loader accepted.

Validating jobs.json builds the pydantic models (~60 ms of every command on a
small deck, most of it importing pydantic and building the classes). Commands
that only need a job's id, workspace, risk, dependencies and card fields (`ls`,
`logs`, `events`, `stats`, the operator actions) read those from
``state.preview`` instead, which is exact for every file the loader accepts, but
only when ``.jobdeck/spec.ok`` says the loader accepted these very bytes with
this very code. Anything else (a new or edited jobs.json, a new jobdeck, a file
the preview finds unusual) goes through the full loader, which then marks the
file valid for the next command.

`show` also prints a job's spec as validated (defaults left out, terse forms
expanded) and whether it is idempotent: when marking a file valid, each job's
validated form is kept in ``.jobdeck/spec.jobs.jsonl`` under the same marker,
one line per job, so `show` reads its job's line instead of building the models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from jobdeck.state.atomic import write_atomic
from jobdeck.state.cardcache import code_stamp, spec_digest
from jobdeck.state.deck import Deck
from jobdeck.state.specbytes import read_spec_file
from jobdeck.state.preview import JobPreview, preview_jobs

if TYPE_CHECKING:
    from jobdeck.state.spec import Spec

VALID_NAME = "spec.ok"
JOBS_NAME = "spec.jobs.jsonl"


class LightSpec:
    """The jobs of a validated jobs.json as previews: the subset of ``Spec`` read paths use."""

    def __init__(self, jobs: Sequence[JobPreview], digest: str) -> None:
        self.jobs = list(jobs)
        self.digest = digest

    @cached_property
    def by_id(self) -> dict[str, JobPreview]:
        return {job.id: job for job in self.jobs}

    @cached_property
    def dependencies(self) -> dict[str, tuple[str, ...]]:
        return {job.id: tuple(job.depends_on) for job in self.jobs}

    def job(self, job_id: str) -> JobPreview | None:
        return self.by_id.get(job_id)


def light_spec(deck: Deck) -> LightSpec | None:
    """The deck's jobs.json as a LightSpec if the loader has accepted these bytes; else None."""
    try:
        marker = (deck.state_dir / VALID_NAME).read_text()
    except OSError:
        return None
    raw = read_spec_file(deck.spec_path)
    digest = spec_digest(raw)
    if marker != _marker(digest):
        return None
    jobs = preview_jobs(raw)
    return LightSpec(jobs, digest) if jobs is not None else None


def validated_job(deck: Deck, digest: str, job_id: str) -> tuple[dict[str, Any], bool] | None:
    """The job's validated spec (as ``model_dump(mode="json", by_alias=True, exclude_defaults=True)``)
    and whether it is idempotent, kept when the jobs.json with ``digest`` was marked valid; else None."""
    start = b'{"id": ' + json.dumps(job_id).encode() + b","
    try:
        with open(deck.state_dir / JOBS_NAME, "rb") as f:
            if f.readline() != _jobs_header(digest):
                return None
            for line in f:
                if line.startswith(start) and line.endswith(b"\n"):
                    record = json.loads(line)
                    return record["spec"], record["idempotent"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


def mark_valid(deck: Deck, digest: str, spec: Spec) -> None:
    """Record that the loader accepted ``spec``, the jobs.json with ``digest``, and keep each job's
    validated form for `show` (caches: a failed write is fine)."""
    marker = _marker(digest)
    if not deck.state_dir.is_dir():
        return
    jobs_path, header = deck.state_dir / JOBS_NAME, _jobs_header(digest)
    try:
        with open(jobs_path, "rb") as f:
            kept = f.readline() == header
    except OSError:
        kept = False
    if not kept:  # once per version of jobs.json: ~2.4 ms per 100 jobs (10,000 jobs: 0.24 s, 1.2 MiB)
        lines = [header.decode()] + [json.dumps({"id": job.id, "idempotent": job.idempotent,
                                        "spec": job.model_dump(mode="json", by_alias=True, exclude_defaults=True)},
                                       ensure_ascii=False) + "\n" for job in spec.jobs]
        try:
            write_atomic(jobs_path, "".join(lines).encode(), durable=False)
        except OSError:
            pass
    path = deck.state_dir / VALID_NAME
    try:
        if path.read_text() == marker:
            return  # already marked: a command that changes nothing writes nothing
    except OSError:
        pass
    try:
        write_atomic(path, marker.encode(), durable=False)
    except OSError:
        pass


def _marker(digest: str) -> str:
    return f"{digest} {code_stamp()}\n"


def _jobs_header(digest: str) -> bytes:
    """The first line of spec.jobs.jsonl: the marker, as a JSON line like the rest."""
    return (json.dumps({"valid": _marker(digest).strip()}) + "\n").encode()
