"""Durations as people write them, and as the CLI shows them."""

from __future__ import annotations

import pytest

from jobdeck.state.durations import format_duration, parse_duration


@pytest.mark.parametrize(("written", "seconds"), [
    (90, 90.0), (1.5, 1.5), ("90s", 90.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0),
    ("1h30m", 5400.0), ("250ms", 0.25), ("1.5s", 1.5), (" 2m 30s ", 150.0), ("365d", 365 * 86400.0),
])
def test_parse_duration(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize(("written", "message"), [
    ("5 minutes", "is not a duration"), ("", "is not a duration"), ("s", "is not a duration"),
    ("5", "is a string with no unit; write the number 5 "), ("1e3s", "is not a duration"),
    ("m5", "is not a duration"),
    ("-5s", "is not a duration"), (0, "must be more than 0"), (-1, "must be more than 0"),
    ("0s", "must be more than 0"), ("366d", "at most a year"), (float("nan"), "must be more than 0"),
    (True, "must be a number of seconds"), (None, "must be a number of seconds"),
    ([5], "must be a number of seconds"),
])
def test_bad_durations_say_how_to_write_one(written: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(written)


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.4, "0.4s"), (9.96, "10.0s"), (12, "12s"), (303, "5m03s"), (7800, "2h10m"), (273600, "3d4h"),
])
def test_format_duration(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown
