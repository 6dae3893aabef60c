"""Screenshots of the cockpit's screens at 80x24 and 120x40, compared with stored SVGs.

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
from cockpit_decks import NOW, busy_deck  # noqa: E402

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    deck = busy_deck(tmp_path / "deck")
    yield make_app(deck.root, watch=False, now=NOW, poll=None)
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
