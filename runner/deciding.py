"""The runner's side of the decision service: which order to claim in, and the ``decided`` events.

By mode (``decide.mode`` in jobs.json):

- ``off``: the operator's order (pins, priority, waiting time, jobs.json order).
- ``shadow`` and ``advise``: the same claims in the same order; each claim records what the
  service would have started instead (``advised``) and the claimed job's verdict, so
  ``jobdeck decisions --report`` can say where it would have differed.
- ``live``: the ready index is ordered by the ranking, and a job the gates refuse
  (window, cooldown, budget, review capacity) is skipped. With a scorer agent, its
  accepted answer reorders jobs within the ranking's classes (``runner/scoring.py``).

In every mode a job's ``window`` holds (it is written in jobs.json, like a dependency), and so
does a cooldown of every model a job names, on a pinned job too: its attempt could call nothing.
Each refusal is a ``decided`` event (hold or defer), once per change: the board keeps
the last one per job (``Board.kept_back``), so a new runner or a reloaded spec does
not say it again.

The service itself (``jobdeck.decide``) only reads; every record is written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.decide.heuristic import UNFINISHED, Heuristic, gate_note
from jobdeck.decide.outlook import Outlook, still_cooling
from jobdeck.decide.policy import Policy, models_of, policy_of
from jobdeck.decide.verdict import DEFER, HOLD, START, SortKey, Verdict
from jobdeck.state.blocking import blocking
from jobdeck.state.board import LISTED_TYPE, MODE_TYPE, Board
from jobdeck.state.cooldowns import read_cooldowns
from jobdeck.state.durations import format_duration as dur
from jobdeck.state.limits import limit_keys
from jobdeck.state.machine import EventType, JobState, Status

if TYPE_CHECKING:
    from jobdeck.runner.capacity import Capacity
    from jobdeck.runner.scoring import Scoring
    from jobdeck.runner.selection import ReadyIndex
    from jobdeck.state.spec import Job, Spec

ADVISED_KEPT = 5
"""How many of the service's first choices a shadow ``decided`` event names."""
RISK_EVERY = 60.0
"""Seconds between two looks at whether a deadline is at risk (a deadline's own moment is looked at too)."""
PAST = 1.0
"""Seconds after a deadline at which the runner looks whether it was met."""


