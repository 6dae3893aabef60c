"""`s`: the last 24 hours' runs, failures and cost per hour, from the rollups, at 80x24."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Sparkline

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.stats_screen import StatsScreen
from cockpit_decks import NOW, new_deck, run, toast_said, wait_until

pytestmark = pytest.mark.anyio


def select(app, job_id: str) -> bool:
    """Put the board's cursor on ``job_id``."""
    from jobdeck.cockpit.board_screen import BoardScreen

    return next(s for s in app.screen_stack if isinstance(s, BoardScreen)).board.select(job_id)


async def test_s_shows_the_last_day_hour_by_hour_and_fits_80x24(tmp_path: Path) -> None:
    deck = new_deck(tmp_path / "deck")
    run(deck, "fetch", NOW - 5 * 3600, 4.0, cost=0.25, usage={"model": "openai/gpt-4o-mini"})
    run(deck, "lint", NOW - 3600, 2.0, "failed", reason="exit code 1", exit_code=1)
    run(deck, "report", NOW - 60, 3.0, cost=0.5, model="openai/gpt-4o")
    run(deck, "summarise", NOW - 30 * 3600, 3.0, cost=9.0)  # a day and more ago: not in the window
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), what="the stats screen")
        screen = app.screen
        done, failed, cost = (list(screen.query_one(f"#spark-{name}", Sparkline).data or [])
                              for name in ("done", "failed", "cost"))
        assert len(done) == 24 and done[-1] == 1 and done[-6] == 1 and sum(done) == 2
        assert failed[-2] == 1 and sum(failed) == 1
        assert cost[-1] == pytest.approx(0.5) and sum(cost) == pytest.approx(0.75)
        text = {w.id: str(w.render()) for w in screen.query("Static") if w.id}
        assert text["stats-done"] == "done: 2 in 24h, most in an hour 1"
        assert text["stats-failed"] == "failed: 1, 33% failed, most in an hour 1"
        assert text["stats-cost"] == "cost: $0.75, most in an hour $0.50"
        assert text["stats-models"] == "by model: openai/gpt-4o $0.50, openai/gpt-4o-mini $0.25"
        assert screen.query_one("#stats").region.bottom <= 24  # all of it on an 80x24 screen
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, StatsScreen), what="the board again")


async def paged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, output: str,
                stderr: str | None = None) -> str:
    """What `key` on fetch's card (its attempt wrote ``output``, and ``stderr``) hands $PAGER."""
    from cockpit_decks import run as run_job

    deck = new_deck(tmp_path / "deck")
    run_job(deck, "fetch", NOW - 60, 2.0, output=output)
    if stderr is not None:
        (deck.attempt_dir("default", "fetch", 1) / "stderr.log").write_text(stderr)
    seen = tmp_path / "paged.txt"
    monkeypatch.setenv("PAGER", f"tee {seen}")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert select(app, "fetch")
        await pilot.press(key)
        await wait_until(pilot, lambda: seen.exists() and seen.read_text().endswith("\n"), what="the pager")
    return seen.read_text()


async def test_o_pages_the_latest_output_inert_through_the_pager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's output reaches $PAGER without its escape sequences, and ends with a newline."""
    output = "plain \x1b]52;c;ZXZpbA==\x07line\n\x1b[31mred\x1b[0m"
    assert await paged(tmp_path, monkeypatch, "o", output) == "plain line\nred\n"


