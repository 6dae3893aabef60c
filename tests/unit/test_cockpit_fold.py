"""Which board columns stay in view when the terminal is too narrow for all of them (board.columns_in_view)."""

from __future__ import annotations

from jobdeck.cockpit.board import COLUMN_WIDTH, columns_in_view, columns_that_fit
from jobdeck.state.machine import COLUMNS, Status

BACKLOG, RUNNING, REVIEW, DONE, FAILED = COLUMNS
SHOWN = list(COLUMNS)


def test_a_column_is_wide_enough_for_an_id_and_the_first_words_of_its_note() -> None:
    text = COLUMN_WIDTH - 3  # the card's padding either side and the scrollbar's gutter
    assert text >= len("awaiting approval") and text >= len("merge-enrichment")
    assert [columns_that_fit(width) for width in (80, 82, 83, 103, 104, 120, 124, 125)] == [3, 3, 4, 4, 5, 5, 5, 6]


def test_every_column_stays_when_all_fit() -> None:
    assert columns_in_view(SHOWN, 5, BACKLOG, {BACKLOG}) == SHOWN
    assert columns_in_view(SHOWN, 6, None, set()) == SHOWN


def test_empty_columns_fold_first_and_the_room_left_goes_to_empty_ones_in_board_order() -> None:
    assert columns_in_view(SHOWN, 3, BACKLOG, {BACKLOG, REVIEW, DONE}) == [BACKLOG, REVIEW, DONE]
    assert columns_in_view(SHOWN, 3, BACKLOG, {BACKLOG, DONE}) == [BACKLOG, RUNNING, DONE]
    assert columns_in_view(SHOWN, 3, None, set()) == [BACKLOG, RUNNING, REVIEW]


def test_the_focused_column_stays_in_view_even_when_empty() -> None:
    assert columns_in_view(SHOWN, 3, FAILED, {BACKLOG, DONE}) == [BACKLOG, DONE, FAILED]
    assert columns_in_view([*SHOWN, Status.CANCELLED], 5, Status.CANCELLED, set(SHOWN)) == SHOWN[1:] + [
        Status.CANCELLED]


def test_more_columns_with_cards_than_fit_slide_around_the_focused_one() -> None:
    filled = set(SHOWN)
    assert columns_in_view(SHOWN, 3, BACKLOG, filled, BACKLOG) == [BACKLOG, RUNNING, REVIEW]
    assert columns_in_view(SHOWN, 3, DONE, filled, BACKLOG) == [RUNNING, REVIEW, DONE]  # → slides by one
    assert columns_in_view(SHOWN, 3, REVIEW, filled, RUNNING) == [RUNNING, REVIEW, DONE]  # ← within: stays
    assert columns_in_view(SHOWN, 3, BACKLOG, filled, RUNNING) == [BACKLOG, RUNNING, REVIEW]
    # empty columns are passed over: the window is made of the focused column and those with cards
    assert columns_in_view(SHOWN, 2, FAILED, {BACKLOG, REVIEW, FAILED}, BACKLOG) == [REVIEW, FAILED]
    assert columns_in_view(SHOWN, 2, None, {BACKLOG, REVIEW, FAILED}, REVIEW) == [REVIEW, FAILED]
