"""A first look at jobs.json without pydantic: the fields a card shows, for painting a big board early.

Importing pydantic and validating 10,000 jobs takes about half a second; the cockpit
paints its first screen from this preview and validates behind it. For every
jobs.json the loader accepts, the preview gives the jobs' card fields exactly as
the validated spec does (``tests/unit/test_preview.py`` holds the two to the same
cards). On anything unusual (a wrong type, a bad or repeated id, a value pydantic
would have to coerce) it gives up and returns None, and the caller validates first.
This module imports only the standard library and state.ids.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing.NamedTuple compiles
# each string annotation (the first ~0.6 ms, then ~15 µs a field), and every command imports these classes.

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from jobdeck.state.ids import ID_RE

RISKS = frozenset({"low", "medium", "high"})


class RetryPreview(NamedTuple):
    """The part of a job's retry policy a card shows."""

    max_attempts: int = 1


class JobPreview(NamedTuple):
    """A job's card fields, read as state.spec.Job reads them, defaults included."""

    id: str
    title: str | None
    command: list[str] | str | None
    model: str | None
    agent: str | None
    depends_on: Sequence[str]
    workspace: str
    schedule: str | None
    timezone: str
    trigger: str | None
    risk: str
    priority: int
    labels: Sequence[str]
    paused: bool
    retry: RetryPreview

    @property
    def name(self) -> str:
        """The title, or the id when there is none."""
        return self.title or self.id


class _Unusual(Exception):
    """Something only the full loader should judge."""


_NO_RETRY = object()
_RETRIES = [RetryPreview(n) for n in range(101)]
_is_id = ID_RE.fullmatch


def preview_jobs(raw: bytes) -> list[JobPreview] | None:
    """The jobs of a jobs.json, or None if it is anything but plainly well-formed."""
    try:
        document = json.loads(raw.decode("utf-8-sig"))
        if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
            return None
        jobs = [_job(entry) for entry in document["jobs"]]
    except (ValueError, RecursionError, _Unusual):
        return None
    if len({job.id for job in jobs}) != len(jobs):
        return None  # duplicate ids: rows are keyed by id
    return jobs


def _job(entry: Any) -> JobPreview:
    # One flat function: it runs once per job, and helper calls per field doubled its cost.
    if type(entry) is not dict:
        raise _Unusual
    get = entry.get
    job_id = get("id")
    title, command, model, agent = get("title"), get("command"), get("model"), get("agent")
    depends_on, workspace = get("depends_on", ()), get("workspace", "default")
    schedule, timezone, trigger = get("schedule"), get("timezone", "UTC"), get("trigger")
    risk, priority, labels, paused = get("risk", "low"), get("priority", 0), get("labels", ()), get("paused", False)
    retry = get("retry", _NO_RETRY)
    if not (
        type(job_id) is str and _is_id(job_id)
        and (title is None or type(title) is str)
        and (command is None or type(command) is str or (type(command) is list and _all_str(command)))
        and (model is None or type(model) is str)
        and (agent is None or (type(agent) is str and _is_id(agent)))
        and (depends_on == () or (type(depends_on) is list and _all_ids(depends_on)))
        and type(workspace) is str and _is_id(workspace)
        and (schedule is None or type(schedule) is str)
        and type(timezone) is str
        and (trigger is None or type(trigger) is str)
        and type(risk) is str and risk in RISKS
        and type(priority) is int and -1000 <= priority <= 1000
        and (labels == () or (type(labels) is list and _all_str(labels)))
        and type(paused) is bool
    ):
        raise _Unusual
    if retry is _NO_RETRY:
        attempts = 1
    elif type(retry) is dict:
        attempts = retry.get("max_attempts", 1)
        if type(attempts) is not int or not 1 <= attempts <= 100:
            raise _Unusual
    else:
        raise _Unusual
    return JobPreview(job_id, title, command, model, agent, depends_on, workspace, schedule, timezone,
                      trigger, risk, priority, labels, paused, _RETRIES[attempts])



def _all_str(values: list[Any]) -> bool:
    for value in values:  # a loop, not all(generator): these lists are short and many
        if type(value) is not str:
            return False
    return True


def _all_ids(values: list[Any]) -> bool:
    for value in values:
        if type(value) is not str or not _is_id(value):
            return False
    return True
