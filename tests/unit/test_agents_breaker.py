"""The circuit breaker: thresholds, cooldown doubling, half-open, and sharing through a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobdeck.agents.breaker import Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_consecutive_failures() -> None:
    clock = Clock()
    breaker = Breaker(threshold=3, cooldown=30, clock=clock)
    assert breaker.record_failure("m", "server_error") is None
    assert breaker.record_failure("m", "server_error") is None
    assert breaker.record_failure("m", "server_error") == 30
    assert breaker.blocked_for("m") == 30 and breaker.blocked_for("other") == 0
    assert breaker.reason("m") == "server_error"


def test_a_success_resets_the_streak() -> None:
    breaker = Breaker(threshold=2, cooldown=30, clock=Clock())
    breaker.record_failure("m", "x")
    breaker.record_success("m")
    assert breaker.record_failure("m", "x") is None


def test_half_open_failure_reopens_with_doubled_cooldown_up_to_the_cap() -> None:
    clock = Clock()
    breaker = Breaker(threshold=2, cooldown=30, max_cooldown=100, clock=clock)
    breaker.record_failure("m", "x")
    assert breaker.record_failure("m", "x") == 30
    clock.now += 31
    assert breaker.blocked_for("m") == 0
    assert breaker.record_failure("m", "x") == 60, "one failure after the cooldown reopens it"
    clock.now += 61
    assert breaker.record_failure("m", "x") == 100
    clock.now += 101
    breaker.record_success("m")
    breaker.record_failure("m", "x")
    assert breaker.blocked_for("m") == 0, "a success closed it: the count starts over"


def test_failures_while_open_do_not_extend_it() -> None:
    clock = Clock()
    breaker = Breaker(threshold=1, cooldown=30, clock=clock)
    assert breaker.record_failure("m", "x") == 30
    clock.now += 10
    assert breaker.record_failure("m", "x") is None
    assert breaker.blocked_for("m") == 20


def test_retry_after_lengthens_the_cooldown() -> None:
    breaker = Breaker(threshold=1, cooldown=30, clock=Clock())
    assert breaker.record_failure("m", "rate_limit", retry_after=90) == 90


def test_a_retry_after_opens_the_cooldown_until_then_whatever_the_streak(tmp_path: Path) -> None:
    path = tmp_path / "cooldowns.json"
    clock = Clock()
    breaker = Breaker(threshold=3, cooldown=30, path=path, clock=clock)
    assert breaker.record_failure("m", "rate_limit", retry_after=900) is None, "one failure: the streak stays shut"
    assert breaker.record_retry_after("m", "rate_limit with Retry-After 15m00s", 900) == 900
    assert breaker.blocked_for("m") == 900 and breaker.reason("m") == "rate_limit with Retry-After 15m00s"
    assert json.loads(path.read_text())["m"] == {"until": 1900, "reason": "rate_limit with Retry-After 15m00s"}
    clock.now += 901
    assert breaker.record_failure("m", "x") is None, "the streak was left alone: two failures, not three"
    assert breaker.record_failure("m", "x") == 30, "and its doubling too"


def test_a_retry_after_never_shortens_a_cooldown_and_zero_opens_none(tmp_path: Path) -> None:
    path = tmp_path / "cooldowns.json"
    clock = Clock()
    breaker = Breaker(threshold=1, cooldown=30, clock=clock)
    assert breaker.record_retry_after("m", "asked", 0) is None and breaker.blocked_for("m") == 0
    assert breaker.record_failure("m", "server_error") == 30
    assert breaker.record_retry_after("m", "asked", 10) is None
    assert breaker.blocked_for("m") == 30 and breaker.reason("m") == "server_error"
    assert breaker.record_retry_after("m", "asked", 60) == 60 and breaker.blocked_for("m") == 60
    other = Breaker(threshold=1, cooldown=30, path=path, clock=clock)  # another runner opened a longer one
    other.record_retry_after("n", "rate_limit with Retry-After 1h00m", 3600)
    breaker.attach(path)
    assert breaker.record_retry_after("n", "asked", 900) is None
    assert json.loads(path.read_text())["n"]["until"] == 4600


def test_a_success_closes_a_retry_after_cooldown_in_the_file_too(tmp_path: Path) -> None:
    path = tmp_path / "cooldowns.json"
    breaker = Breaker(threshold=3, cooldown=30, path=path, clock=Clock())
    breaker.record_retry_after("m", "asked", 900)
    breaker.record_success("m")  # a call already on its way when the cooldown opened
    assert breaker.blocked_for("m") == 0 and "m" not in json.loads(path.read_text())


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        Breaker(threshold=0)
    with pytest.raises(ValueError):
        Breaker(cooldown=60, max_cooldown=30)


def test_cooldowns_are_shared_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cooldowns.json"
    clock = Clock()
    first = Breaker(threshold=1, cooldown=30, path=path, clock=clock)
    second = Breaker(threshold=1, cooldown=30, path=path, clock=clock)  # another runner process
    assert second.blocked_for("m") == 0
    first.record_failure("m", "auth")
    assert json.loads(path.read_text())["m"]["reason"] == "auth"
    assert second.blocked_for("m") == 30 and second.reason("m") == "auth"
    clock.now += 31
    assert second.blocked_for("m") == 0
    assert second.record_failure("m", "auth") == 30, "the shared streak makes it half-open here too"
    first.record_success("m")
    second.record_success("m")
    assert "m" not in json.loads(path.read_text())


def test_a_corrupt_or_missing_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "cooldowns.json"
    path.write_text("{not json")
    breaker = Breaker(threshold=1, cooldown=30, path=path, clock=Clock())
    assert breaker.blocked_for("m") == 0
    breaker.record_failure("m", "x")
    assert json.loads(path.read_text())["m"]["until"] == 1030
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_attach_switches_to_a_file(tmp_path: Path) -> None:
    breaker = Breaker(threshold=1, cooldown=30, clock=Clock())
    breaker.attach(tmp_path / "cooldowns.json")
    breaker.record_failure("m", "x")
    assert (tmp_path / "cooldowns.json").exists()
