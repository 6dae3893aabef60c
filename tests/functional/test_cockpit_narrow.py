"""The board on a narrow terminal: columns too narrow to read fold away, empty ones first, and come back as cards move."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.board import COLUMN_WIDTH
from jobdeck.cockpit.status_bar import StatusBar
from jobdeck.state.deck import Deck
from cockpit_decks import NOW, claim, commit, new_deck, run, wait_until

pytestmark = pytest.mark.anyio

JOBS = [
    {"id": "load-leads", "title": "Load tonight's leads", "command": ["true"]},
    {"id": "news-signals", "title": "Buying signals in the news", "command": ["true"]},
    {"id": "account-brief", "title": "Account briefs for sales", "command": ["true"], "depends_on": ["news-signals"]},
    {"id": "crm-writeback", "title": "Write enrichment back to the CRM", "command": ["true"], "risk": "high"},
    {"id": "merge-enrichment", "title": "Merge scores into the CRM export", "command": ["true"]},
]


@pytest.fixture
def deck(tmp_path: Path) -> Deck:
    """Cards in Backlog, Review and Done; Running and Failed empty (as the demo deck ends)."""
    deck = new_deck(tmp_path / "deck", JOBS)
    run(deck, "news-signals", NOW - 600, 20.0, review=True, reason="validation failed")
    run(deck, "merge-enrichment", NOW - 300, 5.0)
    return deck


def in_view(app) -> list[str]:
    return [status.value for status, column in app.screen.board.columns.items() if column.display]


def column_text(app, status: str) -> str:
    """The column's cards as the screen shows them."""
    table = app.screen.board.columns[status].table
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


async def test_at_80x24_empty_columns_fold_so_ids_and_notes_can_be_read_and_at_120x40_none(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        board = app.screen.board
        assert in_view(app) == ["backlog", "review", "done"]
        assert [status.value for status in board.folded] == ["running", "failed"]
        assert "RF folded ←/→" in app.screen.query_one(StatusBar).render().plain
        for status in in_view(app):
            assert board.columns[status].size.width >= COLUMN_WIDTH
        backlog = column_text(app, "backlog")
        assert "awaiting approval" in backlog and "blocked by news-signal" in backlog, backlog
        assert "merge-enrichment" in column_text(app, "done")
        await pilot.press("right")  # past the folded, empty Running column, to the next cards
        assert app.screen.selected_job_id() == "news-signals"
        assert [status.value for status in board.folded] == ["running", "failed"]
        await pilot.resize_terminal(120, 40)  # room for every column at their narrowest: none folds
        await pilot.pause()
        assert in_view(app) == ["backlog", "running", "review", "done", "failed"] and board.folded == ()


async def test_a_column_comes_into_view_with_its_first_card_and_folds_again_with_its_last(deck) -> None:
    app = make_app(deck.root, fast_start=False, now=NOW, poll=None)  # the file watcher brings the changes
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert in_view(app) == ["backlog", "review", "done"]
        token = claim(deck, "load-leads", NOW - 30)
        # four columns with cards, room for three: those nearest the focused Backlog stay
        await wait_until(pilot, lambda: in_view(app) == ["backlog", "running", "review"], what="Running in view")
        assert [status.value for status in app.screen.board.folded] == ["done", "failed"]
        await pilot.press("right", "right", "right")  # Running, Review, then Done: the view slides by one
        await pilot.pause()
        assert app.screen.selected_job_id() == "merge-enrichment"
        assert in_view(app) == ["running", "review", "done"]
        commit(deck, [{"type": "succeeded", "job": "load-leads", "token": token}], NOW - 10)
        await wait_until(pilot, lambda: in_view(app) == ["backlog", "review", "done"], what="Running folded again")
        assert app.screen.selected_job_id() == "merge-enrichment"
