"""Which jobs to start next, kept incrementally so a turn costs O(changes), not O(jobs).

Jobs whose readiness may have changed are marked dirty (the job of every new
event and its dependents, jobs whose retry time passed, everything on a spec
change); only those are re-evaluated. Ready jobs sit in a heap ordered by their
key: by default the jobs the operator pinned, in pin order, then priority, then
how long they have waited, then their place in jobs.json (the order the
cockpit's backlog shows them in). In the decision service's ``live`` mode the
key is its ranking (``keyer``), which also says when a job's key next changes;
the job is re-keyed then, so a turn still costs O(changes).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobdeck.state.board import Board
from jobdeck.state.graph import dependents
from jobdeck.state.machine import JobState, Status
from jobdeck.state.views import is_ready

if TYPE_CHECKING:
    from jobdeck.runner.capacity import Capacity
    from jobdeck.runner.deciding import Deciding
    from jobdeck.state.spec import Job, Spec

SortKey = tuple[Any, ...]
Keyer = Callable[[str, JobState, float], tuple[SortKey, float | None]]
"""A ranking: a ready job's sort key at ``now`` (lower starts first), and when that key next changes."""


class ReadyIndex:
    """Ready jobs of one spec, updated from dirty marks."""

    def __init__(self) -> None:
        self.spec: Spec | None = None
        self.ready: set[str] = set()
        self._heap: list[tuple[SortKey, str]] = []  # (key, id); an entry whose key is not _keys[id] is stale
        self._keys: dict[str, SortKey] = {}
        self.keyer: Keyer | None = None
        """The decision service's ranking (live mode); None: the operator's order."""
        self.advisor: Keyer | None = None
        """The decision service's ranking kept beside the runner's order (shadow, advise), to say what it advises."""
        self._advice: list[tuple[SortKey, str]] = []
        self._advice_keys: dict[str, SortKey] = {}
        self._dirty: set[str] = set()
        self._waits: list[tuple[float, str]] = []  # (not_before, job) for retry timers
        self._reverse: dict[str, list[str]] = {}
        self._place: dict[str, int] = {}
        self.only: set[str] | None = None

    def reset(self, spec: Spec) -> None:
        """A new spec: everything is re-evaluated."""
        self.spec = spec
        self._reverse = dependents(spec.dependencies)
        self._place = {job.id: n for n, job in enumerate(spec.jobs)}
        self.ready.clear()
        self._heap.clear()
        self._keys.clear()
        self._advice.clear()
        self._advice_keys.clear()
        self._dirty = set(spec.by_id)

    def rekey(self, keyer: Keyer | None) -> None:
        """Order by ``keyer`` from now on (every ready job is re-keyed)."""
        self.keyer = keyer
        self._heap.clear()
        self._keys.clear()
        self._dirty.update(self.ready)
        self.ready.clear()

    def key(self, job: Job, state: JobState, now: float) -> tuple[SortKey, float | None]:
        """The job's place in the order, and when it next changes."""
        if self.keyer is not None:
            return self.keyer(job.id, state, now)
        if state.override == "pin":
            return (0, state.override_at or 0.0), None
        return (1, -job.priority, state.since or 0.0, self._place[job.id]), None

    def touch(self, job_ids: Iterable[str]) -> None:
        """These jobs changed state: re-evaluate them and their direct dependents."""
        for job_id in job_ids:
            self._dirty.add(job_id)
            self._dirty.update(self._reverse.get(job_id, ()))

    def park(self, job_id: str, until: float) -> None:
        """Take a ready job out of the order until ``until``, when it is re-evaluated."""
        self.ready.discard(job_id)
        self._keys.pop(job_id, None)
        self._advice_keys.pop(job_id, None)
        heapq.heappush(self._waits, (until, job_id))

    def advised(self, limit: int) -> list[str]:
        """The first ``limit`` jobs in the advisor's order, among those ready at the last update (O(limit log n))."""
        heap, keys = self._advice, self._advice_keys
        while heap and keys.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)  # stale: re-keyed, or no longer ready
        found: dict[str, None] = {}  # (a job parked, then ready again keyed alike, has two entries: named once)
        for key, job_id in heapq.nsmallest(limit * 2 + 8, heap):
            if keys.get(job_id) == key:
                found.setdefault(job_id)
        return list(found)[:limit]

    def advice_rank(self, job_id: str) -> int | None:
        """The job's place (1 = first) in the advisor's order (O(n))."""
        mine = self._advice_keys.get(job_id)
        if mine is None:
            return None
        return 1 + sum(1 for key in self._advice_keys.values() if key < mine)

    def next_wait(self) -> float | None:
        """The earliest retry time (or key change) among waiting jobs."""
        return self._waits[0][0] if self._waits else None

    def update(self, board: Board, now: float) -> None:
        """Re-evaluate dirty jobs and jobs whose retry time has come."""
        while self._waits and self._waits[0][0] <= now:
            self._dirty.add(heapq.heappop(self._waits)[1])
        if not self._dirty or self.spec is None:
            return
        by_id = self.spec.by_id
        for job_id in self._dirty:
            job = by_id.get(job_id)
            if job is None or (self.only is not None and job_id not in self.only):
                self.ready.discard(job_id)
                continue
            state = board.state(job_id)
            if is_ready(job, state, board, now):
                self.ready.add(job_id)
                key, change = self.key(job, state, now)
                if self._keys.get(job_id) != key:
                    self._keys[job_id] = key
                    heapq.heappush(self._heap, (key, job_id))
                if change is not None:
                    heapq.heappush(self._waits, (change, job_id))
                if self.advisor is not None:
                    key, change = self.advisor(job_id, state, now)
                    if self._advice_keys.get(job_id) != key:
                        self._advice_keys[job_id] = key
                        heapq.heappush(self._advice, (key, job_id))
                    if change is not None:
                        heapq.heappush(self._waits, (change, job_id))
            else:
                self.ready.discard(job_id)
                self._keys.pop(job_id, None)
                self._advice_keys.pop(job_id, None)
                if state.status == Status.BACKLOG and state.not_before is not None and state.not_before > now:
                    heapq.heappush(self._waits, (state.not_before, job_id))
        self._dirty.clear()

    def take(self, fits: Callable[[Job], bool], full: Callable[[], bool]) -> list[Job]:
        """Pop ready jobs in order while ``fits(job)`` accepts them, until ``full()``."""
        chosen: list[Job] = []
        skipped: list[tuple[SortKey, str]] = []
        asked: set[str] = set()
        by_id = self.spec.by_id if self.spec is not None else {}
        while self._heap:
            entry = heapq.heappop(self._heap)
            key, job_id = entry
            if job_id not in self.ready or self._keys.get(job_id) != key or job_id in asked:
                continue  # stale heap entry, or a second one of the same key: a job parked, then ready again,
            asked.add(job_id)  # keyed alike (``fits`` asked twice noted its gate's refusal twice)
            job = by_id[job_id]
            if fits(job):
                self.ready.discard(job_id)
                del self._keys[job_id]
                chosen.append(job)
            else:
                skipped.append(entry)
            if full():
                break
        for entry in skipped:
            heapq.heappush(self._heap, entry)
        return chosen


