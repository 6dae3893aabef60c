"""Circuit breaker: a model that keeps failing cools down and every job skips it.

Without it, a provider outage costs every job its full retry budget against the
same dead model before falling back. One ``Breaker`` is shared by all jobs in a
runner process (the registry owns it); with a ``path`` it also shares open
cooldowns with other runner processes on the same deck through a small JSON
file, rewritten atomically only when a cooldown opens or closes and re-read only
when its mtime changes. The file is advisory: a lost update between two runners
costs at most one extra failed call.

Everything here is keyed by ``state.cooldowns.cooldown_key``: a model on one endpoint
with one key, so a dead local server or a refused team key cools only the agents that
call it. The caller makes the key; the breaker never parses it.

States per key: closed (calls go through, consecutive failures are counted),
open (``until`` in the future: skip the model), half-open (``until`` passed but the
failure streak remains: the next failure reopens it at once with a doubled
cooldown; a success closes it). Besides that streak rule, a provider that said
when it takes requests again (a Retry-After longer than an attempt waits) opens
the cooldown until then at once, whatever the streak (``record_retry_after``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jobdeck.state.atomic import write_atomic
from jobdeck.state.cooldowns import cooldowns_data, read_cooldowns


@dataclass
class ModelHealth:
    """What the breaker knows about one model."""

    failures: int = 0
    """Consecutive counted failures (reset by a success)."""
    opened: int = 0
    """How many times in a row the cooldown has opened (drives the doubling)."""
    until: float = 0.0
    """Wall-clock time (time.time) before which the model is skipped."""
    reason: str = ""


class Breaker:
    """Failure counting and cooldowns per cooldown key (a model where it is called). Time is injected (``clock``)."""

    def __init__(self, *, threshold: int = 3, cooldown: float = 30.0, max_cooldown: float = 600.0,
                 path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        if threshold < 1 or cooldown <= 0 or max_cooldown < cooldown:
            raise ValueError("need threshold >= 1 and 0 < cooldown <= max_cooldown")
        self.threshold = threshold
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.clock = clock
        self.path = path
        self._models: dict[str, ModelHealth] = {}
        self._file_mtime: int | None = None

    def attach(self, path: Path) -> None:
        """Share cooldowns through ``path`` (e.g. ``<deck>/.jobdeck/cooldowns.json``) from now on."""
        if self.path != path:
            self.path = path
            self._file_mtime = None

    def blocked_for(self, model: str) -> float:
        """Seconds until ``model`` may be called again (0.0: call it now)."""
        self._reload()
        health = self._models.get(model)
        if health is None:
            return 0.0
        return max(0.0, health.until - self.clock())

    def reason(self, model: str) -> str:
        health = self._models.get(model)
        return health.reason if health else ""

    def record_success(self, model: str) -> None:
        """A call to ``model`` succeeded: close its breaker."""
        health = self._models.pop(model, None)
        if health is not None and (health.opened or health.until):
            self._save(model, None)

    def record_failure(self, model: str, reason: str, *, retry_after: float | None = None) -> float | None:
        """Count a failure; returns the cooldown in seconds if this opened the breaker."""
        health = self._models.setdefault(model, ModelHealth())
        health.failures += 1
        now = self.clock()
        if health.failures < self.threshold or health.until > now:
            return None
        seconds = min(self.cooldown * 2.0 ** min(health.opened, 30), self.max_cooldown)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        health.opened += 1
        health.until = now + seconds
        health.reason = reason
        self._save(model, health)
        return seconds

    def record_retry_after(self, model: str, reason: str, seconds: float) -> float | None:
        """The provider asked for ``seconds`` before the next call to ``model``: skip it until then.

        Opens the cooldown whatever the failure streak, or lengthens one open for less;
        returns ``seconds`` if it did either. The streak and its doubling are left alone.
        """
        if seconds <= 0:
            return None
        self._reload()  # never shorten a longer cooldown another runner opened
        health = self._models.setdefault(model, ModelHealth())
        until = self.clock() + seconds
        if until <= health.until:
            return None
        health.until, health.reason = until, reason
        self._save(model, health)
        return seconds

    def _reload(self) -> None:
        if self.path is None:
            return
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._file_mtime:
            return
        self._file_mtime = mtime
        for model, (until, reason) in read_cooldowns(self.path).items():
            health = self._models.setdefault(model, ModelHealth())
            if until > health.until:
                health.until, health.reason = until, reason
                health.failures = max(health.failures, self.threshold)

    def _save(self, model: str, health: ModelHealth | None) -> None:
        if self.path is None:
            return
        shared = {m: v for m, v in read_cooldowns(self.path).items() if v[0] > self.clock()}
        if health is None:
            shared.pop(model, None)
        else:
            shared[model] = (health.until, health.reason)
        try:
            write_atomic(self.path, cooldowns_data(shared), durable=False)
            self._file_mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            # Sharing is best effort: this process's own breaker state stays correct.
            self._file_mtime = None
