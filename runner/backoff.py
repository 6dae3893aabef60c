"""Retry delays: fixed, linear or exponential, with jitter, a cap, and Retry-After."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobdeck.state.spec import Retry


def retry_delay(retry: Retry, failed_tries: int, *, retry_after: float | None = None,
                rng: random.Random | None = None) -> float:
    """Seconds to wait before the next attempt after ``failed_tries`` failures (>= 1).

    ``retry`` is the job's Retry spec. A provider's Retry-After is honoured: the
    wait is never shorter than it, even past ``max_delay``.
    """
    n = max(1, failed_tries)
    if retry.backoff == "fixed":
        delay = retry.delay
    elif retry.backoff == "linear":
        delay = retry.delay * n
    else:
        delay = retry.delay * 2.0 ** min(n - 1, 60)
    delay = min(delay, retry.max_delay)
    if retry.jitter:
        delay += delay * retry.jitter * (rng or random).random()
        delay = min(delay, retry.max_delay * (1 + retry.jitter))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