async def test_capital_e_on_the_board_pages_the_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Help lists E beside o for the board; it did nothing there (only the detail had it)."""
    assert await paged(tmp_path, monkeypatch, "E", "the output\n", stderr="warning: slow\n") == "warning: slow\n"


async def test_the_header_leads_to_the_stats_and_the_detail_shows_a_duration_trend(tmp_path: Path) -> None:
    from jobdeck.cockpit.detail_screen import DetailScreen
    from jobdeck.cockpit.status_bar import StatusBar
    from cockpit_decks import commit

    deck = new_deck(tmp_path / "deck")
    for n, took in enumerate((4.0, 8.0, 2.0, 16.0)):
        if n:
            commit(deck, [{"type": "retried", "job": "fetch", "by": "op"}], NOW - 3000 + n * 100)
        run(deck, "fetch", NOW - 3000 + n * 100 + 1, took)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click(StatusBar)
        await wait_until(pilot, lambda: isinstance(app.screen, StatsScreen), what="the stats from the header")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, StatsScreen), what="the board")
        assert select(app, "fetch")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail")
        from rich.console import Console

        console = Console(width=200, record=True, file=open("/dev/null", "w"))
        console.print(app.screen.query_one("#detail-text").content)
        text = console.export_text()
        assert "duration of the last 4 successful runs  ▂▄▁█  2.0s to 16s, latest 16s" in text


async def test_y_and_shift_y_copy_the_id_and_the_output_path(tmp_path: Path) -> None:
    from cockpit_decks import run as run_job

    deck = new_deck(tmp_path / "deck")
    run_job(deck, "fetch", NOW - 60, 2.0, output="x\n")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert select(app, "fetch")
        await pilot.press("y")
        assert app.clipboard == "fetch"
        await pilot.press("Y")
        assert app.clipboard == str(deck.attempt_dir("default", "fetch", 1) / "output")


async def test_no_color_gives_a_monochrome_cockpit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    deck = new_deck(tmp_path / "deck")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color  # Textual then draws through its monochrome filter


def app_with_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remaps: str) -> tuple[Path, Any, Any]:
    """A keys.toml of ``remaps`` (its [keys] table's lines) in use, and the cockpit of a new deck."""
    keys = tmp_path / "keys.toml"
    keys.write_text(f"[keys]\n{remaps}")
    monkeypatch.setenv("JOBDECK_KEYS", str(keys))
    deck = new_deck(tmp_path / "deck")
    return keys, deck, make_app(deck.root, fast_start=False, watch=False, now=NOW)


async def test_keys_toml_remaps_an_action_and_says_what_it_cannot_read(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from cockpit_decks import events

    keys, deck, app = app_with_keys(tmp_path, monkeypatch, 'pause = "ctrl+t"\nfly = "f"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert select(app, "fetch")
        await pilot.press("p")  # no longer pause
        await pilot.pause()
        assert not deck.events_path.exists() or not [e for e in events(deck) if e["type"] == "paused"]
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: [e for e in events(deck) if e["type"] == "paused"], what="the pause")
        assert any("no action 'fly'" in toast_said(n.message) for n in app._notifications)
        await pilot.press("question_mark")
        await pilot.pause()
        assert "pause ctrl+t" in str(app.screen.query_one("#help-remapped").render())


async def test_keys_toml_says_when_a_remap_takes_another_actions_key(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """retry = "q" would leave q to one of the two, and quitting to ^C alone, without a word."""
    keys, deck, app = app_with_keys(tmp_path, monkeypatch,
                                    'retry = "q"\napprove = "ctrl+a"\nwhy = "a"\naccept = "ctrl+g"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        said = [toast_said(n.message) for n in app._notifications if n.title == "keys.toml"]
        # why takes a from approve, which moved to ctrl+a: no clash
        assert said == [f'{keys}: retry = "q" takes q, which quit has too: only one of them works by that key']
        assert select(app, "fetch")
        await pilot.press("A")  # accept moved to ctrl+g, and its "nothing to accept" with it
        await pilot.pause()
        assert not [n for n in app._notifications if n.title == "nothing to accept"]
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert [n for n in app._notifications if n.title == "nothing to accept"]


def test_every_remappable_action_is_a_binding_the_cockpit_has_and_the_deck_hold_is_one() -> None:
    """`hold_deck = "f9"` was refused as no action: D (and E on the board) were not in the list."""
    from textual.binding import Binding

    from jobdeck.cockpit.app import CockpitApp
    from jobdeck.cockpit.board_screen import BoardScreen
    from jobdeck.cockpit.card_table import CardTable
    from jobdeck.cockpit.detail_screen import DetailScreen
    from jobdeck.cockpit.keys_config import KEYS
    from jobdeck.cockpit.review_screen import ReviewScreen

    ids = {binding.id for owner in (CockpitApp, BoardScreen, CardTable, DetailScreen, ReviewScreen)
           for klass in owner.__mro__ for binding in getattr(klass, "BINDINGS", ()) if isinstance(binding, Binding)}
    assert set(KEYS) <= ids, set(KEYS) - ids
    assert {"hold_deck", "stderr_output"} <= set(KEYS)
