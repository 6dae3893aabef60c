"""What is left of a job's path: its slowest unfinished upstream chain and itself, at p90, with the waits it meets.

A deadline's slack (``jobdeck why``, the ranking's reasons) and the runner's
at-risk check both read it, so the two give one figure. Of the waits, those with
a known end count: a closed window (its opening is the earliest start, in every
mode, as the window holds in every mode), and in live mode a hold or deferral the
board keeps (``Board.kept_back``) with an ``until`` (the budget's, until the UTC
day turns; a model's cooldown). An approval not given yet is named but not
counted, since no one can say when it comes; nor is a hold with no known end
(review capacity, the per-job budget), which is told on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobdeck.decide.times import clock_text, window_state, zoned_text
from jobdeck.state.machine import Status

if TYPE_CHECKING:
    from jobdeck.decide.heuristic import Heuristic

WINDOW = "window"
"""``Wait.gate`` of a closed window (the ``needs`` of its deferral)."""
GATE_WORDS = {"budget": "is held for the budget", "cooldown": "waits for its model's cooldown"}
"""How a reason names a live gate's wait, by its ``needs``."""


@dataclass(frozen=True, slots=True)
class Wait:
    """A job on the path that cannot start before a known moment, and what keeps it back."""

    job: str
    until: float
    gate: str
    """``WINDOW``, or the ``needs`` of the live hold or deferral the board keeps for it ("budget", "cooldown")."""

    def text(self, job_id: str, tz: str, now: float) -> str:
        """"its window opens at 22:00", "enrich is held for the budget until 00:00 UTC": ``job_id``'s own in
        the words of "its"."""
        if self.gate == WINDOW:
            whose = "its window" if self.job == job_id else f"the window of {self.job}"
            return f"{whose} opens at {clock_text(self.until, tz, now)}"
        who = "it" if self.job == job_id else self.job
        words = GATE_WORDS.get(self.gate, f"is kept back ({self.gate})")
        return f"{who} {words} until {zoned_text(self.until, tz, now)}"


@dataclass(frozen=True, slots=True)
class PathLeft:
    """p90 seconds until a job ends, and what its path waits for."""

    seconds: float
    wait: Wait | None = None
    """The last wait that moved the path's end: a closed window, or a live gate with a known end."""
    approvals: tuple[str, ...] = ()
    """Jobs on the path (the job itself included) that wait for the operator's approval."""

    def wait_text(self, job_id: str, tz: str, now: float) -> str | None:
        """``Wait.text`` of the binding wait; None when nothing with a known end keeps the path back."""
        return None if self.wait is None else self.wait.text(job_id, tz, now)

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
    start, wait = now + slowest.seconds, slowest.wait
    pinned = state.override == "pin"  # a pin runs it now, past its window and every gate but a cooldown
    if job is not None:
        kept = board.kept_back.get(job_id) if heuristic.policy.mode == "live" else None
        if kept is not None and kept.until is not None and kept.needs != WINDOW and kept.until > start \
                and (not pinned or kept.needs == "cooldown"):
            start, wait = kept.until, Wait(job_id, kept.until, kept.needs or kept.action)
        if job.window is not None and not pinned:  # (looked at once the hold is over: it may close by then)
            inside, opens = window_state(job.window[0], job.window[1], job.timezone, start)
            if not inside:
                start, wait = opens, Wait(job_id, opens, WINDOW)
    if job is not None and job.approval and not state.approved:
        approvals += (job_id,)
    seen[job_id] = PathLeft(start - now + own, wait, approvals)
    return seen[job_id]
