"""What the gates read besides one job: money spent, the review queue, models cooling down, the time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jobdeck.decide.times import day_start
from jobdeck.state.board import Board
from jobdeck.state.machine import Status


@dataclass(slots=True)
class Outlook:
    """The deck's capacity at ``now``; ``commit`` counts a job the runner starts in the same turn."""

    now: float
    spent_today: float = 0.0
    """Cost of attempts (and model scorer calls) that ended today, UTC: spend stamped on a later day (by a clock
    set back since) is not today's."""
    committed: float = 0.0
    """Estimated cost of attempts running now (or started this turn)."""
    review_waiting: int = 0
    """Jobs whose output waits for a person."""
    cooldowns: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    """Model -> (until, reason), from the breaker's shared file."""
    review_ahead: list[str] = field(default_factory=list)
    """Jobs ``review_waiting`` counts that are not in review nor running yet: named ones that start first this
    turn (``Heuristic.rank``), so a hold's reason does not pass a predicted queue for the real one."""

    def commit(self, cost: float, reviewed: bool, job: str | None = None) -> None:
        """A job starts: its expected cost is spoken for, and its output may join the review queue.

        ``job`` names it among the ``review_ahead``; the runner, whose claims are real, does not name them.
        """
        self.committed += cost
        if reviewed:
            self.review_waiting += 1
            if job is not None:
                self.review_ahead.append(job)


def outlook_of(board: Board, now: float, cooldowns: Mapping[str, tuple[float, str]],
               running_cost: float = 0.0, running_reviewed: int = 0) -> Outlook:
    """The outlook of ``board`` at ``now``.

    ``running_cost`` is the estimated cost of the attempts running now;
    ``running_reviewed`` counts those whose output will wait for review (the
    queue they will join counts against review capacity already).
    """
    today = day_start(now)
    spent = board.rollups.cost_since(today, today + 86400)
    waiting = running_reviewed + sum(1 for state in board.jobs.values() if state.status == Status.REVIEW)
    return Outlook(now, spent, running_cost, waiting, still_cooling(cooldowns, now))


def still_cooling(cooldowns: Mapping[str, tuple[float, str]], now: float) -> dict[str, tuple[float, str]]:
    """The cooldowns of ``cooldowns`` (model -> (until, why)) not over at ``now``."""
    return {model: entry for model, entry in cooldowns.items() if entry[0] > now}
