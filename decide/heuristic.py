"""The transparent scorer: deadline slack, max_wait, the operator's priority; gates for budget, reviews, windows.

Ranking (lower key starts first), in four classes:

0. pinned by the operator, in the order of the pins;
1. waited past ``max_wait``: the longest overdue first (no job starves);
2. a latest start within its lead: the earliest latest start first.
   A deadline's latest start (its own, or a pending dependent's) is the deadline
   less the p90 duration of the job and of its path to that deadline, less a
   retry margin for a job that fails often; its lead is ``decide.horizon``.
   ``max_wait``'s latest start is ``since + max_wait``, and its lead (``wait_lead``)
   half the max_wait, or the longest a slot busy now may stay busy if that is
   longer (``slot_hold``: the longest p90 of the policy's jobs), at most the
   horizon: a bound, not a priority, it puts the job ahead of your order only
   once waiting in it could miss the bound, and from then on the first slot to
   come free (at p90) is the job's, before its bound;
3. everything else as ``off`` orders it: priority, waiting time, jobs.json order.

A job's key changes only when it crosses ``latest start - lead`` or ``since +
max_wait``; ``Heuristic.order`` says when, so a caller can keep the ranking in a
heap and touch a job only when its key changes (a change in another job's p90
moves a lead: it reaches a job the next time the job is keyed). The gates (window, cooldown,
budget, review capacity) depend on the whole deck and are asked of the jobs at
the head of the ranking only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from jobdeck.decide.outlook import Outlook, outlook_of
from jobdeck.decide.path import PathLeft, path_left
from jobdeck.decide.policy import JobPolicy, Policy
from jobdeck.decide.times import clock_text, day_start, local_day_start, next_clock, window_state, zoned_text
from jobdeck.decide.verdict import DEFER, HOLD, START, Gate, SortKey, Verdict
from jobdeck.state.board import Board
from jobdeck.state.durations import format_duration as dur
from jobdeck.state.machine import JobState, Status
from jobdeck.state.money import format_cost as money
from jobdeck.state.tally import picodollars
from jobdeck.state.views import override_text, ready_since

PIN, OVERDUE, URGENT, NORMAL = range(4)
UNFINISHED = frozenset({Status.BACKLOG, Status.RUNNING})
"""A job's states in which its deadline is still to be met, or missed: not yet run, or running."""
LOW_BUDGET = 0.8
"""The share of the daily budget spoken for past which a job is routed to its cheapest model."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a job's history says of its next attempt."""

    p90: float
    runs: int
    """Succeeded attempts behind ``p90`` (0: the policy's default_duration)."""
    cost: float
    """Mean cost of an attempt (for an llm job with no history: its model's, else the policy's default_cost)."""
    cost_high: float
    """The most an attempt may cost, as far as history knows: the budget gate plans for this."""
    failure_rate: float | None
    margin: float
    """Time kept for retries: expected extra attempts (from the failure rate) times p90."""
    cost_assumed: bool = False
    """An llm job whose cost neither its own attempts (none ended, or they recorded none) nor its model's tell:
    ``cost`` is the policy's default_cost."""
    cost_model: str | None = None
    """For an llm job with no history of its own: the model whose mean cost per attempt (in the rollups, over
    every job that ran on it) ``cost`` is; None when it is the policy's default_cost or the job's own."""


@dataclass(frozen=True, slots=True)
class Slack:
    """How late a job may start and still meet a deadline, and which deadline binds."""

    latest_start: float
    deadline: float
    owner: str
    """The job whose deadline it is (the job itself, or a pending dependent)."""
    path: float
    """p90 duration (with margins) from this job's start to the owner's end."""


