"""Fast start: the board painted from the card cache while the deck is read behind it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobdeck.cockpit.app import make_app
from cockpit_decks import NOW, commit, events, new_deck, run, shown_columns, wait_until

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
JOBS = [
    {"id": "a", "command": ["true"]},
    {"id": "b", "title": "Bee", "command": ["true"], "depends_on": ["a"], "labels": ["x"]},
    {"id": "c", "command": ["true"], "risk": "high"},
    {"id": "d", "command": ["false"]},
]


@pytest.fixture
def deck(tmp_path: Path):
    deck = new_deck(tmp_path / "deck", JOBS)
    run(deck, "a", NOW - 300, 5)
    run(deck, "b", NOW - 200, 5, review=True, reasons=["looks odd"])
    run(deck, "d", NOW - 100, 5, "failed", reason="exit code 1")
    return deck


def ls_json(deck) -> str:
    result = subprocess.run([sys.executable, "-m", "jobdeck", "--deck", str(deck.root), "ls", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


async def test_quit_leaves_the_cards_and_the_next_start_paints_them_first(deck) -> None:
    first = make_app(deck.root, watch=False, now=NOW)
    assert not first.model.ready  # no cards saved yet: painted from a preview of jobs.json
    async with first.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: first.model.ready, what="the deck to be read")
        expected = shown_columns(first)
        await pilot.press("q")
    cache = deck.state_dir / "cards.jsonl"
    assert cache.exists()
    from_cockpit = ls_json(deck)  # served from the cockpit's cache
    cache.unlink()
    assert ls_json(deck) == from_cockpit  # the slow path computes the same bytes

    ls_json(deck)  # ls leaves the cache too
    second = make_app(deck.root, watch=False, now=NOW)
    assert not second.model.ready
    async with second.run_test(size=(120, 40)) as pilot:
        assert shown_columns(second) == expected
        await wait_until(pilot, lambda: second.model.ready, what="the deck to be read")
        assert shown_columns(second) == expected
        second.screen.board.select("c")
        await pilot.press("a", "y")  # high risk: asks first
        assert (events(deck)[-1]["type"], events(deck)[-1]["job"]) == ("approved", "c")


async def test_cards_behind_the_log_are_a_first_picture_then_catch_up(deck) -> None:
    ls_json(deck)
    commit(deck, [{"type": "retried", "job": "d", "by": "x", "via": "cli"}], NOW)
    app = make_app(deck.root, watch=False, now=NOW)
    assert not app.model.ready
    async with app.run_test(size=(120, 40)) as pilot:
        assert shown_columns(app)["d"] == "failed"  # as the cards were saved
        await wait_until(pilot, lambda: app.model.ready, what="the deck to be read")
        await wait_until(pilot, lambda: shown_columns(app).get("d") == "backlog", what="d to move")


async def test_cards_from_another_jobs_json_are_not_used(deck) -> None:
    ls_json(deck)
    deck.spec_path.write_text(deck.spec_path.read_text().replace('"Bee"', '"Bees"'))
    app = make_app(deck.root, watch=False, now=NOW)
    assert app.model.cards["b"].title == "Bees"  # painted from the new jobs.json, not the saved cards
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.screen.board.columns["review"].table.cell("b").card.title == "Bees"
        await wait_until(pilot, lambda: app.model.ready, what="the deck to be read")
        assert app.screen.board.columns["review"].table.cell("b").card.title == "Bees"


async def test_keys_wait_for_the_deck(deck, monkeypatch) -> None:
    import jobdeck.cockpit.app as app_module

    ls_json(deck)
    monkeypatch.setattr(app_module.CockpitApp, "load_deck", lambda self: None)  # never finishes
    app = make_app(deck.root, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        before = len(events(deck))
        app.screen.board.select("c")
        await pilot.press("a", "enter", "v")
        assert len(events(deck)) == before
        assert app.screen is app.screen_stack[0]  # no detail or review over a half-read deck
        assert "reading the deck" in app.screen.query_one("#status-bar").render().plain


# -- no saved cards: painted from a preview of jobs.json ---------------------------------------


def big_deck(root: Path, jobs: int):
    """``jobs`` jobs, a few of them run, one waiting for approval."""
    spec = [{"id": f"job-{n:04d}", "title": f"Step {n}", "command": ["true"], "labels": [f"g{n % 3}"],
             **({"depends_on": [f"job-{n - 1:04d}"]} if n % 4 else {}),
             **({"risk": "high"} if n == 7 else {}), **({"schedule": "0 2 * * *"} if n == 9 else {})}
            for n in range(jobs)]
    deck = new_deck(root, spec)
    run(deck, "job-0000", NOW - 300, 5)
    run(deck, "job-0001", NOW - 200, 5, review=True, reasons=["looks odd"])
    run(deck, "job-0004", NOW - 100, 5, "failed", reason="exit code 1")
    return deck


@pytest.mark.parametrize("jobs", [12, 2010])
async def test_a_deck_without_saved_cards_is_painted_from_a_preview_then_validated(tmp_path: Path,
                                                                                    jobs: int) -> None:
    deck = big_deck(tmp_path / "deck", jobs)
    assert not (deck.state_dir / "spec.ok").exists()  # never validated: the preview reads jobs.json
    exact = make_app(deck.root, watch=False, now=NOW, fast_start=False)
    assert exact.model.ready
    app = make_app(deck.root, watch=False, now=NOW)
    assert not app.model.ready  # painted from the preview, validated behind it
    assert app.model.cards == exact.model.cards
    async with app.run_test(size=(120, 40)) as pilot:
        assert shown_columns(app)["job-0001"] == "review"
        assert "reading the deck" in app.screen.query_one("#status-bar").render().plain
        await wait_until(pilot, lambda: app.model.ready, what="the deck to be read")
        assert app.model.cards == exact.model.cards
        assert not app.screen.query_one("#spec-banner").display
        assert (deck.state_dir / "spec.ok").exists()  # the worker marks what it validated
        app.screen.board.select("job-0007")
        await pilot.press("a", "y")  # high risk: asks first
        assert (events(deck)[-1]["type"], events(deck)[-1]["job"]) == ("approved", "job-0007")
    exact.model.close()


async def test_an_invalid_jobs_json_painted_from_a_preview_ends_with_the_banner(deck) -> None:
    spec = deck.spec_path.read_text()
    deck.spec_path.write_text(spec.replace('"risk": "high"', '"risk": "high", "comand": ["x"]'))
    app = make_app(deck.root, watch=False, now=NOW)
    assert not app.model.ready  # the preview does not judge unknown fields; the loader does
    async with app.run_test(size=(120, 40)) as pilot:
        assert set(shown_columns(app)) == {"a", "b", "c", "d"}
        await wait_until(pilot, lambda: app.model.ready, what="the deck to be read")
        await pilot.pause()
        banner = app.screen.query_one("#spec-banner")
        assert banner.display
        assert "unknown field 'comand'" in banner.render().plain
        assert shown_columns(app) == {}  # jobs.json was never valid: no jobs to show


async def test_a_jobs_json_the_preview_cannot_read_is_validated_first(deck) -> None:
    deck.spec_path.write_text(deck.spec_path.read_text().replace('"id": "d"', '"id": "d", "priority": "5"'))
    app = make_app(deck.root, watch=False, now=NOW)
    assert app.model.ready  # the preview leaves such files to the loader, which judges them first
    assert app.model.spec_error is not None and "must be an integer (got '5')" in str(app.model.spec_error)


async def test_a_start_from_a_preview_leaves_the_cards_for_the_next_start(deck) -> None:
    from jobdeck.cockpit.fast_start import last_cards

    app = make_app(deck.root, watch=False)  # the real clock: only it may stamp the saved cards
    assert not app.model.ready
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.model.ready, what="the deck to be read")
        await wait_until(pilot, lambda: last_cards(deck) is not None, what="the cards to be saved")
    assert [card.id for card in last_cards(deck)] == ["a", "b", "c", "d"]


async def test_rows_past_the_first_screenful_wait_until_the_deck_is_read(tmp_path: Path, monkeypatch) -> None:
    import jobdeck.cockpit.app as app_module
    from jobdeck.cockpit.card_table import FIRST_ROWS

    deck = new_deck(tmp_path / "deck", [{"id": f"j{n:03d}", "command": ["true"]} for n in range(FIRST_ROWS + 20)])
    ls_json(deck)
    load_deck = app_module.CockpitApp.load_deck
    monkeypatch.setattr(app_module.CockpitApp, "load_deck", lambda self: None)  # read on demand below
    app = make_app(deck.root, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        backlog = app.screen.board.columns["backlog"].table
        await pilot.pause(0.2)
        assert (backlog.row_count, backlog.card_count) == (FIRST_ROWS, FIRST_ROWS + 20)  # held back
        load_deck(app)
        await wait_until(pilot, lambda: app.model.ready, what="the deck to be read")
        await wait_until(pilot, lambda: backlog.row_count == FIRST_ROWS + 20, what="the held rows")


async def test_a_deck_that_cannot_be_read_behind_its_saved_cards_quits_with_the_reason(deck) -> None:
    """The log emptied by an outside copytruncate after `ls` saved the cards: the board must not stay on
    cards of a deck that cannot be read (it showed them under "reading the deck…" for good)."""
    from jobdeck.state.errors import HistoryLost

    ls_json(deck)
    (deck.attempt_dir("default", "a", 1) / "output").write_text("kept")  # an attempt's files stay
    deck.events_path.write_bytes(b"")
    app = make_app(deck.root, watch=False, now=NOW)
    assert not app.model.ready  # painted from the saved cards
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.failure is not None, what="the deck read to fail")
    assert isinstance(app.failure, HistoryLost) and app.return_code == 2


@pytest.mark.parametrize("broken", ["truncated", "unknown field"])
async def test_a_cockpit_started_mid_edit_shows_the_last_valid_version_under_the_banner(deck, broken) -> None:
    ls_json(deck)  # the deck has been read while jobs.json was valid: that version is kept
    (deck.state_dir / "cards.jsonl").unlink()  # no saved cards: the first frame is a preview
    spec = deck.spec_path.read_text()
    deck.spec_path.write_text(spec[:len(spec) // 2] if broken == "truncated"
                              else spec.replace('"risk": "high"', '"risk": "high", "comand": ["x"]'))
    app = make_app(deck.root, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        assert set(shown_columns(app)) == {"a", "b", "c", "d"}  # painted at once, before the deck is read
        await wait_until(pilot, lambda: app.model.ready, what="the deck to be read")
        await pilot.pause()
        assert set(shown_columns(app)) == {"a", "b", "c", "d"}
        banner = app.screen.query_one("#spec-banner").render().plain
        assert banner.startswith("jobs.json is invalid; showing the last good version"), banner
        app.screen.board.select("c")
        await pilot.press("a")  # lets work start: waits for a valid jobs.json
        await pilot.pause()
        assert "approved" not in [record["type"] for record in events(deck)]
        app.screen.board.select("d")
        await pilot.press("p")  # stops work: acts on the kept version
        await wait_until(pilot, lambda: events(deck)[-1]["type"] == "paused", what="the pause")
    assert not (deck.state_dir / "cards.jsonl").exists()  # cards of a version not on disk are not left
