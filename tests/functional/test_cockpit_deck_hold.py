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


async def test_d_holds_the_whole_deck_after_asking_and_d_again_releases_it(tmp_path: Path) -> None:
    """The cockpit's key for `jobdeck hold` and `release` with no id: each asks first, Enter keeps."""
    from cockpit_decks import events
    from jobdeck.cockpit.confirm_screen import ConfirmScreen

    deck = new_deck(tmp_path / "deck")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.screen.query_one(StatusBar)
        await wait_until(pilot, lambda: header.stats is not None and not header.stats.loading, what="the deck read")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert app.screen.question == "Hold the whole deck?"
        await pilot.press("enter")  # Enter keeps: nothing recorded
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the dialog closed")
        assert not deck.events_path.exists() or not [e for e in events(deck) if e["type"] == "held"]
        await pilot.press("D", "y")
        await wait_until(pilot, lambda: [e for e in events(deck) if e["type"] == "held"], what="the hold")
        held = [e for e in events(deck) if e["type"] == "held"][0]
        assert (held.get("job"), held["via"]) == (None, "cockpit")
        app.sync()
        await wait_until(pilot, lambda: "HELD" in header.render().plain, what="the header to say it")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert app.screen.question.startswith("Release the deck, held by ")
        await pilot.press("y")
        await wait_until(pilot, lambda: [e for e in events(deck) if e["type"] == "released"], what="the release")