class Heuristic:
    """Scores and gates ready jobs of one policy against one board. Pure: it reads, never writes."""

    def __init__(self, policy: Policy, board: Board) -> None:
        self.policy = policy
        self.board = board
        self._estimates: dict[str, tuple[tuple[int, int], Estimate]] = {}
        self._depends_on: dict[str, tuple[str, ...]] = {}
        self._slot_hold: float | None = None
        self._bounded = [job for job in policy.jobs.values() if job.max_wait is not None]
        for parent, children in policy.dependents.items():
            for child in children:
                self._depends_on[child] = (*self._depends_on.get(child, ()), parent)

    def outlook(self, now: float, cooldowns: Mapping[str, tuple[float, str]],
                running: Iterable[str] | None = None) -> Outlook:
        """The board's outlook at ``now``, counting the attempts ``running`` (default: the board's running
        jobs) at their estimated cost, and those whose output will wait for review."""
        if running is None:
            running = [job for job, state in self.board.jobs.items() if state.status == Status.RUNNING]
        mine = [job for job in running if job in self.policy.jobs]
        return outlook_of(self.board, now, cooldowns, sum(self.estimate(job).cost_high for job in mine),
                          sum(1 for job in mine if self.policy.jobs[job].reviewed))

    # -- what history says ---------------------------------------------------------

    def estimate(self, job_id: str) -> Estimate:
        """p90 duration, mean cost and failure rate from the job's rollup (cached until it, or for a job with no
        history of its own its model, ends another attempt).

        An llm job with no history of its own is given its model's mean cost per attempt, from every job that ran
        on it, when those runs recorded a cost; else, as one whose runs recorded none, ``default_cost``.
        """
        rollups = self.board.rollups
        rollup = rollups.jobs.get(job_id)
        policy, job = self.policy, self.policy.jobs[job_id]
        ended = rollup.ended if rollup is not None else 0
        own = bool(rollup is not None and ended and (rollup.cost or job.model is None))
        """The job's own attempts tell its cost; else (none ended, or they recorded none: a 429 costs nothing) its
        model's mean over every job, else ``default_cost``."""
        on_model = rollups.models.get(job.model, (0, 0.0)) if job.model is not None and not own else (0, 0.0)
        version = (ended, on_model[0])
        cached = self._estimates.get(job_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        runs = rollup.durations.total if rollup is not None else 0
        p90 = (rollup.durations.quantile(0.9) if rollup is not None and runs else None) or policy.default_duration
        from_model = None
        if own:
            assert rollup is not None
            cost, high = rollup.cost / ended, max(rollup.cost_max, rollup.cost / ended)
        elif on_model[0] and on_model[1] > 0:
            cost = high = on_model[1] / on_model[0]
            from_model = job.model
        else:
            cost = high = policy.default_cost if job.model is not None else 0.0
        assumed = bool(job.model is not None and not own and from_model is None and cost)
        rate = rollup.failure_rate() if rollup is not None else None
        extra = min(rate / (1.0 - rate), job.max_attempts - 1) if rate and rate < 1.0 and job.max_attempts > 1 \
            else (job.max_attempts - 1 if rate == 1.0 else 0.0)
        found = Estimate(p90, runs, cost, high, rate, extra * p90, assumed, from_model)
        self._estimates[job_id] = (version, found)
        if self._slot_hold is not None:
            self._slot_hold = max(self._slot_hold, p90)
        return found

    def wait_lead(self, max_wait: float) -> float:
        """How long before ``since + max_wait`` a job goes ahead of your order: long enough for a busy slot to come
        free (``slot_hold``) and for the jobs that reach their bounds together, half the max_wait (a burst queued
        at once shares one bound); at most ``decide.horizon``, as a deadline's."""
        return min(self.policy.horizon, max(self.slot_hold(), max_wait / 2))

    def slot_hold(self) -> float:
        """The longest p90 duration of the policy's jobs: how long, as history tells, a slot busy now may stay busy.

        Taken over every job once per policy, then raised by each estimate made afresh (it never falls while the
        policy lasts: a lead kept too long starts a job early, one too short misses its bound).
        """
        if self._slot_hold is None:
            self._slot_hold = 0.0
            self._slot_hold = max((self.estimate(job_id).p90 for job_id in self.policy.jobs),
                                  default=self.policy.default_duration)
        return self._slot_hold

    def deadline_of(self, job: JobPolicy, state: JobState, now: float) -> float | None:
        """The job's own deadline for its current cycle; None once a success of the cycle has settled it (met, or
        missed and done since), so the operator's re-run of the job is not held to it again."""
        clock = job.deadline_clock
        if (job.deadline_at is None and clock is None) or (clock is not None and job.scheduled and state.cycle == 0):
            return None  # (a scheduled job's first fire begins its first cycle: until then no deadline is running)
        # the cycle began at its cron fire or trigger, or when a runner listed the job (a claim, a retry or a fire
        # skipped later in the cycle does not move the deadline)
        began = state.began if state.began is not None else \
            state.last_fire if job.scheduled and state.last_fire else state.since
        if began is None:  # held or paused before a runner first saw it: its cycle began when one listed it
            began = self.board.listed.get(state.job)
        if succeeded_since(state, began):
            return None
        if clock is None:
            return job.deadline_at
        if began is None:
            # never triggered, listed nor moved: in every mode but off a runner lists it as it first sees it,
            # from now; in off nothing does, so its cycle is the day it is in (a deadline earlier today passed)
            began = local_day_start(now, job.timezone) if self.policy.mode == "off" else now
        return next_clock(clock, job.timezone, began)

    def missed(self, now: float) -> list[tuple[str, float]]:
        """(job, deadline) for each job whose own deadline of its current cycle passed while it is not done, in
        the order of their deadlines: what `status --check` reports in every mode."""
        late = []
        for job_id, job in self.policy.jobs.items():
            if job.deadline_clock is None and job.deadline_at is None:
                continue
            state = self.board.state(job_id)
            deadline = self.deadline_of(job, state, now) if state.status in UNFINISHED else None
            if deadline is not None and deadline < now:
                late.append((job_id, deadline))
        return sorted(late, key=lambda pair: (pair[1], pair[0]))

    def _waiting(self, job_id: str, state: JobState, now: float) -> bool:
        """Whether a backlog job's wait for a slot has begun: its retry is due and its dependencies are done."""
        return not (state.not_before is not None and state.not_before > now) \
            and all(self.board.state(dep).status == Status.DONE for dep in self.depends_on(job_id))

    def waits_past(self, now: float, grace: float = 0.0) -> tuple[list[tuple[str, float]], float | None]:
        """(job, since) for each job waiting past its max_wait at ``now`` (by ``grace`` at least), longest overdue
        first, and the next time a job waiting now crosses its max_wait (or crossed it, less than ``grace`` ago).

        Waiting: in the backlog, not for a fire, a retry or its dependencies. What keeps it back is the operator's
        (a hold, a pause, an approval), a gate's, or busy slots: `status --check` reports it in every mode.
        """
        past: list[tuple[float, str, float]] = []
        crossing: float | None = None
        board = self.board
        for job in self._bounded:
            state = board.state(job.id)
            if state.status != Status.BACKLOG or (job.scheduled and state.cycle == 0) \
                    or not self._waiting(job.id, state, now):
                continue
            since = ready_since(state, self.depends_on(job.id), board)
            if since is None:
                continue  # never listed (off mode, a job no runner saw): no wait to count
            bound = since + (job.max_wait or 0.0)
            if bound < now and now - bound >= grace:
                past.append((bound, job.id, since))
            elif crossing is None or bound < crossing:
                crossing = bound  # (or crossed less than ``grace`` ago)
        return [(job_id, since) for _, job_id, since in sorted(past)], crossing

    def slack(self, job_id: str, now: float, _seen: dict[str, Slack | None] | None = None) -> Slack | None:
        """The binding deadline through this job: its own or a pending dependent's, whichever leaves less room."""
        seen = {} if _seen is None else _seen
        if job_id in seen:
            return seen[job_id]
        seen[job_id] = None  # (the spec has no cycles; this only guards the recursion)
        policy = self.policy
        job = policy.jobs[job_id]
        board = self.board
        estimate = self.estimate(job_id)
        own = estimate.p90 + estimate.margin
        best: Slack | None = None
        deadline = self.deadline_of(job, board.state(job_id), now)
        if deadline is not None:
            best = Slack(deadline - own, deadline, job_id, own)
        for child in policy.dependents.get(job_id, ()):
            if board.state(child).status != Status.BACKLOG:
                continue
            below = self.slack(child, now, seen)
            if below is not None and (best is None or below.latest_start - own < best.latest_start):
                best = Slack(below.latest_start - own, below.deadline, below.owner, below.path + own)
        seen[job_id] = best
        return best

    def depends_on(self, job_id: str) -> tuple[str, ...]:
        """The jobs ``job_id`` depends on."""
        return self._depends_on.get(job_id, ())

    def left(self, job_id: str, now: float) -> PathLeft:
        """What is left of the job's path at ``now`` (``decide.path``): its slowest unfinished upstream chain
        and itself at p90, from when its window opens if it is closed then (in live mode, from when a hold with a
        known end is over), and the approvals it waits on."""
        return path_left(self, job_id, now)

    def remaining(self, job_id: str, now: float) -> float:
        """p90 seconds until ``job_id`` ends: ``left``'s figure."""
        return self.left(job_id, now).seconds

    def at_risk(self, job_id: str, now: float) -> tuple[float, str] | None:
        """(deadline, reason) when a job with its own deadline would end after it at p90 from now, or its
        deadline passed while it is not done (a deadline before ``now``: missed); else None."""
        job = self.policy.jobs[job_id]
        state = self.board.state(job_id)
        if state.status not in UNFINISHED:
            return None
        deadline = self.deadline_of(job, state, now)
        if deadline is None:
            return None
        left = self.left(job_id, now)
        end = now + left.seconds
        if end <= deadline:
            return None
        when = zoned_text(deadline, job.timezone, now)
        ends = f"ends about {clock_text(end, job.timezone, now)}, {dur(end - deadline)} late" + left.approval_text()
        if deadline < now:  # missed already: late, not at risk
            return deadline, f"deadline {when} missed {dur(now - deadline)} ago, not done: at p90 it {ends}"
        wait = left.wait_text(job_id, job.timezone, now)
        if left.wait is not None and wait is not None:
            said = "cannot be met" if left.wait.until >= deadline else "at risk"
            return deadline, f"deadline {when} {said}: {wait}, so at p90 it {ends}"
        return deadline, (f"deadline {when} at risk: what is left of its path takes {dur(left.seconds)} at p90, "
                          f"so it {ends}")

    # -- ranking ---------------------------------------------------------------------

    def waiting_since(self, job_id: str, state: JobState, now: float) -> float:
        """When the ready job began to wait for a slot (``views.ready_since``), or ``now`` if the board does not
        tell: its ``max_wait`` counts from here. (Its place among jobs of one priority is yours: ``since``.)"""
        return ready_since(state, self._depends_on.get(job_id, ()), self.board) or now

    def order(self, job_id: str, state: JobState, now: float) -> tuple[SortKey, float, list[str], float | None]:
        """The job's sort key, score and ranking reasons at ``now``, and when its key next changes."""
        policy = self.policy
        job = policy.jobs[job_id]
        since = self.waiting_since(job_id, state, now)
        estimate = self.estimate(job_id)
        reasons: list[str] = []
        if not estimate.runs:
            # (durations come from successes: a job seen only failing has none, and says so)
            reasons.append(f"{'no history' if estimate.failure_rate is None else 'no successful run yet'}: "
                           f"assumed {dur(estimate.p90)}"
                           + (f", {money(estimate.cost)}" if job.model is not None else "")
                           + (f", {estimate.cost_model}'s mean" if estimate.cost_model is not None else
                              " (decide.default_cost)" if estimate.cost_assumed else ""))
        elif estimate.cost_assumed:
            reasons.append(f"no cost recorded: assumed {money(estimate.cost)} a run (decide.default_cost)")
        if estimate.failure_rate and estimate.margin:
            reasons.append(f"fails {estimate.failure_rate:.0%} of runs: {dur(estimate.margin)} kept for retries")
        overdue_at = since + job.max_wait if job.max_wait is not None else None
        if overdue_at is not None and not self._waiting(job_id, state, now):
            # its wait has not begun (a dependency not done, a retry not due): no latest start yet, as
            # ``waits_past`` counts none (`why` on a blocked job said "must start by" a time it could not)
            reasons.append(f"max_wait {dur(job.max_wait or 0)} counts once it is ready")
            overdue_at = None
        slack = self.slack(job_id, now)
        changes: list[float] = []
        if state.override == "pin":
            reasons.insert(0, "pinned by the operator")
            return (PIN, state.override_at or 0.0), 1000.0, reasons, None
        if overdue_at is not None and now >= overdue_at:
            # (first in the ranking, not started: a gate, a hold or busy slots may still keep it back)
            reasons.insert(0, f"waited {dur(now - since)}, past max_wait {dur(job.max_wait or 0)}: first in line")
            return (OVERDUE, overdue_at), 900.0, reasons, None
        if overdue_at is not None:
            changes.append(overdue_at)
        # Each latest start with its lead: the binding deadline's (the horizon), max_wait's (slot_hold, at most the
        # horizon). Within its lead the job goes ahead of your order.
        latest = [(slack.latest_start, policy.horizon, self._deadline_reason(job_id, slack, now))] \
            if slack is not None else []
        if overdue_at is not None:
            latest.append((overdue_at, self.wait_lead(job.max_wait or 0.0),
                           f"must start by {zoned_text(overdue_at, job.timezone, now)} (max_wait "
                           f"{dur(job.max_wait or 0)}), in {dur(overdue_at - now)}"))
        if latest:
            latest.sort()
            reasons.insert(0, latest[0][2])
            ahead = [(start_by, lead) for start_by, lead, _ in latest if start_by - now <= lead]
            start_by, lead = ahead[0] if ahead else (math.inf, 0.0)
            # the key changes when an earlier latest start than the one it is keyed by comes within its lead
            changes += [earlier - its_lead for earlier, its_lead, _ in latest if earlier < start_by]
            if ahead:
                left = start_by - now
                score = 500.0 + 400.0 * (1.0 - max(0.0, min(left / lead, 1.0))) if lead > 0 else 900.0
                return (URGENT, start_by), score, reasons, min(changes, default=None)
        if job.priority:
            reasons.append(f"priority {job.priority}")
        score = max(0.0, min(100.0 + job.priority / 10.0, 300.0))
        # your order exactly (runner/selection.py): far from a deadline the service changes nothing
        return (NORMAL, -job.priority, state.since or 0.0, job.place), score, reasons, min(changes, default=None)

    def _deadline_reason(self, job_id: str, slack: Slack, now: float) -> str:
        """The binding deadline's room, counted from the job's earliest start: after what is left upstream of it,
        and when its window opens or a live hold with a known end is over (the same path as ``at_risk``)."""
        owner = self.policy.jobs[slack.owner]
        when = zoned_text(slack.deadline, owner.timezone, now)
        estimate = self.estimate(job_id)
        path = self.left(job_id, now)
        start = now + max(path.seconds - (estimate.p90 + estimate.margin), 0.0)
        left = slack.latest_start - start
        room = f"slack {dur(left)}" if left >= 0 else f"late by {dur(-left)}"
        wait = path.wait_text(job_id, owner.timezone, now)
        missed = " cannot be met" if path.wait is not None and path.wait.until >= slack.deadline else ""
        if wait is None and start > now:
            wait = f"what is left of its path takes {dur(path.seconds)} at p90"
        gone = f" missed {dur(now - slack.deadline)} ago" if slack.deadline < now else ""
        if slack.owner == job_id:
            said = f"{missed}: {wait}" if missed and not gone else f", {wait}" if wait else ""
            head = f"deadline {when}{gone}{said}"
            return f"{head}, p90 duration {dur(estimate.p90)}, {room}{path.approval_text()}"
        head = f"feeds {slack.owner} (deadline {when})" + (f", which was{gone}" if gone else
                                                           f", which{missed}" if missed else "")
        return f"{head}: {wait + ', ' if wait else ''}critical path p90 {dur(slack.path)}, {room}{path.approval_text()}"

    # -- gates ----------------------------------------------------------------------

    def gate(self, job_id: str, state: JobState, outlook: Outlook,
             written_only: bool = False) -> tuple[str, float | None, str | None, str | None]:
        """(action, until, needs, reason): whether the deck lets this job start now, whatever its rank, and if not,
        the first gate that holds it (the runner's question: it asks no further).

        ``written_only``: only the gates that hold in every mode: what jobs.json writes of the job itself
        (its window), and every model it names cooling down (an attempt then could call nothing); the budget
        and review capacity gate in live mode only. A pinned job meets only the cooldown.
        """
        first = next(self._gates(job_id, state, outlook, written_only), None)
        return (START, None, None, None) if first is None else first

    def gates(self, job_id: str, state: JobState, outlook: Outlook, written_only: bool = False) -> list[Gate]:
        """Every gate that holds this job now, in the order ``gate`` asks them (none: it may start)."""
        return list(self._gates(job_id, state, outlook, written_only))

    def _gates(self, job_id: str, state: JobState, outlook: Outlook, written_only: bool) -> Iterator[Gate]:
        """The gates that hold the job, one at a time: a caller that needs only the first asks no more."""
        if state.override == "hold":
            yield Gate(HOLD, None, "release", override_text(state))  # "held by the operator: site down"
        # A pin goes past the service's judgement (a window, the budget, reviews), not a provider's cooldown: an
        # attempt started then could call nothing.
        pinned = state.override == "pin"
        policy, now = self.policy, outlook.now
        job = policy.jobs[job_id]
        if job.window is not None and not pinned:
            inside, change = window_state(job.window[0], job.window[1], job.timezone, now)
            if not inside:
                yield Gate(DEFER, change, "window", f"window {job.window_text} ({job.timezone}) opens at "
                           f"{clock_text(change, job.timezone, now)}, in {dur(change - now)}")
        if job.cooldown_keys and all(key in outlook.cooldowns for key in job.cooldown_keys):
            until, why = min(outlook.cooldowns[key] for key in job.cooldown_keys)
            which = (f"model {job.label(job.models[0])} cools" if len(job.models) == 1
                     else f"all {len(job.models)} of its models cool")
            yield Gate(DEFER, until, "cooldown", f"{'pinned, but ' if pinned else ''}{which} down until "
                       f"{zoned_text(until, 'UTC', now, seconds=True)}" + (f" ({why})" if why else ""))
        if written_only or pinned:
            return
        cost = self.estimate(job_id).cost_high
        # money is compared in whole picodollars, as the tally keeps it: two $0.021 calls recorded as
        # 0.020999999999999998 each use a $0.042 budget, and $0.10 + $0.20 fits in $0.30
        if policy.per_job_budget is not None and picodollars(cost) > picodollars(policy.per_job_budget):
            yield Gate(HOLD, None, "budget", f"it may cost {money(cost)}, over the per-job budget "
                       f"{money(policy.per_job_budget)}")
        elif policy.daily_budget is not None:  # (a job over the per-job budget never starts: the day's is moot)
            used = picodollars(outlook.spent_today) + picodollars(outlook.committed)
            daily = picodollars(policy.daily_budget)
            # a job that calls a model may cost money whatever its estimate: none starts once the day's budget is used
            if (cost or job.model is not None) and (used + picodollars(cost) > daily or used >= daily):
                extra = f" + up to {money(cost)} for this job" if cost else ""
                yield Gate(HOLD, day_start(now) + 86400, "budget",
                           f"budget: {money(outlook.spent_today)} spent today + {money(outlook.committed)} running or "
                           f"starting first{extra} {'>' if cost else '>='} {money(policy.daily_budget)} a day"
                           + ("" if cost else f", and it calls {job.model}"))
        if policy.review_capacity is not None and job.reviewed and outlook.review_waiting >= policy.review_capacity:
            ahead = outlook.review_ahead
            counted = (f" once {', '.join(ahead)}, starting first, {'is' if len(ahead) == 1 else 'are'} counted"
                       if ahead else "")
            yield Gate(HOLD, None, "reviews", f"review queue {outlook.review_waiting} of capacity "
                       f"{policy.review_capacity}{counted}, and its output goes to review")

    def route(self, job_id: str, outlook: Outlook) -> tuple[str | None, str | None]:
        """The model to start the job on when its written order is not the best one now, and why.

        Only among the models the job names (model, then fallbacks): past one that
        is cooling down, or, once LOW_BUDGET of the day's budget is spoken for, to
        the one whose runs have cost least. (None, None): the written order.
        """
        policy, job = self.policy, self.policy.jobs[job_id]
        if len(job.models) < 2:
            return None, None
        usable = [model for model, key in zip(job.models, job.cooldown_keys) if key not in outlook.cooldowns]
        if not usable:
            return None, None  # the gate defers it
        budget = policy.daily_budget
        used = outlook.spent_today + outlook.committed
        if budget is not None and used >= LOW_BUDGET * budget:
            priced = [(cost, n, model) for n, model in enumerate(usable)
                      if (cost := self.board.rollups.model_cost(model)) is not None]
            if priced:
                cost, _, cheapest = min(priced)
                if cheapest != job.models[0]:
                    first = self.board.rollups.model_cost(job.models[0])
                    against = f" against {money(first)} on {job.models[0]}" if first is not None else ""
                    return cheapest, (f"budget {used / budget:.0%} used: routed to {cheapest}, "
                                      f"{money(cost)} a run{against}")
        if usable[0] != job.models[0]:
            until, _ = outlook.cooldowns[job.cooldown_keys[0]]
            return usable[0], (f"{job.label(job.models[0])} cools down until {zoned_text(until, 'UTC', outlook.now)}: "
                               f"routed to {usable[0]}")
        return None, None

    # -- together -------------------------------------------------------------------

    def verdict(self, job_id: str, state: JobState, outlook: Outlook, written_only: bool = False) -> Verdict:
        """The job's whole verdict: its gates first (the first sets what the runner does), then its place in the
        ranking."""
        key, score, reasons, _ = self.order(job_id, state, outlook.now)
        asked = self._gates(job_id, state, outlook, written_only)
        first = next(asked, None)
        if first is None:
            return Verdict(job_id, START, score, tuple(reasons), key)
        gates = (first, *asked)  # (the rest only for a job kept back: one that starts costs no more)
        return Verdict(job_id, first.action, score, (*(gate.reason for gate in gates), *reasons), key, first.until,
                       first.needs, gates=gates)

    def rank(self, ready: list[str], outlook: Outlook) -> list[Verdict]:
        """Every ready job's verdict: those that may start in rank order (rank 1 first), then the rest.

        Gates are applied in rank order against one outlook, each start counting
        its cost and its review: the ranking the runner would follow this turn.
        """
        board = self.board
        ordered = sorted((self.order(job_id, board.state(job_id), outlook.now)[0], job_id) for job_id in ready)
        outlook = Outlook(outlook.now, outlook.spent_today, outlook.committed, outlook.review_waiting,
                          outlook.cooldowns)
        starts: list[Verdict] = []
        others: list[Verdict] = []
        for _, job_id in ordered:
            found = self.verdict(job_id, board.state(job_id), outlook)
            if found.action == START:
                outlook.commit(self.estimate(job_id).cost_high, self.policy.jobs[job_id].reviewed, job_id)
                starts.append(Verdict(found.job, found.action, found.score, found.reasons, found.key,
                                      rank=len(starts) + 1))
            else:
                others.append(found)
        return starts + others


def succeeded_since(state: JobState, began: float | None) -> bool:
    """Whether an attempt of ``state`` claimed at or after ``began`` (None: any) succeeded, its output not
    rejected in review."""
    for attempt in reversed(state.attempts):
        if began is not None and attempt.started < began:
            return False  # (attempts are kept oldest first: the rest are of earlier cycles)
        if attempt.outcome == "succeeded" and attempt.accepted is not False:
            return True
    return False


def gate_note(verdict: Verdict, job: JobPolicy, now: float) -> str | None:
    """A held or deferred job's few words, as its card shows them: '⏸ reviews', '⏱ window 22:00'; else None.

    Of a job more than one gate holds, the one that holds it longest (``Verdict.binding``): a card that read
    '⏱ cooldown 14:05 UTC' for a job the budget holds until the day turns would promise a start at 14:05."""
    verdict = verdict.binding()
    if verdict.action == HOLD:
        return "⏸ held" if verdict.needs == "release" else f"⏸ {verdict.needs}"
    if verdict.action == DEFER:
        cause = verdict.needs or "cooldown"
        if verdict.until is None:
            return f"⏱ {cause}"
        if cause == "window":  # in the job's zone, as jobs.json gives the window
            return f"⏱ {cause} " + clock_text(verdict.until, job.timezone, now)
        return f"⏱ {cause} " + zoned_text(verdict.until, "UTC", now)  # a model's: no job's zone, so say it
    return None
