"""jobs.json for everyday read paths, without pydantic: the preview of a file the loader accepted.

Validating jobs.json builds the pydantic models (~60 ms of every command on a
small deck, most of it importing pydantic and building the classes). Commands
that only need a job's id, workspace, risk, dependencies and card fields (`ls`,
`logs`, `events`, `stats`, the operator actions) read those from
``state.preview`` instead, which is exact for every file the loader accepts, but
only when ``.jobdeck/spec.ok`` says the loader accepted these very bytes with
this very code in this environment (``environment_stamp``: installed packages,
agent plugins, PYTHONPATH, time zones); it keeps the last KEPT_MARKERS versions
it accepted. Anything
else (a new or edited jobs.json, a new jobdeck, a file the preview finds
unusual) goes through the full loader, which then marks the file valid for the
next command. `validate` gives the same verdict from the marker.

`add` marks the file it writes when the file it changed was accepted and each
new job is plainly valid (``plainly_valid``: a command job with the everyday
fields): what the loader would say of the result is then known without asking.

`show` also prints a job's spec as validated (defaults left out, terse forms
expanded) and whether it is idempotent: when marking a file valid, each job's
validated form is kept in ``.jobdeck/spec.jobs.jsonl`` under the same marker,
one line per job, so `show` reads its job's line instead of building the models.

The bytes of the newest version accepted are kept too (``.jobdeck/spec.kept.json``):
while jobs.json is invalid (an operator halfway through an edit), runners keep
running its last valid version, and the read commands and the operator's
actions use that same version (``kept_spec``), saying so, rather than refuse.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from jobdeck.state.atomic import make_private_dir, write_atomic
from jobdeck.state.cardcache import spec_digest
from jobdeck.state.commands import program_problem, shell_command_problem, template_problem
from jobdeck.state.deck import Deck
from jobdeck.state.ids import ID_RE, env_suffix
from jobdeck.state.preview import JobPreview, preview_jobs
from jobdeck.state.specbytes import read_spec_file
from jobdeck.state.stamps import code_stamp, environment_stamp

if TYPE_CHECKING:
    from jobdeck.state.loader import LoadedSpec

VALID_NAME = "spec.ok"
JOBS_NAME = "spec.jobs.jsonl"
KEPT_NAME = "spec.kept.json"


class LightSpec:
    """The jobs of a validated jobs.json as previews: the subset of ``Spec`` read paths use."""

    def __init__(self, jobs: Sequence[JobPreview], digest: str, raw: bytes = b"") -> None:
        self.jobs = list(jobs)
        self.digest = digest
        self.raw = raw
        """The bytes the loader accepted (what ``digest`` is of)."""

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
    markers = _accepted_markers(deck)
    if not markers:
        return None
    raw = read_spec_file(deck.spec_path)
    digest = spec_digest(raw)
    marker = _marker(digest)
    if marker not in markers:
        return None
    if markers[-1] != marker:  # a version accepted before, back (an undone edit): the newest now, and the one kept
        _add_marker(deck, marker, raw)
    jobs = preview_jobs(raw)
    return LightSpec(jobs, digest, raw) if jobs is not None else None


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


def mark_valid(deck: Deck, loaded: LoadedSpec, *, create: bool = False) -> None:
    """Record that the loader accepted ``loaded``, keep each job's validated form for `show`, and keep
    its bytes as the last valid version (caches: a failed write is fine).

    ``create``: make the state directory if the deck has none yet (a fresh clone), for a command that
    makes it anyway (`ls`, `show`...); `validate` leaves a deck without one as it found it.
    """
    digest, spec = loaded.digest, loaded.spec
    marker = _marker(digest)
    try:
        if create:
            make_private_dir(deck.state_dir)
        elif not deck.state_dir.is_dir():
            return
    except OSError:
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
            write_atomic(jobs_path, "".join(lines).encode(), durable=False, cache=True)
        except OSError:
            pass
    _add_marker(deck, marker, loaded.raw)


def accepted(deck: Deck, raw: bytes) -> bool:
    """Whether the loader has accepted ``raw`` as this deck's jobs.json (with this code)."""
    return _marker(spec_digest(raw)) in _accepted_markers(deck)


def mark_accepted(deck: Deck, raw: bytes) -> None:
    """Mark ``raw`` accepted without keeping its jobs' validated forms: `show` validates it again
    (``spec.jobs.jsonl`` stays with the version it was made for). A cache: a failed write is fine."""
    _add_marker(deck, _marker(spec_digest(raw)), raw)


PLAIN_FIELDS = frozenset({"id", "title", "command", "shell", "workspace", "depends_on", "labels", "risk",
                          "priority", "paused", "idempotent"})
"""The fields of a job `plainly_valid` judges; a job with any other is left to the loader."""


