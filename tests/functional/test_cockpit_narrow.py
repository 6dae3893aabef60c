"""The board on a narrow terminal: columns too narrow to read fold away, empty ones first, and come back as cards move."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.board import COLUMN_WIDTH
from jobdeck.cockpit.status_bar import StatusBar
from jobdeck.state.deck import Deck
from cockpit_decks import NOW, claim, column_ids, commit, new_deck, run, wait_until

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


def drawn_card(app, status: str, job_id: str) -> list[str]:
    """The three lines of a card as its column draws them."""
    table = app.screen.board.columns[status].table
    lines = [table.render_line(y).text for y in range(table.size.height)]
    top = next(n for n, line in enumerate(lines) if line.strip().startswith(job_id[:8]))
    return [line.strip() for line in lines[top:top + 3]]


async def test_at_80x24_a_blocked_card_still_says_the_operator_held_or_pinned_it(tmp_path: Path) -> None:
    """Held after its dependency failed, the card read "blocked by outreach-dr…": the hold was cut away."""
    deck = new_deck(tmp_path / "deck", [
        {"id": "outreach-drafts", "command": ["true"]},
        {"id": "queue-outreach", "command": ["true"], "depends_on": ["outreach-drafts"]},
        {"id": "send-followups", "command": ["true"], "depends_on": ["outreach-drafts"]},
        {"id": "crm-writeback", "command": ["true"], "risk": "high"},
    ])
    run(deck, "outreach-drafts", NOW - 600, 5.0, "failed", reason="exit code 1", exit_code=1)
    commit(deck, [{"type": "held", "job": "queue-outreach", "by": "ops@host", "via": "cli"},
                  {"type": "pinned", "job": "send-followups", "by": "ops@host", "via": "cli"},
                  {"type": "held", "job": "crm-writeback", "by": "ops@host", "via": "cli", "reason": "CRM down"}],
           NOW - 60)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        held = drawn_card(app, "backlog", "queue-outreach")[2]
        pinned = drawn_card(app, "backlog", "send-followups")[2]
        approval = drawn_card(app, "backlog", "crm-writeback")[2]
        assert held.startswith("held, blocked by outr"), held
        assert pinned.startswith("pinned, blocked by ou"), pinned
        assert approval.startswith("held: CRM down, await"), approval  # (its reason kept, the prefix said short)
        # where the whole note fits, it is said whole, the operator's word first
        whole = app.screen.board.columns["backlog"].table.cell("queue-outreach").lines[1].plain
        assert whole == "held by the operator, blocked by outreach-drafts (failed)", whole


async def test_at_80x24_a_long_id_gives_way_to_the_attempt_and_age(tmp_path: Path) -> None:
    """`company-research 1/3 57s` lost its 1/3, and a 64-character id lost both: the id was never shortened."""
    long_id = ("a" * 20 + "-very-long-job-identifier-that-goes-on-and-on-and-on")[:64]  # the longest id allowed
    deck = new_deck(tmp_path / "deck", [
        {"id": "company-research", "command": ["cat"], "retry": {"max_attempts": 3}},
        {"id": long_id, "command": ["cat"]},
        {"id": "load", "command": ["cat"]},
    ])
    claim(deck, "company-research", NOW - 57)
    claim(deck, long_id, NOW - 12)
    claim(deck, "load", NOW - 3)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        research = drawn_card(app, "running", "company-research")[0]
        assert research.startswith("company-r") and "…" in research and research.endswith(" 1/3 57s"), research
        long_one = drawn_card(app, "running", long_id)[0]  # ('1/1' says little: the id is not cut further for it)
        assert long_one.startswith("aaaaaaa") and "…" in long_one and long_one.endswith("… 12s"), long_one
        short = drawn_card(app, "running", "load")[0]
        assert short.startswith("load ") and short.endswith(" 1/1 3s"), short  # (a short id: whole, as before)


async def test_a_focused_column_that_loses_its_last_card_gives_the_focus_to_where_it_went(deck) -> None:
    """Rejecting the last job in Review from the queue left Review, empty, in view with the cursor on nothing,
    and folded Failed away with the job in it."""
    from jobdeck.cockpit.review_screen import ReviewScreen

    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("right")
        assert app.screen.selected_job_id() == "news-signals"
        await pilot.press("v")
        queue = app.screen
        assert isinstance(queue, ReviewScreen)
        for _ in range(5):
            if queue.selected_job_id() == "news-signals":
                break
            await pilot.press("j")
        assert queue.selected_job_id() == "news-signals"
        await pilot.press("R", *"bad signals", "enter", "y")
        await wait_until(pilot, lambda: "news-signals" in column_ids(app, "failed"), what="news-signals in Failed")
        await pilot.press("escape")
        await pilot.pause()
        assert in_view(app) == ["backlog", "done", "failed"]
        assert app.screen.selected_job_id() == "news-signals"
        assert "news-signals" in column_text(app, "failed")
