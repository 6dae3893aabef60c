"""Which attempt directories retention removes, and why each other one stays: a pure decision.

``decide(spec, board, found, now)`` reads no file and no clock; `jobdeck gc` and
the runner's automatic gc (state/gc.py) scan the workspaces, call it under the
deck lock, and act on its answer. The operator states the policy in jobs.json
(``retention``); with none stated, everything is kept. Whatever the policy, an
attempt stays while it may still be read by jobdeck: the job's latest attempt
(the output waiting for review is one), every attempt of a running job, and the
output dependents are handed (``JOBDECK_INPUT_<dep>``). A directory the fast
path set aside (``<n>.lost-<token>``) is none of those: the log's attempt ``n``
is the directory ``<n>`` beside it, so only the policy and a running job keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobdeck.state.machine import JobState, Status

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.spec import Spec

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class AttemptDir:
    """An attempt directory found on disk: ``workspaces/<workspace>/runs/<job>/<n>``."""

    workspace: str
    job: str
    n: int
    mtime: float
    """When anything in it was last written (the newest mtime of the directory and its entries)."""
    aside: str = ""
    """``.lost-<token>[.<k>]`` when the fast path set it aside (``state/attempts.py``), else empty."""

    @property
    def name(self) -> str:
        """Its name in ``runs/<job>/``."""
        return f"{self.n}{self.aside}"

    @property
    def where(self) -> str:
        """Its path below ``workspaces/``, for messages."""
        return f"{self.workspace}/runs/{self.job}/{self.name}"


@dataclass(frozen=True, slots=True)
class Decision:
    """What retention does with one attempt directory, and why."""

    attempt: AttemptDir
    delete: bool
    why: str


def decide(spec: Spec, board: Board, found: list[AttemptDir], now: float) -> list[Decision]:
    """A decision for each of ``found``, in its order."""
    needed, read = needed_outputs(spec, board), read_by_running(spec, board)
    return [_decide(spec, board.state(found_dir.job), needed, read, found_dir, now) for found_dir in found]


def plan(spec: Spec, board: Board, found: list[AttemptDir], now: float) -> list[tuple[AttemptDir, str]]:
    """The attempt directories to remove, each with the reason."""
    return [(d.attempt, d.why) for d in decide(spec, board, found, now) if d.delete]


def needed_outputs(spec: Spec, board: Board) -> dict[tuple[str, int], str]:
    """(job, attempt) of each output a dependent is handed, with the dependent's id.

    Every job that something in jobs.json depends on keeps the attempt
    ``runner/environment.py`` would pass on, whatever its dependents' state: a
    dependent that is done, failed or cancelled can be retried, and it is then
    handed this same path.
    """
    needed: dict[tuple[str, int], str] = {}
    for job_id, deps in spec.dependencies.items():
        for dep in deps:
            picked = board.state(dep).last_success
            if picked is not None:
                needed.setdefault((dep, picked.n), job_id)
    return needed


def read_by_running(spec: Spec, board: Board) -> dict[str, str]:
    """Each job a running job depends on, with that running job's id.

    A running dependent was handed the output its dependency had when it was
    claimed, which a newer success since may have replaced as the one given: so
    none of the dependency's attempts goes while the dependent runs.
    """
    read: dict[str, str] = {}
    for job_id, deps in spec.dependencies.items():
        if board.state(job_id).token is not None:
            for dep in deps:
                read.setdefault(dep, job_id)
    return read


def _decide(spec: Spec, state: JobState, needed: dict[tuple[str, int], str], read: dict[str, str],
            found: AttemptDir, now: float) -> Decision:
    def keep(why: str) -> Decision:
        return Decision(found, False, why)

    if state.status == Status.RUNNING or state.token is not None:
        return keep("its job is running")
    if found.n >= state.next_attempt:
        return keep("an attempt the log does not record")
    if not found.aside:
        if found.n == state.next_attempt - 1:
            if state.status == Status.REVIEW:
                return keep("the latest attempt, waiting for review")
            return keep("the job's latest attempt")
        dependent = needed.get((found.job, found.n))
        if dependent is not None:
            return keep(f"the output '{dependent}' is given")
        reader = read.get(found.job)
        if reader is not None:
            return keep(f"'{reader}', which depends on it, is running")
    keep_days, keep_attempts = spec.retention_for(found.job)
    if keep_days is None and keep_attempts is None:
        return keep("no retention policy")
    if keep_attempts is not None and found.n > state.next_attempt - 1 - keep_attempts:
        return keep(f"among the job's last {_attempts(keep_attempts)}")
    age = now - found.mtime
    if keep_days is not None and age < keep_days * DAY:
        return keep(f"younger than {keep_days} days")
    reasons = []
    if keep_days is not None:
        reasons.append(f"older than {keep_days} days")
    if keep_attempts is not None:
        reasons.append(f"not among the last {_attempts(keep_attempts)}")
    return Decision(found, True, " and ".join(reasons))


def _attempts(count: int) -> str:
    return "attempt" if count == 1 else f"{count} attempts"
