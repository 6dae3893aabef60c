"""What is written down that keeps a job from starting, as data: the one list `why`, `pin` and `run --job` say.

`jobdeck why` lists every item, `jobdeck pin` those a pin does not pass, and `jobdeck run --job --wait` those
only the operator lifts, each command with its own subject and hint but one phrasing of each fact. The decision
service's gates (budget, cooldowns, a window...) are not here: they are decide/'s, and change with the deck.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from jobdeck.state.durations import format_duration
from jobdeck.state.machine import JobState, Status
from jobdeck.state.views import blockers, deck_hold_text, is_paused, needs_approval, override_text, waits_for_fire

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.preview import JobPreview
    from jobdeck.state.spec import Job


class Blocked(StrEnum):
    """What keeps a job back."""

    DECK_HELD = "deck_held"
    PAUSED = "paused"
    HELD = "held"
    SCHEDULE = "schedule"
    INBOX = "inbox"
    APPROVAL = "approval"
    RETRY = "retry"
    DEPENDENCY = "dependency"
    REVIEW = "review"


BY_OPERATOR = frozenset({Blocked.DECK_HELD, Blocked.PAUSED, Blocked.HELD, Blocked.APPROVAL, Blocked.REVIEW})
"""What only the operator lifts: it waits for you, not for time or other jobs."""


class Blocker(NamedTuple):
    """One thing that keeps a job from starting, and the commands that lift it."""

    kind: Blocked
    job: str
    """The job it keeps back."""
    fact: str
    """What keeps it, said after the job as subject ("is paused", "depends on up, which is in the backlog"); the
    deck's hold is a sentence of its own ("the whole deck is held by ana@box since ...")."""
    commands: tuple[str, ...] = ()
    """The commands that lift it, as typed ("jobdeck resume pub"); none when only time or other jobs do."""

    @property
    def by_operator(self) -> bool:
        """Whether only the operator lifts it."""
        return self.kind in BY_OPERATOR

    @property
    def lift(self) -> str:
        """The commands as a hint says them: "`jobdeck approve pub` or `jobdeck reject pub`"; "" for none."""
        said = " or ".join(f"`{command}`" for command in self.commands)
        if said and self.kind in (Blocked.SCHEDULE, Blocked.INBOX):
            said += " starts a cycle now"  # (it does not wait for the fire; the fire still comes)
        return said

    def said(self, subject: str | None = None) -> str:
        """The fact with its hint: "pub is paused (`jobdeck resume pub`)"; without a subject, "is paused (...)"."""
        text = self.fact if subject is None or self.kind == Blocked.DECK_HELD else f"{subject} {self.fact}"
        return text + (f" ({self.lift})" if self.commands else "")


def blocking(job: Job | JobPreview, state: JobState, board: Board, now: float) -> list[Blocker]:
    """What keeps ``job`` (in ``state``, on ``board``) from starting at ``now``, in the order `why` lists it.

    A job in review waits for its review; a backlog job for the deck's hold, a pause, the operator's hold, its
    schedule or inbox, an approval, a retry's wait and each dependency not done; any other job for nothing
    written (it is running, or over)."""
    if state.status == Status.REVIEW:
        return [Blocker(Blocked.REVIEW, job.id, "waits for review of its output",
                        (f"jobdeck approve {job.id}", f"jobdeck reject {job.id}"))]
    if state.status != Status.BACKLOG:
        return []
    found = []
    if board.held is not None:
        found.append(Blocker(Blocked.DECK_HELD, job.id, f"the whole deck is {deck_hold_text(board.held)}",
                             ("jobdeck release",)))
    if is_paused(job, state):
        found.append(Blocker(Blocked.PAUSED, job.id, "is paused", (f"jobdeck resume {job.id}",)))
    if state.override == "hold":
        found.append(Blocker(Blocked.HELD, job.id, f"is {override_text(state)}", (f"jobdeck release {job.id}",)))
    if waits_for_fire(job, state):
        if job.schedule is not None:
            found.append(Blocker(Blocked.SCHEDULE, job.id, _schedule_wait(job.schedule, job.timezone, now),
                                 (f"jobdeck trigger {job.id}",)))
        else:
            found.append(Blocker(Blocked.INBOX, job.id, f"waits for a file matching {job.trigger} in its inbox",
                                 (f"jobdeck trigger {job.id}",)))
    if needs_approval(job) and not state.approved:
        found.append(Blocker(Blocked.APPROVAL, job.id, "is high-risk and waits for approval",
                             (f"jobdeck approve {job.id}",)))
    if state.not_before is not None and state.not_before > now:
        from jobdeck.state.clock import zoned_text  # (datetime and zoneinfo: only for a job that waits to retry)

        found.append(Blocker(Blocked.RETRY, job.id, f"waits to retry until {zoned_text(state.not_before, 'UTC', now)}, "
                             f"in {format_duration(state.not_before - now)}"
                             + (f" ({state.reason})" if state.reason else "")))
    for dep, status in blockers(job, board):
        found.append(Blocker(Blocked.DEPENDENCY, job.id, f"depends on {dep}, which is {status.words}"))
    return found


def next_fire_text(schedule: str, tz: str, now: float) -> str | None:
    """The schedule's next fire after ``now`` in its zone ("02:00 Europe/Paris"); None if it cannot be told."""
    from jobdeck.state.clock import zoned_text
    from jobdeck.state.schedule import next_fire

    try:
        return zoned_text(next_fire(schedule, tz, now), tz, now)
    except (ValueError, KeyError):  # (the loader refuses such a schedule; a stale spec may still hold one)
        return None


def _schedule_wait(schedule: str, tz: str, now: float) -> str:
    """"waits for its schedule (0 2 * * *): next fire 02:00 Europe/Paris", as `ls` tells the fire too."""
    fire = next_fire_text(schedule, tz, now)
    return f"waits for its schedule ({schedule})" + (f": next fire {fire}" if fire else "")
