"""The verdict on an attempt the agent saw through: its outcome event, from the agent's Outcome.

The agent only says how its work ended; whether that makes the job done, sent to
review, retried after a backoff or failed for good is the job's policy (review,
retry), applied here in one pure function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobdeck.agents.base import Failure, Outcome
from jobdeck.runner.attempt import Claimed
from jobdeck.runner.backoff import retry_delay
from jobdeck.state.machine import NOT_CALLED, EventType
from jobdeck.state.outcomes import INVALID_OUTPUT, INVALID_OUTPUT_REVIEW

if TYPE_CHECKING:
    from jobdeck.state.spec import Job


def verdict(job: Job, claimed: Claimed, outcome: Outcome, reasons: list[str], now: float) -> dict[str, Any]:
    """The outcome event for an attempt: succeeded (done or review) or failed (retry or final)."""
    base: dict[str, Any] = {"job": job.id, "token": claimed.token, "attempt": claimed.attempt,
                            "exit_code": outcome.exit_code, "usage": outcome.usage, "cost": outcome.cost}
    if outcome.model:
        base["model"] = outcome.model
    base = {k: v for k, v in base.items() if v is not None}
    if outcome.ok:
        policy = job.review_policy
        if reasons and policy == "never":
            return {**base, "type": EventType.FAILED, "reason": INVALID_OUTPUT, "reasons": reasons,
                    "message": "output failed validation and review is 'never'"}
        review = policy == "always" or bool(reasons)
        event = {**base, "type": EventType.SUCCEEDED, "review": review}
        if review:
            event["reason"] = INVALID_OUTPUT_REVIEW if reasons else f"review required ({'risk ' + job.risk if job.review is None else 'review: always'})"
            event["reasons"] = reasons
        return event
    event = {**base, "type": EventType.FAILED, "reason": outcome.reason, "failure": outcome.failure.value if outcome.failure else None}
    if outcome.message:
        event["message"] = outcome.message
    if outcome.reason == NOT_CALLED:  # it called no model, every one cooling: no try spent, due at the soonest end
        event["retry_at"] = now + (outcome.retry_after or 0.0)
    elif outcome.failure == Failure.TRANSIENT and claimed.tries < job.retry.max_attempts:
        delay = retry_delay(job.retry, claimed.tries, retry_after=outcome.retry_after)
        event["retry_at"] = now + delay
    return {k: v for k, v in event.items() if v is not None}
