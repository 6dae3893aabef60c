"""``jobdeck why ID``: every reason a job is or is not running now, and its rank with the reasons.

Written constraints first (status, pause, hold, schedule, approval, retry wait,
dependencies, limits), then the decision service's gates and ranking. Pure: it
reads the spec, the board, the cooldowns and the clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobdeck.decide.heuristic import Heuristic
from jobdeck.decide.policy import policy_of
from jobdeck.decide.times import zoned_text
from jobdeck.decide.verdict import HOLD, START, Gate, Verdict
from jobdeck.state.blocking import blocking, next_fire_text
from jobdeck.state.board import Board
from jobdeck.state.durations import format_duration as dur
from jobdeck.state.limits import limit_keys
from jobdeck.state.machine import Status
from jobdeck.state.views import is_ready

if TYPE_CHECKING:
    from jobdeck.state.preview import JobPreview
    from jobdeck.state.spec import Job, Spec


@dataclass
class Why:
    """What keeps a job from running (``blocking``), and where the ranking puts it."""

    job: str
    status: str
    mode: str
    headline: str
    """One line: running, done, "cannot start yet", "ready: 3 of 12"..."""
    blocking: list[str] = field(default_factory=list)
    verdict: Verdict | None = None
    """The service's verdict as the gate that holds the job longest says it (``Verdict.binding``): hold until the
    day turns, not defer for 24 s, for a job both a cooldown and the budget keep back; ``gates`` has them all."""
    gates: list[Gate] = field(default_factory=list)
    """Every gate of the service that holds it now, in the order they are asked (live: all; other modes: those
    that hold in every mode); ``blocking`` lists each."""
    rank: int | None = None
    """Its place among the ``startable`` jobs (1: the next to start); None when deferred or held (a full limit
    leaves it its place: limits say how many start, not in what order)."""
    ready: int = 0
    """How many jobs are ready now."""
    startable: int = 0
    """How many of them the runner would start now, capacity aside: the ready jobs but those deferred by their
    window and, in live mode, those the service defers or holds. ``rank`` counts among these."""
    ranked: int = 0
    """How many ready jobs the service would start now (every mode but off): the verdict's rank counts among these."""
    policy: str | None = None

    @property
    def summary(self) -> str:
        """The headline with every blocking reason."""
        return f"{self.headline}: " + "; ".join(self.blocking) if self.blocking else self.headline

    def lines(self, now: float) -> list[tuple[str, str]]:
        """What `jobdeck why` prints (and the cockpit's `w` shows), line by line, each with its weight:
        "head" for the headline and the verdict, "" for a reason, "note" for an aside."""
        out = [(self.headline, "head")]
        out += [(f"  - {reason}", "") for reason in self.blocking]
        verdict = self.verdict
        if verdict is not None:
            where = f"decision service ({self.mode}, policy {self.policy})"
            if self.rank is None and self.status == Status.BACKLOG.value and verdict.action == START:
                out.append((f"{where}, once it is ready: score {verdict.score:.0f}", "head"))
            else:
                said = verdict.action  # the gate that holds it longest (Verdict.binding): the start to expect
                if verdict.until is not None:
                    said += f" for {dur(max(verdict.until - now, 0.0))}"
                if verdict.needs:
                    said += f" (needs {verdict.needs})"
                rank = f", rank {verdict.rank} of {self.ranked} it would start" if verdict.rank else ""
                out.append((f"{where}: {said}, score {verdict.score:.0f}{rank}", "head"))
            out += [(f"  - {reason}", "") for reason in verdict.reasons]
        elif self.mode == "off" and self.rank is not None:
            out.append(("decision service off (decide.mode): ready jobs start by pin, priority, waiting time, "
                        "jobs.json order", "note"))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "status": self.status, "mode": self.mode, "headline": self.headline,
                "summary": self.summary,
                "blocking": self.blocking, "gates": [gate.to_json() for gate in self.gates],
                "verdict": self.verdict.to_json() if self.verdict else None,
                "rank": self.rank, "ready": self.ready, "startable": self.startable, "ranked": self.ranked,
                "policy": self.policy}


def _status_line(job: Job, board: Board, now: float) -> str | None:
    state = board.state(job.id)
    attempt = state.attempt
    if state.status == Status.RUNNING and attempt is not None:
        return f"it is running: attempt {attempt.n}, for {dur(max(now - attempt.started, 0.0))}"
    if state.status == Status.REVIEW:
        return f"its output waits for review: {state.reason or 'review'}"
    if state.status == Status.DONE:
        return "it is done; " + (next_cycle(job, now) or "`jobdeck trigger` runs it again")
    if state.status == Status.FAILED:
        unused = job.retry.max_attempts - state.tries
        codes = ", ".join(map(str, job.retry.retryable_exit_codes)) or "none named"
        kept = (f" (not tried again: an exit code is only if retry.retryable_exit_codes names it ({codes}); "
                f"{unused} of its {job.retry.max_attempts} attempts unused)"
                if unused > 0 and (state.reason or "").startswith("exited with code") else "")
        return f"it failed: {state.reason or 'failed'}{kept}; `jobdeck retry {job.id}` queues it again"
    if state.status == Status.CANCELLED:
        return f"it was cancelled: {state.reason or ''}".rstrip(": ") + "; " \
            + (next_cycle(job, now) or f"`jobdeck retry {job.id}` queues it again")
    return None


