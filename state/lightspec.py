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
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from jobdeck.state.atomic import write_atomic
from jobdeck.state.cardcache import code_stamp, spec_digest
from jobdeck.state.deck import Deck
from jobdeck.state.specbytes import read_spec_file
from jobdeck.state.preview import JobPreview, preview_jobs

VALID_NAME = "spec.ok"


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


def mark_valid(deck: Deck, digest: str) -> None:
    """Record that the loader accepted the jobs.json with ``digest`` (a cache: a failed write is fine)."""
    marker = _marker(digest)
    path = deck.state_dir / VALID_NAME
    try:
        if path.read_text() == marker:
            return  # already marked: a command that changes nothing writes nothing
    except OSError:
        pass
    if not deck.state_dir.is_dir():
        return
    try:
        write_atomic(path, marker.encode(), durable=False)
    except OSError:
        pass


def _marker(digest: str) -> str:
    return f"{digest} {code_stamp()}\n"