@dataclass
class Picked:
    """One turn's choice: the jobs to claim, and the ``decided`` events to record with the claims."""

    chosen: list[Job] = field(default_factory=list)
    decided: list[dict[str, Any]] = field(default_factory=list)


def pick(index: ReadyIndex, capacity: Capacity, deciding: Deciding, spec: Spec, board: Board, now: float,
         running: Collection[str], busy: Collection[str]) -> Picked:
    """The ready jobs to claim now, in the index's order, that fit ``capacity`` and pass the decision gates.

    ``running`` are the jobs running on the board (their estimated cost is spoken
    for); ``busy`` are this runner's own attempts, never claimed twice. Capacity
    is taken for each chosen job. The runner and bench/decide_replay.py both
    choose through here.
    """
    picked = Picked()
    deciding.begin_turn(board, now, running)
    refusals: list[dict[str, Any]] = []

    def choose(job: Job) -> bool:
        state = board.state(job.id)
        if capacity.fits(job, spec) and is_ready(job, state, board, now) and job.id not in busy \
                and deciding.admits(job, state, refusals):
            capacity.take(job, spec)
            picked.chosen.append(job)
            return True
        return False

    index.take(choose, lambda: capacity.full)
    for job_id, until in deciding.deferred.items():
        index.park(job_id, until)  # a closed window or a cooling model: not worth a look before then
    picked.decided = refusals + deciding.claimed(picked.chosen, index, board)
    return picked