@dataclass
class Deciding:
    """The decision service as one runner uses it, rebuilt on every spec change."""

    cooldowns_path: Path
    policy: Policy | None = None
    heuristic: Heuristic | None = None
    outlook: Outlook | None = None
    refused: set[str] = field(default_factory=set)
    """Ready jobs the gates refused this turn (live): with nothing else to do, ``run --once`` may end."""
    routes: dict[str, str] = field(default_factory=dict)
    """This turn's claims that go to another model than their first (live): job -> model."""
    pinned_past: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    """This turn's pinned claims that a gate would have kept back (live): job -> (needs, reason), for their event."""
    deferred: dict[str, float] = field(default_factory=dict)
    """Jobs deferred this turn (window, cooldown), and until when: the ready index parks them till then."""
    next_look: float | None = None
    """When a held job should be looked at again whatever happens (the budget's day turns)."""
    warned: set[tuple[str, int, float, str]] = field(default_factory=set)
    """(job, cycle, deadline, action) already told: at risk, then missed, each once per cycle."""
    waits_told: set[tuple[str, float]] = field(default_factory=set)
    """(job, since) whose wait past max_wait is told already, by this runner (the board keeps the deck's)."""
    risk_look: float | None = None
    """When to look at the deadlines and waits again (the decision service's own timer)."""
    scoring: Scoring | None = None
    """The model scorer (live mode with ``decide.scorer: {"agent": NAME}``), told of every spec change."""
    unlisted: list[str] = field(default_factory=list)
    """Jobs of the new spec whose wait counts from when a runner first saw them, to list if the deck never saw them."""
    _cooldowns: tuple[int, dict[str, tuple[float, str]]] = (-1, {})

    @property
    def mode(self) -> str:
        return self.policy.mode if self.policy is not None else "off"

    def reset(self, spec: Spec, board: Board, index: ReadyIndex) -> None:
        """Adopt ``spec``'s policy, and order ``index`` by it (live) or beside it (shadow, advise).

        Call before ``index.reset(spec)``.
        """
        index.keyer = index.advisor = None
        gated = any(job.window is not None or models_of(job, spec) for job in spec.jobs)
        if spec.decide.mode == "off" and not gated:
            self.policy = self.heuristic = None
        else:  # (in off mode, for the windows and the cooldowns alone)
            self.policy = policy_of(spec)
            self.heuristic = Heuristic(self.policy, board)
        # Every job a schedule does not start: listed with only some, a listed job (waiting since now) would
        # sort behind the unlisted (never seen: waiting since ever) in your order, and move there once listed.
        # In off mode, which ranks nothing, only the jobs with a max_wait: their wait must start somewhere for
        # `status --check` to tell it past (a deck without one writes no record it did not write before).
        off = spec.decide.mode == "off"
        self.unlisted = [job.id for job in spec.jobs if job.max_wait is not None
                         or not (off or job.schedule is not None or job.trigger is not None)]
        scoring = self.scoring
        if scoring is not None:
            scoring.reset(spec, self.policy, self.heuristic)
        if self.policy is None or self.heuristic is None or self.policy.mode == "off":
            return
        heuristic = self.heuristic
        ranking = scoring if scoring is not None and scoring.active and self.policy.mode == "live" else None

        def keyer(job_id: str, state: JobState, now: float) -> tuple[SortKey, float | None]:
            key, _, _, change = heuristic.order(job_id, state, now)
            return (key if ranking is None else ranking.key(job_id, key)), change
        if self.policy.mode == "live":
            index.keyer = keyer
        else:
            index.advisor = keyer

    def begin_turn(self, board: Board, now: float, running: Iterable[str]) -> None:
        """Take the turn's outlook: spend so far, the review queue, cooldowns, running jobs' estimates."""
        self.refused.clear()
        self.deferred.clear()
        self.routes.clear()
        self.pinned_past.clear()
        if self.heuristic is None:
            return
        self.heuristic.board = board
        if self.mode == "off":  # only the gates of every mode are asked: the time and the cooldowns
            self.outlook = Outlook(now, cooldowns=still_cooling(self._read_cooldowns(), now))
        else:
            self.outlook = self.heuristic.outlook(now, self._read_cooldowns(), running)
        self.next_look = None

    def _read_cooldowns(self) -> dict[str, tuple[float, str]]:
        try:
            stamp = self.cooldowns_path.stat().st_mtime_ns
        except OSError:
            return {}
        if stamp != self._cooldowns[0]:
            self._cooldowns = (stamp, read_cooldowns(self.cooldowns_path))
        return self._cooldowns[1]

    def mode_taken(self, board: Board, mode: str) -> list[dict[str, Any]]:
        """The record of this runner taking up ``mode`` when the deck's last recorded one differs (a deck that never
        left ``off`` records nothing): leaving live, the holds it drops are named, and the fold lifts them."""
        was = board.decide_mode
        if mode == was or (was is None and mode == "off"):
            return []
        lifted = sorted(job for job, kept in board.kept_back.items() if kept.action == HOLD) if mode != "live" else []
        return [{"type": MODE_TYPE, "mode": mode, "was": was, "lifted": lifted}]

    def listing(self, board: Board) -> list[dict[str, Any]]:
        """The record that lists the jobs of a new spec the deck has never seen (their wait starts now), once."""
        # (a job whose first record is the operator's hold or pause has a state, but no wait begun: listed too)
        new = [job_id for job_id in self.unlisted if job_id not in board.listed
               and (job_id not in board.jobs or board.jobs[job_id].since is None)]
        self.unlisted = []
        return [{"type": LISTED_TYPE, "jobs": new}] if new else []

    # -- every mode but off: deadlines at risk, waits past max_wait ------------------------

    def watch(self, board: Board, now: float, capacity: Capacity | None = None,
              spec: Spec | None = None) -> list[dict[str, Any]]:
        """``decided`` events for deadlines at risk or missed (``at_risk``) and for jobs waiting past their max_wait
        (``overdue``); ``risk_look`` says when to look again: within a minute, a second after the next deadline,
        and a second after the next job crosses its max_wait, so each is told when it happens."""
        events = self.at_risk(board, now)
        waits, crossing = self.overdue(board, now, capacity, spec)
        if crossing is not None:
            self.risk_look = crossing + PAST if self.risk_look is None else min(self.risk_look, crossing + PAST)
        return events + waits

    def overdue(self, board: Board, now: float, capacity: Capacity | None = None,
                spec: Spec | None = None) -> tuple[list[dict[str, Any]], float | None]:
        """``decided`` events (action ``overdue``) for jobs that crossed their max_wait without starting, once per
        job and wait, each saying how long it waited and what kept it back; and when the next job crosses its own.

        Looked at every turn (a job's wait begins with any event), counting a job ``PAST`` after its crossing: a
        turn at the crossing itself (its key changes then) may still claim it.
        """
        heuristic, policy = self.heuristic, self.policy
        if heuristic is None or policy is None or policy.mode == "off":
            return [], None
        heuristic.board = board
        past, crossing = heuristic.waits_past(now, grace=PAST)
        events = []
        outlook: Outlook | None = None
        for job_id, since in past:
            if board.overdue.get(job_id) == since or (job_id, since) in self.waits_told:
                continue  # told already, by this runner or another
            self.waits_told.add((job_id, since))
            if outlook is None:
                outlook = heuristic.outlook(now, self._read_cooldowns())
            max_wait = policy.jobs[job_id].max_wait or 0.0
            kept_by, why = self._kept_back(job_id, board, outlook, capacity, spec)
            events.append({"type": EventType.DECIDED, "job": job_id, "mode": policy.mode, "policy": policy.digest,
                           "action": "overdue", "since": since, "max_wait": max_wait, "waited": round(now - since, 3),
                           "kept_by": kept_by,
                           "reasons": [f"waited {dur(now - since)}, past its max_wait {dur(max_wait)}, not started: "
                                       f"{why}"]})
        return events, crossing

    def _kept_back(self, job_id: str, board: Board, outlook: Outlook, capacity: Capacity | None,
                   spec: Spec | None) -> tuple[str, str]:
        """(kind, words) of what keeps a waiting job from starting now: the operator (what `why` lists, as
        ``state.blocking`` says it), a gate, or the slots."""
        assert self.heuristic is not None
        heuristic, state = self.heuristic, board.state(job_id)
        job = spec.by_id.get(job_id) if spec is not None else None
        if job is not None:
            written = [found for found in blocking(job, state, board, outlook.now) if found.by_operator]
            if written:
                return written[0].kind.value, written[0].said(job_id)
        action, _, needs, why = heuristic.gate(job_id, state, outlook, written_only=self.mode != "live")
        if action != START and why is not None:
            return str(needs or action), why
        running = sorted(job for job, other in board.jobs.items() if other.status == Status.RUNNING)
        named = ", ".join(running[:3]) + (f" and {len(running) - 3} more" if len(running) > 3 else "")
        if capacity is not None and job is not None and spec is not None and not capacity.fits(job, spec):
            if capacity.full:
                return "slots", f"every slot busy ({capacity.mine} of {capacity.parallel}" + \
                    (f": {named})" if named else ")")
            for kind, name, limit in limit_keys(job, spec):
                if capacity.used[(kind, name)] >= limit:
                    return "limit", f"its {kind} limit {name} is full ({limit} running)"
        return "slots", "not claimed in time: no runner had a free slot" + (f" ({named} running)" if named else "")

    def at_risk(self, board: Board, now: float) -> list[dict[str, Any]]:
        """``decided`` events for jobs whose deadline the rest of their path would miss (action ``at_risk``)
        or that passed with the job not done (action ``missed``).

        Each once per job, cycle and deadline; looked at once a minute (``risk_look``), and at the moment
        the next deadline passes, so a miss is told when it happens.
        """
        heuristic, policy = self.heuristic, self.policy
        if heuristic is None or policy is None or policy.mode == "off" \
                or (self.risk_look is not None and now < self.risk_look):
            return []
        heuristic.board = board
        look = now + RISK_EVERY
        events = []
        for job_id, job in policy.jobs.items():
            if job.deadline_clock is None and job.deadline_at is None:
                continue
            state = board.state(job_id)
            found = heuristic.at_risk(job_id, now)
            if found is None:
                upcoming = heuristic.deadline_of(job, state, now) if state.status in UNFINISHED else None
                if upcoming is not None and upcoming >= now:  # (told when it passes, not up to a minute later)
                    look = min(look, upcoming + PAST)
                continue
            deadline, why = found
            action = "missed" if deadline < now else "at_risk"
            if action == "at_risk":
                look = min(look, deadline + PAST)
            cycle = state.cycle
            told = board.late if action == "missed" else board.warned
            if (job_id, cycle, deadline, action) in self.warned or told.get(job_id) == (cycle, deadline):
                continue  # told already, by this runner or another
            self.warned.add((job_id, cycle, deadline, action))
            events.append({"type": EventType.DECIDED, "job": job_id, "mode": policy.mode, "policy": policy.digest,
                           "action": action, "deadline": deadline, "reasons": [why]})
        self.risk_look = look
        return events

    # -- the gate on each job the order puts forward ------------------------------------

    def admits(self, job: Job, state: JobState, notes: list[dict[str, Any]]) -> bool:
        """Whether the gates let ``job`` start now (live: all of them; other modes: its window, its models' cooldowns).

        A refusal is noted once per change: not when the board's last one for the job says the same.
        """
        heuristic, outlook = self.heuristic, self.outlook
        if heuristic is None or outlook is None:
            return True
        live = self.mode == "live"
        written = heuristic.policy.jobs[job.id]
        cooling = outlook.cooldowns  # (empty but while a provider is refusing: the usual claim pays one lookup)
        if not live and written.window is None and not (cooling and written.cooldown_keys
                                                          and all(key in cooling for key in written.cooldown_keys)):
            return True
        verdict = heuristic.verdict(job.id, state, outlook, written_only=not live)
        if verdict.action == START:
            if live:
                if state.override == "pin":  # it passes the gates: its claim says which it passed, and why
                    action, _, needs, why = heuristic.gate(job.id, state._replace(override=None), outlook)
                    if action != START and why is not None:
                        self.pinned_past[job.id] = (needs, why)
                outlook.commit(heuristic.estimate(job.id).cost_high, heuristic.policy.jobs[job.id].reviewed)
            return True
        self.refused.add(job.id)
        if verdict.action == DEFER and verdict.until is not None:
            self.deferred[job.id] = verdict.until
        elif verdict.until is not None:
            self.next_look = verdict.until if self.next_look is None else min(self.next_look, verdict.until)
        told = heuristic.board.kept_back.get(job.id)
        longest = verdict.binding()  # (what a person is told: the card, `run --job`)
        if told is None or (told.action, told.needs, told.until) != (verdict.action, verdict.needs, verdict.until) \
                or told.said() != (longest.action, longest.needs):
            note = gate_note(verdict, heuristic.policy.jobs[job.id], outlook.now)
            extra: dict[str, Any] = {"note": note} if note else {}
            if verdict.needs == "reviews":  # so a reader sees when the queue has room again (KeptBack.outlived)
                extra["capacity"] = heuristic.policy.review_capacity
            notes.append(self._event(verdict, **extra))
            if live and verdict.until is not None:  # a hold with an end moves deadlines' paths: look at them now
                self.risk_look = outlook.now
        return False

    # -- every mode but off: what each claim is recorded with --------------------------

    def claimed(self, chosen: list[Job], index: ReadyIndex, board: Board) -> list[dict[str, Any]]:
        """The ``decided`` events for this turn's claims (live: the verdict followed; else: the advice).

        In shadow and advise modes ``index`` keeps the service's order beside the
        runner's (``ReadyIndex.advisor``); the advice is its first jobs that pass the
        gates, and it still counts the jobs just chosen. Each claim is judged as live's
        gates would judge it in the same place: after the turn's earlier claims that
        they let start, whose cost and review count against it.
        """
        heuristic, outlook = self.heuristic, self.outlook
        if heuristic is None or outlook is None or not chosen or self.mode == "off":
            return []
        events = []
        if self.mode == "live":
            for n, job in enumerate(chosen, 1):
                order = heuristic.order(job.id, board.state(job.id), outlook.now)
                reasons, extra = tuple(order[2]), {}
                model, why = heuristic.route(job.id, outlook)
                if model is not None and why is not None:
                    self.routes[job.id] = model
                    reasons, extra = (why, *reasons), {"route": model}
                past = self.pinned_past.get(job.id)
                if past is not None:  # (a budget overspent by a pin is explained where it was spent)
                    reasons = (*reasons, f"pinned past the decision service's gate: {past[1]}")
                    extra["overrode"] = past[0]
                if self.scoring is not None:
                    reasons, scored = self.scoring.annotate(job.id, reasons)
                    extra.update(scored)
                events.append(self._event(Verdict(job.id, START, order[1], reasons, rank=n), followed=True, **extra))
            return events
        trial = Outlook(outlook.now, outlook.spent_today, outlook.committed, outlook.review_waiting,
                        outlook.cooldowns)
        starts: list[Verdict] = []
        for job_id in index.advised(3 * ADVISED_KEPT + len(chosen)):
            verdict = heuristic.verdict(job_id, board.state(job_id), trial)
            if verdict.action == START:
                trial.commit(heuristic.estimate(job_id).cost_high, heuristic.policy.jobs[job_id].reviewed)
                starts.append(verdict)
                if len(starts) >= max(ADVISED_KEPT, len(chosen)):
                    break
        first = {v.job for v in starts[:len(chosen)]}
        mine = Outlook(outlook.now, outlook.spent_today, outlook.committed, outlook.review_waiting,
                       outlook.cooldowns)
        for job in chosen:
            verdict = heuristic.verdict(job.id, board.state(job.id), mine)
            if verdict.action == START:  # (one it would have held is not counted: live would not have started it)
                mine.commit(heuristic.estimate(job.id).cost_high, heuristic.policy.jobs[job.id].reviewed)
            rank = index.advice_rank(job.id) if verdict.action == START else None
            extra: dict[str, Any] = {"followed": job.id in first, "advised": [v.job for v in starts[:ADVISED_KEPT]]}
            if job.id not in first and starts:
                extra["advised_why"] = list(starts[0].reasons[:2])
            events.append(self._event(Verdict(verdict.job, verdict.action, verdict.score, verdict.reasons,
                                              verdict.key, verdict.until, verdict.needs, rank), **extra))
        return events

    def _event(self, verdict: Verdict, **extra: Any) -> dict[str, Any]:
        assert self.policy is not None and self.heuristic is not None and self.outlook is not None
        body: dict[str, Any] = {"type": EventType.DECIDED, "mode": self.policy.mode, "policy": self.policy.digest,
                                **verdict.to_json(), **extra}
        slack = self.heuristic.slack(verdict.job, self.outlook.now)
        if slack is not None and slack.owner == verdict.job:
            body["deadline"] = slack.deadline  # for the report: was it met?
        return body
