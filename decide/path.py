"""What is left of a job's path: its slowest unfinished upstream chain and itself, at p90, with the waits it meets.

A deadline's slack (``jobdeck why``, the ranking's reasons) and the runner's
at-risk check both read it, so the two give one figure. Of the waits, a closed
window counts (its opening is the earliest start, in every mode, as the window
holds in every mode); an approval not given yet is named but not counted, since
no one can say when it comes. A gate that only holds in live mode (budget, review
capacity, a cooldown) is not counted either: it has no known end, and its hold is
told on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobdeck.decide.times import clock_text, window_state
from jobdeck.state.machine import Status

if TYPE_CHECKING:
    from jobdeck.decide.heuristic import Heuristic


@dataclass(frozen=True, slots=True)
class PathLeft:
    """p90 seconds until a job ends, and what its path waits for."""

    seconds: float
    window: tuple[str, float] | None = None
    """The job on the path whose closed window binds it, and when that window opens."""
    approvals: tuple[str, ...] = ()
    """Jobs on the path (the job itself included) that wait for the operator's approval."""

    def window_text(self, job_id: str, tz: str, now: float) -> str | None:
        """"its window opens at 22:00", or "the window of feed opens at 22:00"; None when no window binds."""
        if self.window is None:
            return None
        owner, opens = self.window
        whose = "its window" if owner == job_id else f"the window of {owner}"
        return f"{whose} opens at {clock_text(opens, tz, now)}"

    def approval_text(self) -> str:
        """", and approveme waits for `jobdeck approve approveme`" for each approval the path waits on."""
        return "".join(f", and {job} waits for `jobdeck approve {job}`" for job in self.approvals)


def path_left(heuristic: Heuristic, job_id: str, now: float, seen: dict[str, PathLeft] | None = None) -> PathLeft:
    """What is left of ``job_id``'s path at ``now``: a running job counts what is left of itself only."""
    seen = {} if seen is None else seen
    if job_id in seen:
        return seen[job_id]
    seen[job_id] = PathLeft(0.0)  # (the spec has no cycles; this only guards the recursion)
    board, job = heuristic.board, heuristic.policy.jobs.get(job_id)
    state = board.state(job_id)
    if state.status == Status.DONE:
        return seen[job_id]
    estimate = heuristic.estimate(job_id)
    own = estimate.p90 + estimate.margin
    if state.status == Status.RUNNING and state.attempt is not None:
        seen[job_id] = PathLeft(max(own - (now - state.attempt.started), 0.0))
        return seen[job_id]
    upstream = [path_left(heuristic, dep, now, seen) for dep in heuristic.depends_on(job_id)
                if dep in heuristic.policy.jobs]
    slowest = max(upstream, key=lambda left: left.seconds, default=PathLeft(0.0))
    approvals = tuple(dict.fromkeys(job for left in upstream for job in left.approvals))
    start, window = now + slowest.seconds, slowest.window
    if job is not None:
        if job.window is not None and state.override != "pin":  # a pin runs it outside its window
            inside, opens = window_state(job.window[0], job.window[1], job.timezone, start)
            if not inside:
                start, window = opens, (job_id, opens)
        if job.approval and not state.approved:
            approvals += (job_id,)
    seen[job_id] = PathLeft(start - now + own, window, approvals)
    return seen[job_id]
