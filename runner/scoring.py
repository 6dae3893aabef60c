"""The model as scorer, on the runner's side: when to ask, what an answer may change, and the fallback.

With ``decide.scorer: {"agent": NAME}`` in ``live`` mode, the runner asks that
llm agent to order the ready jobs (``agents/ranker.py`` makes the call) when a
job it has not asked about becomes ready, never per turn, at most one question
at a time. The call runs on a daemon thread: the loop claims in the order in
force meanwhile and never waits (``run --once`` does not wait for it either).

An answer may only reorder jobs within the heuristic's classes URGENT and
NORMAL: pins and jobs past ``max_wait`` still go first, and the gates (window,
cooldown, budget, review capacity) still apply to every job. It is refused, and
the heuristic's order used, when it is late, not the answer's shape, names
unknown, repeated or missing ids, is less confident than ``min_confidence``, or
would make a job wait past ``max_wait`` that the heuristic's order would not
(see ``breaches``). Every answer is recorded as a deck-level ``scored`` event
with its cost, which the rollups count in the day's spend the budget gate sees.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jobdeck.agents.ranker import RankerSettings, RankingRejected, Reply, ask, parse, question
from jobdeck.decide.heuristic import NORMAL, URGENT, Heuristic
from jobdeck.decide.times import day_start
from jobdeck.decide.verdict import SortKey
from jobdeck.state.board import Board
from jobdeck.state.durations import format_duration as dur
from jobdeck.state.errors import AgentError
from jobdeck.state.money import format_cost as money
from jobdeck.state.rollups import SCORED_TYPE

if TYPE_CHECKING:
    from jobdeck.decide.policy import Policy
    from jobdeck.state.spec import Spec

MAX_ASKED = 50
"""The question covers at most this many jobs, the first in the heuristic's order (the rest follow them)."""
CLASS_NAMES = {URGENT: "urgent", NORMAL: "normal"}


@dataclass(frozen=True, slots=True)
class Asked:
    """One question as it was put: what the answer is judged against."""

    generation: int
    ids: tuple[str, ...]
    """The jobs asked about, in the heuristic's order."""
    classes: Mapping[str, int]
    p90: Mapping[str, float]
    due: Mapping[str, float]
    """``since + max_wait`` of the jobs that have a max_wait."""
    ahead: float
    """p90 seconds of the pinned and overdue jobs, which start before any of these."""
    parallel: int


@dataclass(frozen=True, slots=True)
class Answer:
    """An accepted ranking: each asked job's place in it, and the model's reasons."""

    places: Mapping[str, int]
    reasons: Mapping[str, str]
    confidence: float


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")


def effective_order(order: Sequence[str], classes: Mapping[str, int]) -> list[str]:
    """The order jobs would start in under ``order``: class first (urgent before normal), then the answer's place."""
    return [job for _, _, job in sorted((classes[job], place, job) for place, job in enumerate(order))]


def breaches(order: Sequence[str], asked: Asked, now: float) -> dict[str, tuple[float, float]]:
    """Jobs that would start after ``since + max_wait`` if started in ``order``: id -> (expected start, due).

    Deliberately simple: the jobs start one after another on ``asked.parallel``
    slots, each taking its p90, after the pinned and overdue jobs; a job's
    expected start is now + (p90 of everything ahead of it) / parallel. Running
    attempts and gates are left out: they delay either order alike.
    """
    found = {}
    queued = asked.ahead
    for job in order:
        start = now + queued / asked.parallel
        due = asked.due.get(job)
        if due is not None and start > due:
            found[job] = (start, due)
        queued += asked.p90[job]
    return found