def next_cycle(job: Job | JobPreview, now: float) -> str | None:
    """What starts the job's next cycle by itself ("its schedule starts the next cycle at 02:00 Europe/Paris"), if
    anything does."""
    if job.schedule is not None:
        fire = next_fire_text(job.schedule, job.timezone, now)
        return "its schedule starts the next cycle" + (f" at {fire}" if fire else "")
    if job.trigger is not None:
        return f"a file matching {job.trigger} in its inbox starts the next cycle"
    return None


def _written(job: Job, spec: Spec, board: Board, now: float) -> list[str]:
    """The written constraints that keep a backlog job from starting (``state.blocking``), each with its hint."""
    return [blocker.said() for blocker in blocking(job, board.state(job.id), board, now)]


def _gate_line(gate: Gate, now: float) -> str:
    """A gate as `why` lists it: its reason, and the end of a hold that has one (a deferral's reason names its
    end: "opens at 22:00", "cools down until 14:05 UTC")."""
    if gate.action == HOLD and gate.until is not None:
        return f"{gate.reason} (until {zoned_text(gate.until, 'UTC', now)}, in {dur(max(gate.until - now, 0.0))})"
    return gate.reason


def _limits(job: Job, spec: Spec, board: Board) -> list[str]:
    """Limits that are full now (counting every running attempt on the board)."""
    running = [spec.by_id[j] for j, st in board.jobs.items() if st.status == Status.RUNNING and j in spec.by_id]
    found = []
    if len(running) >= spec.limits.parallel:
        found.append(f"limits.parallel {spec.limits.parallel}: {len(running)} running")
    used: Counter[tuple[str, str]] = Counter()
    for other in running:
        for kind, name, _ in limit_keys(other, spec):
            used[(kind, name)] += 1
    for kind, name, limit in limit_keys(job, spec):
        if used[(kind, name)] >= limit:
            found.append(f"{kind} {name} allows {limit} at once: {used[(kind, name)]} running")
    return found


def why(spec: Spec, board: Board, job_id: str, now: float,
        cooldowns: Mapping[str, tuple[float, str]] | None = None) -> Why:
    """Why ``job_id`` is or is not running at ``now``. The caller checks the id is in ``spec``."""
    job = spec.by_id[job_id]
    state = board.state(job_id)
    policy = policy_of(spec)
    found = Why(job_id, state.status.value, policy.mode, "", policy=policy.digest)
    line = _status_line(job, board, now)
    if line is not None:
        found.headline = line
        return found
    found.blocking = _written(job, spec, board, now)
    ready = [j.id for j in spec.jobs if is_ready(j, board.state(j.id), board, now)]
    found.ready = len(ready)
    heuristic = Heuristic(policy, board)
    outlook = heuristic.outlook(now, cooldowns or {})
    if found.blocking:  # (out of live, only the gates of every mode: the budget and the reviews advise there)
        verdict = heuristic.verdict(job_id, state, outlook, written_only=policy.mode != "live")
        found.verdict, found.gates = verdict.binding(), list(verdict.gates)
        found.headline = "it cannot start yet"
        return found
    found.blocking = _limits(job, spec, board)
    ranked = heuristic.rank(ready, outlook) if policy.mode != "off" else []
    found.ranked = sum(1 for verdict in ranked if verdict.action == START)
    if policy.mode == "live":
        verdict = next(v for v in ranked if v.job == job_id)
        found.verdict, found.gates = verdict.binding(), list(verdict.gates)
        found.rank, found.startable = verdict.rank, found.ranked
    else:  # the runner's order: pins, then priority, waiting time, jobs.json order; a closed window holds
        place = {j.id: n for n, j in enumerate(spec.jobs)}

        def operator_order(jid: str) -> tuple[Any, ...]:
            st = board.state(jid)
            if st.override == "pin":
                return (0, st.override_at or 0.0)
            return (1, -spec.by_id[jid].priority, st.since or 0.0, place[jid])
        startable = sorted((jid for jid in ready
                            if heuristic.gate(jid, board.state(jid), outlook, written_only=True)[0] == START),
                           key=operator_order)
        found.startable = len(startable)
        found.rank = startable.index(job_id) + 1 if job_id in startable else None
        if policy.mode != "off":
            found.verdict = next(v for v in ranked if v.job == job_id).binding()
        found.gates = heuristic.gates(job_id, state, outlook, written_only=True)  # (they hold in every mode)
    found.blocking += [_gate_line(gate, now) for gate in found.gates]
    if found.blocking:
        found.headline = "it is ready but cannot start now"
    else:
        found.headline = f"it is ready: {found.rank} of {found.startable} in the order the runner starts jobs"
        kept = found.ready - found.startable
        if kept and policy.mode == "live":
            found.headline += f" ({kept} more ready {'job is' if kept == 1 else 'jobs are'} deferred or held)"
        elif kept:
            waits = "job waits for its" if kept == 1 else "jobs wait for their"
            found.headline += f" ({kept} more ready {waits} window)"
    return found
