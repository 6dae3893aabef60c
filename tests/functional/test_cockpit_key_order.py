"""Keys typed in one burst act in order, also across a screen that opens or closes and a field that changes.

The App hands each typed key to the widget focused when it reads it, and reads on;
the key's binding runs later, when it has bubbled back up. Before the keys were
held in turn (cockpit/key_order.py), `Esc j p` typed together paused the job left
behind, `v j a` opened an approval on the board under the review queue, and a
reason's Enter followed by `y` typed the `y` into the reason. As in
test_cockpit_filter_keys.py, the keys are queued the way the terminal driver
queues one read, with no wait between them (``Pilot.press`` waits after each).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.confirm_screen import ConfirmScreen
from jobdeck.cockpit.detail_screen import DetailScreen
from jobdeck.cockpit.new_job_screen import NewJobScreen
from jobdeck.cockpit.review_screen import ReviewScreen
from cockpit_decks import NOW, busy_deck, events as deck_events, type_at_once, wait_until

pytestmark = pytest.mark.anyio

@pytest.fixture
def deck(tmp_path: Path):
    return busy_deck(tmp_path / "deck")


async def test_keys_after_escape_act_where_the_escape_left_the_focus(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        board = app.screen
        assert board.selected_job_id() == "publish"
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        type_at_once(app, "escape", "j", "p")
        await wait_until(pilot, lambda: app.undo.pending is not None, what="the pause")
        assert app.screen is board and board.selected_job_id() == "flaky"
        assert app.undo.pending.job_id == "flaky" and deck_events(deck)[-1]["job"] == "flaky"


async def test_alt_and_a_key_read_as_escape_then_the_key_keep_the_keys_after_them_in_turn(deck) -> None:
    """`Esc j` within the escape delay reaches the App as alt+j, and the `p` typed after it must wait for both."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        board = app.screen
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        app.post_message(events.Key("alt+j", "j"))
        type_at_once(app, "j", "p")
        await wait_until(pilot, lambda: app.undo.pending is not None, what="the pause")
        assert board.selected_job_id() == "deploy" and app.undo.pending.job_id == "deploy"


async def test_keys_after_one_that_opens_a_screen_act_on_that_screen(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        board = app.screen
        assert board.selected_job_id() == "publish"  # high risk: `a` on it asks first
        type_at_once(app, "v", "j", "k", "a")  # down and up again: `report`, an output waiting for review
        await wait_until(pilot, lambda: app.undo.pending is not None, what="the approval")
        assert isinstance(app.screen, ReviewScreen) and app.undo.pending.job_id == "report"
        assert board.selected_job_id() == "publish"  # the board under the queue did not move
        assert not any(isinstance(screen, ConfirmScreen) for screen in app.screen_stack)


async def test_a_form_typed_at_once_fills_each_field_with_its_own_text(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        type_at_once(app, "n", "a", "b", "tab", "c", "d")
        await wait_until(pilot, lambda: isinstance(app.screen, NewJobScreen)
                         and app.screen.query_one("#field-title").value == "cd", what="the title")
        assert app.screen.query_one("#field-id").value == "ab"


async def test_a_reason_its_enter_and_y_typed_at_once_reject_with_that_reason(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.screen.board.select("report")
        type_at_once(app, "R", *"no summary", "enter", "y")
        await wait_until(pilot, lambda: deck_events(deck)[-1]["type"] == "rejected", what="the rejection")
        assert deck_events(deck)[-1]["reason"] == "no summary"  # (the y was not typed into the reason)


async def test_an_undo_toast_goes_once_there_is_nothing_left_to_undo(deck) -> None:
    """`r` then `a` within the undo's seconds wrote the retry, and its "z to undo" toast stayed beside the approve's."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=30)
    async with app.run_test(size=(120, 40)) as pilot:
        def toasts() -> list[str]:
            return [str(n.message) for n in app._notifications]
        assert app.screen.board.select("lint")
        await pilot.press("r")
        assert toasts() == ["retry lint in 30s — z to undo"]
        assert app.screen.board.select("report")
        await pilot.press("a")  # the retry is written now: only the approve can be undone
        await wait_until(pilot, lambda: "retry lint in 30s — z to undo" not in toasts(), what="the retry's toast to go")
        assert "approve report in 30s — z to undo" in toasts() and "lint queued again" in toasts()
        await pilot.press("z")
        await wait_until(pilot, lambda: "approve report in 30s — z to undo" not in toasts(), what="the undone toast")
        assert "undone: approve report (nothing written)" in toasts()