@dataclass
class Scoring:
    """Asks the scorer agent, judges its answers, and says how the order in force came about."""

    environ: Mapping[str, str]
    changed: Callable[[dict[str, Any]], None]
    """Called on the loop with the ``scored`` event of each answer (the runner records it and re-keys)."""
    clock: Callable[[], float] = time.time
    policy: Policy | None = None
    heuristic: Heuristic | None = None
    settings: RankerSettings | None = None
    answer: Answer | None = None
    status: str = ""
    """How the order in force came about, for the ``scorer`` field of decided events."""
    _asked: Asked | None = None
    _seen: set[str] = field(default_factory=set)
    """Ready jobs when the last question was put: a question is put again only for a job not among them."""
    _generation: int = 0
    _in_flight: bool = False
    _loop: asyncio.AbstractEventLoop | None = None
    last_cost: float = 0.0

    @property
    def active(self) -> bool:
        """Whether a scorer agent ranks in this spec (live mode only)."""
        return self.policy is not None and self.heuristic is not None and self.policy.scorer is not None \
            and self.policy.mode == "live"

    def reset(self, spec: Spec, policy: Policy | None, heuristic: Heuristic | None) -> None:
        """A new spec: forget the answer and what was asked (a reply to an older question is only recorded)."""
        self.policy, self.heuristic = policy, heuristic
        self._generation += 1
        self.answer, self._asked, self.settings = None, None, None
        self._seen = set()
        if not self.active:
            self.status = ""
            return
        assert policy is not None and policy.scorer is not None
        self.status = f"waiting for {policy.scorer}: heuristic order"
        try:
            self.settings = RankerSettings.for_agent(policy.scorer, spec.agents[policy.scorer], self.environ)
        except AgentError as exc:
            self.status = f"fallback: {exc}"

    # -- asking ------------------------------------------------------------------------------

    def look(self, ready: Iterable[str], board: Board, now: float, parallel: int) -> bool:
        """Put a question if a job is ready that the last one did not see; True if one was put (off the loop)."""
        prepared = self._prepare(ready, board, now, parallel)
        if prepared is None:
            return False
        asked, messages = prepared
        assert self.policy is not None
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._ask, args=(asked, self.settings, messages, self.policy.scorer_timeout),
                         name="jobdeck-scorer", daemon=True).start()
        return True

    def look_and_wait(self, ready: Iterable[str], board: Board, now: float, parallel: int) -> bool:
        """``look``, but the question is answered and judged before it returns (bench/decide_replay.py's clock
        jumps from event to event, so nothing can go on while it is out)."""
        prepared = self._prepare(ready, board, now, parallel)
        if prepared is None:
            return False
        asked, messages = prepared
        assert self.policy is not None and self.settings is not None
        self._answered(asked, ask(self.settings, messages, self.policy.scorer_timeout))
        return True

    def _prepare(self, ready: Iterable[str], board: Board, now: float,
                 parallel: int) -> tuple[Asked, list[dict[str, str]]] | None:
        """The question to put now, if one is due (marks it in flight)."""
        if not self.active or self.settings is None or self._in_flight:
            return None
        ready_now = set(ready)
        if not ready_now - self._seen:
            return None
        self._seen = ready_now
        policy, heuristic = self.policy, self.heuristic
        assert policy is not None and heuristic is not None
        if policy.daily_budget is not None:
            today = day_start(now)
            spent = board.rollups.cost_since(today, today + 86400)  # (not spend stamped on a later day)
            if spent + self.last_cost > policy.daily_budget:
                self.answer = None
                self.status = (f"fallback: budget: {money(spent)} spent today + {money(self.last_cost)} for a ranking "
                               f"> {money(policy.daily_budget)} a day")
                return None
        asked, features = self._question(ready_now, board, now, parallel)
        if not asked.ids:
            return None
        self._asked, self._in_flight = asked, True
        return asked, question(features, now=_iso(now), parallel=parallel)

    def _question(self, ready: set[str], board: Board, now: float,
                  parallel: int) -> tuple[Asked, list[dict[str, Any]]]:
        heuristic = self.heuristic
        assert heuristic is not None
        policy = heuristic.policy
        ranked = []
        ahead = 0.0
        for job_id in ready:
            if job_id not in policy.jobs:
                continue
            state = board.state(job_id)
            key, score, reasons, _ = heuristic.order(job_id, state, now)
            if key[0] in CLASS_NAMES:
                ranked.append((key, job_id, score, reasons, heuristic.waiting_since(job_id, state, now)))
            else:
                ahead += heuristic.estimate(job_id).p90
        ranked.sort()
        features = []
        classes, p90s, dues = {}, {}, {}
        for key, job_id, score, reasons, since in ranked[:MAX_ASKED]:
            job, estimate = policy.jobs[job_id], heuristic.estimate(job_id)
            slack = heuristic.slack(job_id, now)
            classes[job_id], p90s[job_id] = key[0], estimate.p90
            if job.max_wait is not None:
                dues[job_id] = since + job.max_wait
            features.append({
                "id": job_id, "class": CLASS_NAMES[key[0]], "score": round(score, 1), "reasons": reasons[:3],
                "deadline": _iso(slack.deadline) if slack is not None else None,
                "slack_s": round(slack.latest_start - now) if slack is not None else None,
                "p90_s": round(estimate.p90, 1),
                "failure_rate": round(estimate.failure_rate, 3) if estimate.failure_rate is not None else None,
                "cost_usd": round(estimate.cost, 6), "priority": job.priority, "waiting_s": round(now - since),
                "max_wait_s": job.max_wait,
            })
        ids = tuple(feature["id"] for feature in features)
        return Asked(self._generation, ids, classes, p90s, dues, ahead, max(parallel, 1)), features

    def _ask(self, asked: Asked, settings: RankerSettings, messages: list[dict[str, str]], timeout: float) -> None:
        """On the scorer's thread: the call, then the answer handed to the loop."""
        try:
            reply = ask(settings, messages, timeout)
        except Exception as exc:  # noqa: BLE001 - a failure here must end the question, whatever it is
            reply = Reply(None, f"error: {type(exc).__name__}: {exc}", 0.0)
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._answered, asked, reply)
        except RuntimeError:  # the loop has ended (the runner stopped): nobody is left to use the answer
            pass

    # -- judging -------------------------------------------------------------------------------

    def _answered(self, asked: Asked, reply: Reply) -> None:
        """On the loop: judge the reply, put the result in force, and hand its ``scored`` event to the runner."""
        self._in_flight = False
        policy = self.policy
        current = asked.generation == self._generation and policy is not None and policy.scorer is not None
        event: dict[str, Any] = {"type": SCORED_TYPE, "agent": self.settings.agent if self.settings else None,
                                 "model": self.settings.model if self.settings else None, "jobs": len(asked.ids),
                                 "seconds": round(reply.seconds, 3)}
        if reply.cost is not None:
            event["cost"] = reply.cost
            self.last_cost = reply.cost
        if reply.usage:
            event["usage"] = reply.usage
        if not current or policy is None:
            event.update(outcome="dropped", why="the spec changed while the question was out")
            self.changed(event)
            return
        event["policy"] = policy.digest
        answer, why = self.judge(asked, reply, policy, self.clock())
        if answer is None:
            self.answer = None
            self.status = f"fallback: {why}"
            event.update(outcome="fallback", why=why)
        else:
            self.answer = answer
            self.status = f"ranked by {policy.scorer} (confidence {answer.confidence:.2f})"
            order = sorted(answer.places, key=answer.places.__getitem__)
            event.update(outcome="accepted", confidence=answer.confidence, order=order)
        self.changed(event)

    @staticmethod
    def judge(asked: Asked, reply: Reply, policy: Policy, now: float) -> tuple[Answer | None, str]:
        """The answer in ``reply`` if the guardrails let it stand, else None and why not (one line)."""
        timeout = policy.scorer_timeout
        if reply.error is not None:
            return None, reply.error
        if reply.seconds > timeout:
            return None, f"timeout after {timeout:g}s (answered after {reply.seconds:.1f}s)"
        assert reply.text is not None
        try:
            ranking = parse(reply.text, asked.ids)
        except RankingRejected as exc:
            return None, f"invalid answer: {exc}"
        if ranking.confidence < policy.min_confidence:
            return None, f"confidence {ranking.confidence:.2f} is below min_confidence {policy.min_confidence:.2f}"
        proposed = effective_order(ranking.order, asked.classes)
        broken = breaches(proposed, asked, now)
        allowed = breaches(list(asked.ids), asked, now)
        for job in proposed:
            if job in broken and job not in allowed:
                start, due = broken[job]
                return None, (f"the order would start {job} in {dur(max(start - now, 0.0))}, past its max_wait "
                              f"(due in {dur(max(due - now, 0.0))})")
        places = {job: place for place, job in enumerate(ranking.order)}
        return Answer(places, ranking.reasons, ranking.confidence), "accepted"

    # -- using -----------------------------------------------------------------------------------

    def key(self, job_id: str, key: SortKey) -> SortKey:
        """The heuristic's ``key`` with the answer's place inside URGENT and NORMAL (ranked jobs first)."""
        answer = self.answer
        if answer is None or key[0] not in CLASS_NAMES:
            return key
        place = answer.places.get(job_id)
        return (key[0], 0, place) if place is not None else (key[0], 1, *key[1:])

    def annotate(self, job_id: str, reasons: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, Any]]:
        """A live claim's reasons and extra fields: the model's reason first, when its answer placed the job."""
        if not self.active:
            return reasons, {}
        answer = self.answer
        extra: dict[str, Any] = {"scorer": self.status}
        if answer is not None and job_id in answer.places:
            extra["scorer_place"] = answer.places[job_id] + 1
            said = answer.reasons.get(job_id)
            if said:
                reasons = (f"{self.policy.scorer if self.policy else 'scorer'}: {said}", *reasons)
        return reasons, extra
