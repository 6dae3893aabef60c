"""A deck the operator holds (`jobdeck hold` with no id) says so in the cockpit's header, and stops saying it."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.status_bar import StatusBar
from cockpit_decks import NOW, commit, new_deck, wait_until

pytestmark = pytest.mark.anyio


async def test_the_header_shows_a_held_deck(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck")
    commit(deck, [{"type": "held", "by": "ana@box", "via": "cli", "reason": "maintenance"}], NOW - 60)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(160, 40)) as pilot:
        header = app.screen.query_one(StatusBar)
        await wait_until(pilot, lambda: header.stats is not None and not header.stats.loading, what="the deck read")
        assert "⏸ deck held by ana@box" in header.render().plain
        assert "⏸ HELD" in header.line(wide=False).plain
        commit(deck, [{"type": "released", "by": "ana@box", "via": "cli"}], NOW)
        app.sync()  # what the file watcher does on a change
        await wait_until(pilot, lambda: "held" not in header.render().plain, what="the release shown")


async def test_a_narrow_header_gives_up_the_hours_figures_before_it_hides_the_hold(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck")
    commit(deck, [{"type": "held", "by": "ana@box", "via": "cli"}], NOW - 60)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(60, 20)) as pilot:
        header = app.screen.query_one(StatusBar)
        await wait_until(pilot, lambda: header.stats is not None and not header.stats.loading, what="the deck read")
        shown = header.render().plain[:60]  # what the terminal shows of it
        assert "⏸ HELD" in shown and "no runner" in shown and "folded" in shown, shown
        assert "✗/1h" not in shown  # what went to make room
