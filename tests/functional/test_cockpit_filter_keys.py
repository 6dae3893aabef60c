"""Keys typed in one instant around the filter act in the order they were typed.

A terminal delivers a burst (a script, a fast typist: ``/ publish Enter a``) as
keys queued to the App together. ``Pilot.press`` cannot show the race these
tests are about: it waits for the app to go idle after every key. So the keys
are queued the way the terminal driver queues them, with no wait between.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.confirm_screen import ConfirmScreen
from cockpit_decks import NOW, busy_deck, type_at_once, wait_until

pytestmark = pytest.mark.anyio

@pytest.fixture
def deck(tmp_path: Path):
    return busy_deck(tmp_path / "deck")


async def test_a_key_typed_with_enter_acts_on_the_filtered_board(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        filter_bar = app.screen.query_one("#filter")
        type_at_once(app, "slash", *"publish", "enter", "a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.focused is not None,
                         what="a asking to approve")
        assert app.screen.question == "Approve high-risk job publish?"
        assert filter_bar.value == "publish"
        assert app.screen_stack[0].board.filter_text == "publish"


async def filtered_after(deck, *keys: str, until: str) -> tuple[str, bool, str]:
    """Type ``keys`` at once; once ``until`` holds ("cancelled shown", or "filter kept": the board focused with a
    filter), the filter's text, whether it shows, and the board's filter."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        board = app.screen.board
        filter_bar = app.screen.query_one("#filter")
        type_at_once(app, *keys)
        done = {"cancelled shown": lambda: board.show_cancelled,
                "filter kept": lambda: board.filter_text and app.focused is not filter_bar}[until]
        await wait_until(pilot, done, what=until)
        return filter_bar.value, filter_bar.display, board.filter_text


async def test_a_key_typed_with_escape_acts_on_the_board(deck) -> None:
    assert await filtered_after(deck, "slash", *"flaky", "escape", "c", until="cancelled shown") == ("", False, "")


async def test_keys_typed_at_once_into_the_filter_keep_their_order(deck) -> None:
    # the "/" typed in the filter goes where it was typed
    assert await filtered_after(deck, "slash", *"fl", "slash", *"ky", "enter", until="filter kept") == \
        ("fl/ky", True, "fl/ky")


async def test_the_filters_editing_keys_act_in_turn_with_the_letters(deck) -> None:
    assert await filtered_after(deck, "slash", *"lakyx", "backspace", "home", "f", "enter", "c",
                                until="cancelled shown") == ("flaky", True, "flaky")
