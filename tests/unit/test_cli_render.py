"""The CLI's text: moments read as times, with the zone where a reader could take them for another."""

from __future__ import annotations

import io
import os
import time

import pytest

from jobdeck.cli import render
from jobdeck.state.card import Card
from jobdeck.state.machine import Status

NOON = 1796644800.0  # 2026-12-07 12:00 UTC


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def card(**fields: object) -> Card:
    base = dict(id="nightly", title="nightly", column=Status.BACKLOG, agent="echo", attempt=0, max_attempts=1,
                workspace="default", priority=0, labels=(), since=None, flags=("waiting for schedule",))
    return Card(**{**base, **fields})  # type: ignore[arg-type]


def test_a_next_fire_names_the_zone_it_is_shown_in(paris: None) -> None:
    assert os.environ["TZ"] == "Europe/Paris"
    assert render.notes(card(next_fire=NOON + 14 * 3600), NOON) == \
        "waiting for schedule; next fire 2026-12-08 03:00 CET"


def test_an_events_moments_read_as_times_and_other_numbers_as_written(paris: None) -> None:
    out = io.StringIO()
    render.events([{"seq": 4, "ts": NOON, "type": "failed", "job": "fetch", "token": 3, "exit_code": 1,
                    "retry_at": NOON + 90.5, "ready": NOON - 60}], out)
    assert out.getvalue().split(None, 5)[5] == (
        "token=3 exit_code=1 retry_at=2026-12-07T13:01:30 ready=2026-12-07T12:59:00\n")
    assert out.getvalue().split()[1:5] == ["2026-12-07", "13:00:00", "fetch", "failed"]  # the stamp: the same clock