def plainly_valid(job: Mapping[str, Any], known: Collection[str]) -> bool:
    """Whether the loader is sure to accept ``job`` appended to a jobs.json it accepted, whose job ids
    (with any jobs appended before this one) are ``known``.

    What `jobdeck add -- CMD` writes, judged without pydantic: a command job with
    a title, workspace, labels, risk, priority and dependencies on jobs already
    declared (so it can close no cycle). The judgement is narrower than the
    loader's, never wider: False says only "ask the loader", which then gives the
    located error, if there is one. tests/unit/test_lightspec_plain.py holds it to
    the loader on every field's edge cases.
    """
    if not PLAIN_FIELDS.issuperset(job):
        return False
    job_id, command, shell = job.get("id"), job.get("command"), job.get("shell", False)
    if type(job_id) is not str or not ID_RE.fullmatch(job_id) or job_id in known or type(shell) is not bool:
        return False
    depends_on = job.get("depends_on", [])
    argv = not shell and type(command) is list and command and all(_text(arg) for arg in command) \
        and program_problem(command[0]) is None and type(depends_on) is list \
        and not any(template_problem(arg, depends_on, (), prompt=False) for arg in command)
    if not (argv or (shell and _text(command) and shell_command_problem(command, shell) is None)):
        return False
    title, workspace, labels = job.get("title", ""), job.get("workspace", "default"), job.get("labels", [])
    if not _text(title) or type(workspace) is not str or not ID_RE.fullmatch(workspace):
        return False
    if type(labels) is not list or not all(_text(label) for label in labels):
        return False
    if job.get("risk", "low") not in ("low", "medium", "high") or type(job.get("risk", "low")) is not str:
        return False
    priority = job.get("priority", 0)
    if type(priority) is not int or not -1000 <= priority <= 1000:
        return False
    if type(job.get("paused", False)) is not bool or type(job.get("idempotent", False)) is not bool:
        return False
    if type(depends_on) is not list:
        return False
    suffixes: dict[str, str] = {}
    for dep in depends_on:
        if type(dep) is not str or dep not in known or dep in suffixes.values() \
                or suffixes.setdefault(env_suffix(dep), dep) != dep:
            return False
    return True


def _text(value: Any) -> bool:
    """A string jobs.json can hold: UTF-8 text (no lone surrogate, as a non-UTF-8 argument decodes to) without
    a NUL (the loader refuses one anywhere)."""
    if type(value) is not str or "\0" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


KEPT_MARKERS = 8
"""Versions of jobs.json kept as accepted: going back to one (an undone `add`, a `git checkout`)
needs no new validation."""


def _accepted_markers(deck: Deck) -> list[str]:
    """The versions of jobs.json the loader accepted, as markers, oldest first (one a line)."""
    try:
        return (deck.state_dir / VALID_NAME).read_text().splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return []


def _add_marker(deck: Deck, marker: str, raw: bytes) -> None:
    """Keep ``marker`` as the newest of the last KEPT_MARKERS accepted versions judged by this code
    (in any environment), and ``raw``, the version it marks, as the last valid one (``kept_spec``)."""
    markers = _accepted_markers(deck)
    if markers and markers[-1] == marker:
        return  # already the newest: a command that changes nothing writes nothing
    code = " " + code_stamp() + "."  # other environments' verdicts stay (cron's PYTHONPATH, say); older code's go
    kept = [line for line in markers if line != marker and code in line][-(KEPT_MARKERS - 1):]
    try:  # (the bytes first: the marker that makes them usable follows)
        write_atomic(deck.state_dir / KEPT_NAME, raw, durable=False, cache=True)
        write_atomic(deck.state_dir / VALID_NAME, "".join([*kept, marker]).encode(), durable=False, cache=True)
    except OSError:
        pass


def kept_bytes(deck: Deck) -> bytes | None:
    """The bytes of the last jobs.json the loader accepted here, whichever jobdeck accepted it (None: none kept).
    A reader that validates them again may use them after an upgrade; ``kept_spec`` may not."""
    try:
        return (deck.state_dir / KEPT_NAME).read_bytes()
    except OSError:
        return None


def kept_spec(deck: Deck) -> LightSpec | None:
    """The last jobs.json the loader accepted here (with this code, in this environment), kept when it was
    marked; None if there is none. What the read paths and the operator's actions use while jobs.json is
    invalid: the version runners keep running meanwhile (``SpecSource``)."""
    raw = kept_bytes(deck)
    if raw is None:
        return None
    digest = spec_digest(raw)
    if _marker(digest) not in _accepted_markers(deck):
        return None
    jobs = preview_jobs(raw)
    return LightSpec(jobs, digest, raw) if jobs is not None else None


def _marker(digest: str) -> str:
    return f"{digest} {code_stamp()}.{environment_stamp()}\n"


def _jobs_header(digest: str) -> bytes:
    """The first line of spec.jobs.jsonl: the marker, as a JSON line like the rest."""
    return (json.dumps({"valid": _marker(digest).strip()}) + "\n").encode()
