"""Screenshots of the cockpit's screens at 80x24, 100x30, 120x40 and 160x50, compared with stored SVGs.

Deterministic by construction: a fixed deck built from events with fixed times,
a frozen clock (``now=``), no file watcher, no timers, local time pinned to UTC.
Update the baselines with ``pytest tests/snapshots --snapshot-update``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functional"))  # shared deck builders

from jobdeck.cockpit.app import make_app  # noqa: E402
from cockpit_decks import NOW, busy_deck, long_ids_deck, new_deck  # noqa: E402

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    deck = busy_deck(tmp_path / "deck")
    yield make_app(deck.root, watch=False, now=NOW, poll=None, fast_start=False)
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", SIZES)
def test_board(snap_compare, app, size) -> None:
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_board_filtered_with_cancelled(snap_compare, app, size) -> None:
    async def filter_board(pilot) -> None:
        await pilot.press("c", "slash", *"label:llm", "enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=filter_board)


@pytest.mark.parametrize("size", SIZES)
def test_detail(snap_compare, app, size) -> None:
    async def open_report(pilot) -> None:
        pilot.app.screen.board.select("report")
        await pilot.press("enter")

    assert snap_compare(app, terminal_size=size, run_before=open_report)


@pytest.mark.parametrize("size", SIZES)
def test_review_queue(snap_compare, app, size) -> None:
    assert snap_compare(app, terminal_size=size, press=["v", "j"])


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, app, size) -> None:
    assert snap_compare(app, terminal_size=size, press=["question_mark"])


def test_reject_dialog(snap_compare, app) -> None:
    async def reject(pilot) -> None:
        pilot.app.screen.board.select("report")
        await pilot.press("R", *"no summary")

    assert snap_compare(app, terminal_size=(80, 24), run_before=reject)


BOARD_SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((100, 30), id="100x30"),
               pytest.param((160, 50), id="160x50")]


@pytest.fixture
def long_ids_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    deck = long_ids_deck(tmp_path / "deck")
    yield make_app(deck.root, watch=False, now=NOW, poll=None, fast_start=False)
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", BOARD_SIZES)
@pytest.mark.parametrize("cancelled", [False, True], ids=["cancelled-hidden", "cancelled-shown"])
def test_board_with_long_ids(snap_compare, long_ids_app, size, cancelled) -> None:
    """Every column renders or the header says it is folded; ids before attempt and age; the selected id in full."""
    async def show(pilot) -> None:
        if cancelled:
            await pilot.press("c")
        await pilot.pause()

    assert snap_compare(long_ids_app, terminal_size=size, run_before=show)


def test_undo_offered_after_a_pause(snap_compare, app) -> None:
    async def pause(pilot) -> None:
        await pilot.pause()  # the board's first focus lands before the selection
        pilot.app.screen.board.select("flaky")
        await pilot.press("p")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=pause)


def test_confirm_run_now(snap_compare, app) -> None:
    async def trigger(pilot) -> None:
        await pilot.pause()
        pilot.app.screen.board.select("lint")
        await pilot.press("t")

    assert snap_compare(app, terminal_size=(80, 24), run_before=trigger)


ZONED_JOBS = [
    {"id": "export", "title": "Nightly export", "command": ["true"], "deadline": "2025-06-15T17:26:40",
     "timezone": "Europe/Paris"},
    {"id": "report", "title": "Weekly report", "command": ["true"], "deadline": "2025-06-15T15:46:40+00:00"},
    {"id": "tidy", "title": "Tidy up", "command": ["true"], "priority": 5},
]


@pytest.fixture
def zoned_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    deck = new_deck(tmp_path / "deck", ZONED_JOBS, decide={"mode": "advise"})
    yield make_app(deck.root, watch=False, now=NOW, poll=None, fast_start=False)
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", [pytest.param((80, 24), id="80x24"), pytest.param((104, 30), id="104x30")])
def test_advised_deadlines_name_a_zone_other_than_the_machines(snap_compare, zoned_app, size) -> None:
    """A deadline in Paris on a UTC machine says CEST, before the slack (20-cell cards at 104); one in UTC is bare."""
    async def ranked(pilot) -> None:
        while pilot.app.screen.board.advice is None:
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(zoned_app, terminal_size=size, run_before=ranked)
