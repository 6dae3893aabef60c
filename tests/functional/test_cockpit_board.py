"""The board: columns, cards, header, navigation, filter, the Cancelled toggle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.board import COLUMN_WIDTH
from jobdeck.cockpit.board_screen import BoardScreen
from jobdeck.cockpit.card_table import CardTable
from jobdeck.cockpit.status_bar import StatusBar
from cockpit_decks import NOW, busy_deck, column_ids, shown_columns, wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
def deck(tmp_path: Path):
    return busy_deck(tmp_path / "deck")


async def test_every_job_is_in_its_column(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)):
        assert shown_columns(app) == {
            "publish": "backlog", "deploy": "backlog", "nightly": "backlog", "held": "backlog",
            "flaky": "backlog", "summarise": "running", "report": "review", "crashy": "review",
            "fetch": "done", "lint": "failed",
        }
        # review: oldest first; backlog: spec order at equal priority
        assert column_ids(app, "review") == ["report", "crashy"]
        assert column_ids(app, "backlog") == ["publish", "flaky", "deploy", "nightly", "held"]


async def test_cards_show_derived_state(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)):
        board = app.screen.board
        def third_line(job: str, status: str) -> str:
            cell = board.columns[status].table.cell(job)
            return cell.lines[1].plain
        from jobdeck.state.machine import Status as S
        assert third_line("publish", S.BACKLOG) == "awaiting approval"
        assert third_line("deploy", S.BACKLOG) == "blocked by lint (failed)"
        assert third_line("flaky", S.BACKLOG) == "retry in 5m"
        assert third_line("held", S.BACKLOG) == "paused"
        assert third_line("nightly", S.BACKLOG).startswith("waiting for schedule") or \
            third_line("nightly", S.BACKLOG).startswith("fires in")
        assert third_line("crashy", S.REVIEW) == "interrupted"
        assert third_line("lint", S.FAILED) == "exit code 1"
        summarise = board.columns[S.RUNNING].table.cell("summarise")
        assert summarise.corner == "1m"  # running for 95 s; a single-attempt job shows no n/max
        assert board.columns[S.BACKLOG].table.cell("flaky").corner == "1/4 9m"  # back in the backlog since its failure 9m58s ago


async def test_header_counts_failures_cost_and_runner(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)):
        stats = app.screen.query_one(StatusBar).stats
        assert stats is not None
        assert [stats.counts[s] for s in stats.counts][:5] == [5, 1, 2, 1, 1]
        assert (stats.running, stats.capacity) == (1, 4)
        assert stats.failures_last_hour == 2  # lint and flaky's first attempt
        assert stats.cost_today == pytest.approx(0.0123)
        assert stats.runners == ()
        text = app.screen.query_one(StatusBar).render().plain
        assert "Running 1/4" in text and "2 failed/1h" in text and "$0.012 today" in text
        assert "no runner" in text


async def test_a_fresh_heartbeat_shows_a_runner_alive(deck) -> None:
    import json

    beat = {"pid": 123, "host": "h", "heartbeat": NOW - 3, "parallel": 2, "running": ["deploy"]}
    (deck.runners_dir / "r1.json").write_text(json.dumps(beat))
    (deck.runners_dir / "r0.json").write_text(json.dumps({**beat, "heartbeat": NOW - 60}))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)):
        stats = app.screen.query_one(StatusBar).stats
        assert [h.runner for h in stats.runners] == ["r1"]
        assert stats.runners[0].running == ("deploy",)
        assert stats.capacity == 2
        assert "runner up" in app.screen.query_one(StatusBar).render().plain


async def test_keys_move_between_cards_and_columns(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, BoardScreen)
        assert screen.selected_job_id() == "publish"
        await pilot.press("j")
        assert screen.selected_job_id() == "flaky"
        await pilot.press("down", "down")
        assert screen.selected_job_id() == "nightly"
        await pilot.press("k")
        assert screen.selected_job_id() == "deploy"
        await pilot.press("l")
        assert screen.selected_job_id() == "summarise"
        await pilot.press("right")
        assert screen.selected_job_id() == "report"
        await pilot.press("tab")
        assert screen.selected_job_id() == "fetch"
        await pilot.pause()
        focused = [s.value for s, column in screen.board.columns.items() if column.has_class("-focused")]
        assert focused == ["done"]
        await pilot.press("tab", "tab")  # failed, then wraps round to the backlog
        assert screen.selected_job_id() == "deploy"
        await pilot.press("h", "left")  # the arrows stop at the board's edge (a key after them acts where they show)
        assert screen.selected_job_id() == "deploy"
        await pilot.press("shift+tab", "h")
        assert screen.selected_job_id() == "fetch"
        assert isinstance(app.focused, CardTable)


async def test_enter_opens_the_detail_and_escape_comes_back(deck) -> None:
    from jobdeck.cockpit.detail_screen import DetailScreen

    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l", "enter")
        assert isinstance(app.screen, DetailScreen) and app.screen.job_id == "summarise"
        await pilot.press("escape")
        assert isinstance(app.screen, BoardScreen)
        assert app.screen.selected_job_id() == "summarise"


async def test_filter_by_text_label_and_workspace(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"label:llm", "enter")
        await wait_until(pilot, lambda: set(shown_columns(app)) == {"summarise", "report"}, what="label filter")
        title = app.screen.board.columns["review"].query_one(".column-title").render()
        assert str(title) == "Review 1/2"
        await pilot.press("slash", *[" "] * 0)
        filter_bar = app.screen.query_one("#filter")
        filter_bar.value = "ws:reports"
        await pilot.press("enter")
        await wait_until(pilot, lambda: set(shown_columns(app)) == {"report"}, what="workspace filter")
        await pilot.press("slash")
        filter_bar.value = "flaky"
        await pilot.press("enter")
        await wait_until(pilot, lambda: set(shown_columns(app)) == {"flaky"}, what="text filter")
        await pilot.press("escape")
        assert len(shown_columns(app)) == 10
        assert not filter_bar.display


async def test_filter_by_status_takes_a_list_brings_cancelled_and_names_a_typo(deck) -> None:
    """`status:review,failed` (the CLI's own syntax) matched nothing, `status:cancelled` showed nothing until `c`,
    and `status:runing` emptied the board without a word."""
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        filter_bar = app.screen.query_one("#filter")
        for query, jobs in (("status:review,failed", {"report", "lint", "crashy"}), ("status:cancelled", {"old"})):
            await pilot.press("slash")
            filter_bar.value = query
            await pilot.press("enter")
            await wait_until(pilot, lambda: set(shown_columns(app)) == jobs, what=query)
        assert app.screen.board.show_cancelled
        await pilot.press("slash")
        filter_bar.value = "status:runing"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("no status 'runing': backlog, running" in str(n.message)
                                            for n in app._notifications), what="the typo named")


async def test_cancelled_column_is_behind_a_toggle(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        cancelled = app.screen.board.columns["cancelled"]
        assert not cancelled.display and column_ids(app, "cancelled") == ["old"]
        await pilot.press("c")
        assert cancelled.display
        await pilot.press("c")
        assert not cancelled.display


async def test_showing_and_hiding_cancelled_at_80x24_comes_back_to_the_selected_card(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.board.select("lint")  # in Failed
        await pilot.press("c")  # shows Cancelled (and goes there: at 80 columns it folds another away)
        assert app.screen.board.columns["cancelled"].display
        await pilot.press("c")
        assert not app.screen.board.columns["cancelled"].display
        assert app.screen.selected_job_id() == "lint"


async def test_works_at_80x24(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for column in app.screen.board.columns.values():
            if column.display:
                assert column.size.width >= COLUMN_WIDTH
        assert app.screen.has_class("-narrow")


def test_building_the_app_does_not_import_litellm(deck) -> None:
    code = (
        "import sys; from jobdeck.cockpit.app import make_app; make_app(sys.argv[1], watch=False); "
        "assert 'litellm' not in sys.modules, 'litellm imported'; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code, str(deck.root)], capture_output=True, text=True,
                            cwd=deck.root, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


async def test_no_color_drops_colour_and_marks_the_cursor_in_reverse(deck, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color and app.has_class("-no-color")
        table = app.screen.board.columns["backlog"].table
        cursor = table.get_component_styles("datatable--cursor")
        assert cursor.text_style.reverse


async def test_a_long_column_fills_in_after_the_first_paint_and_keeps_up_with_changes(
        tmp_path, monkeypatch) -> None:
    from jobdeck.cockpit.card_table import FIRST_ROWS
    from cockpit_decks import claim, commit, new_deck

    from jobdeck.cockpit.board import Board

    monkeypatch.setattr(Board, "_fill_next", lambda board: None)  # the test drives the fill

    jobs = [{"id": f"job-{n:03d}", "command": ["true"], "priority": n % 3} for n in range(300)]
    deck = new_deck(tmp_path / "deck", jobs)
    for n in range(0, 300, 50):
        token = claim(deck, f"job-{n:03d}", NOW - 600 + n)
        commit(deck, [{"type": "succeeded", "job": f"job-{n:03d}", "token": token}], NOW - 500 + n)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        backlog = app.screen.board.columns["backlog"].table
        assert (backlog.row_count, backlog.card_count) == (FIRST_ROWS, 294)
        assert str(app.screen.board.columns["backlog"].query_one(".column-title").render()) == "Backlog 294"
        assert app.screen.board.select("job-298")  # a card not yet a row is revealed on demand
        claim(deck, "job-299", NOW)  # moves while still waiting to be added
        app.sync()
        while backlog.filling:
            backlog.fill_chunk()
        await pilot.pause()
        expected = sorted((j for j in jobs if j["id"] not in {f"job-{n:03d}" for n in range(0, 300, 50)}
                           and j["id"] != "job-299"),
                          key=lambda j: (-j["priority"], int(j["id"][4:])))
        assert column_ids(app, "backlog") == [j["id"] for j in expected]
        assert column_ids(app, "running") == ["job-299"]
        assert column_ids(app, "done") == [f"job-{n:03d}" for n in range(0, 300, 50)]  # oldest first
        assert app.screen.selected_job_id() == "job-298"


async def test_a_column_past_its_row_limit_shows_the_most_relevant_cards(tmp_path, monkeypatch) -> None:
    from jobdeck.cockpit import card_table
    from cockpit_decks import commit, new_deck, run

    monkeypatch.setattr(card_table, "LIMIT", 5)
    jobs = [{"id": f"d{n:02d}", "command": ["true"]} for n in range(8)]
    jobs += [{"id": f"b{n:02d}", "command": ["true"], "priority": n} for n in range(7)]
    deck = new_deck(tmp_path / "deck", jobs)
    for n in range(8):
        run(deck, f"d{n:02d}", NOW - 1000 + 10 * n, 1)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(column_ids(app, "done")) == 5, what="done to fill")
        assert column_ids(app, "done") == ["d03", "d04", "d05", "d06", "d07"]  # the newest, oldest first
        assert column_ids(app, "backlog") == ["b06", "b05", "b04", "b03", "b02"]  # the most urgent
        title = app.screen.board.columns["done"].query_one(".column-title").render()
        assert str(title) == "Done 5/8"
        commit(deck, [{"type": "retried", "job": "d05", "by": "x", "via": "cli"}], NOW)
        app.sync()  # d05 leaves Done: the next newest hidden card (d02) takes its place
        assert column_ids(app, "done") == ["d02", "d03", "d04", "d06", "d07"]
        assert column_ids(app, "backlog") == ["b06", "b05", "b04", "b03", "b02"]  # d05 (priority 0) stays hidden
        run(deck, "b06", NOW + 1, 1)
        app.sync()  # b06 leaves the backlog (b01 shows); arrives in Done as the newest (d02 gives way)
        assert column_ids(app, "backlog") == ["b05", "b04", "b03", "b02", "b01"]
        assert column_ids(app, "done") == ["d03", "d04", "d06", "d07", "b06"]


async def test_many_cards_leaving_a_column_at_once_keep_it_in_order_and_the_cursor_on_its_job(
        tmp_path, monkeypatch) -> None:
    from jobdeck.cockpit import card_table
    from cockpit_decks import commit, new_deck

    monkeypatch.setattr(card_table, "LIMIT", 20)
    jobs = [{"id": f"j{n:02d}", "command": ["true"]} for n in range(40)]
    deck = new_deck(tmp_path / "deck", jobs)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(column_ids(app, "backlog")) == 20, what="the backlog to fill")
        assert app.screen.board.select("j12")
        claimed = [f"j{n:02d}" for n in (0, 1, 2, 3, 5, 8, 13, 21)]  # one delta; j21 was past the limit
        commit(deck, [{"type": "claimed", "job": job, "attempt": 1, "runner": "r1", "workspace": "default"}
                      for job in claimed], NOW)
        app.sync()
        backlog = app.screen.board.columns["backlog"].table
        expected = [f"j{n:02d}" for n in range(40) if f"j{n:02d}" not in claimed][:20]
        assert column_ids(app, "backlog") == expected  # the next cards moved up in order
        assert [backlog.get_row_index(job) for job in expected] == list(range(20))
        assert app.screen.selected_job_id() == "j12"
        assert column_ids(app, "running") == claimed
        title = app.screen.board.columns["backlog"].query_one(".column-title").render()
        assert str(title) == "Backlog 20/32"
        await pilot.press("down")
        assert app.screen.selected_job_id() == "j14"


async def test_card_lines_kept_between_paints_are_the_lines_the_table_would_draw_now(tmp_path) -> None:
    from textual.widgets import DataTable

    from cockpit_decks import claim, new_deck

    jobs = [{"id": f"j{n:02d}", "command": ["true"], "priority": n % 2} for n in range(12)]
    deck = new_deck(tmp_path / "deck", jobs)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        board = app.screen.board
        backlog = board.columns["backlog"].table

        def drawn_fresh_and_kept_agree() -> None:
            for table in board.tables():
                style = table.rich_style
                kept = [list(table.render_line(y)) for y in range(table.size.height)]
                table._clear_caches()
                scroll_x, scroll_y = table.scroll_offset
                fresh = [list(DataTable._render_line(table, y + scroll_y, scroll_x, scroll_x + table.size.width,
                                                     style)) for y in range(table.size.height)]
                assert kept == fresh, table.id

        await pilot.pause()
        drawn_fresh_and_kept_agree()
        await pilot.press("down", "down")  # the cursor moves: both rows look different
        drawn_fresh_and_kept_agree()
        claim(deck, "j01", NOW)  # a card leaves: the rows below change stripe
        app.sync()
        await pilot.pause()
        drawn_fresh_and_kept_agree()
        await pilot.press("tab")  # the backlog loses focus: its cursor is drawn unfocused
        assert app.focused is not backlog
        drawn_fresh_and_kept_agree()
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        drawn_fresh_and_kept_agree()
        app.stylesheet.add_source("CardTable > .datatable--even-row { color: red; }")
        app.refresh_css()  # only the stripes' style changes, not the table's own
        await pilot.pause()
        drawn_fresh_and_kept_agree()


async def test_command_palette_opens_a_job(deck) -> None:
    from jobdeck.cockpit.detail_screen import DetailScreen

    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p", *"open crashy")
        await wait_until(pilot, lambda: "open crashy" in _palette_text(app), what="the hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail")
        assert app.screen.job_id == "crashy"


async def test_command_palette_runs_the_boards_own_commands(deck) -> None:
    from jobdeck.cockpit.review_screen import ReviewScreen

    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p", *"review queue")
        await wait_until(pilot, lambda: "Review queue" in _palette_text(app), what="the command")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="the review queue")


async def test_command_palette_offers_the_undo_while_it_lasts(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.board.select("flaky")
        await pilot.press("p", "ctrl+p", *"undo")
        await wait_until(pilot, lambda: "Undo" in _palette_text(app), what="the undo in the palette")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.undo.pending is None, what="the undo")
        assert "paused" not in app.screen.board.columns["backlog"].table.cell("flaky").lines[1].plain


def _palette_text(app) -> str:
    from textual.command import CommandList

    lists = app.screen.query(CommandList)
    return " ".join(str(option.prompt) for option in lists.first().options) if lists else ""


@pytest.mark.parametrize("width", [80, 82, 83, 103, 104, 124, 125, 160])  # 4, 5, 6 columns fit from 83, 104, 125
@pytest.mark.parametrize("cancelled", [False, True], ids=["cancelled-hidden", "cancelled-shown"])
async def test_every_shown_column_renders_or_the_header_says_it_is_folded(deck, width, cancelled) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(width, 24)) as pilot:
        board = app.screen.board
        if cancelled:
            await pilot.press("c")
        await pilot.pause()
        shown = board.shown_statuses()
        in_view = [status for status in shown if board.columns[status].display]
        assert [status for status in shown if status not in in_view] == list(board.folded)
        for status in in_view:
            assert board.columns[status].size.width >= COLUMN_WIDTH, (status, board.columns[status].size)
        header = app.screen.query_one(StatusBar).render().plain
        assert ("folded" in header) == bool(board.folded)
        if board.folded:  # named: "B folded ←/→", or in full when the long header fits
            letters = {"backlog": "B", "running": "R", "review": "V", "done": "D", "failed": "F", "cancelled": "C"}
            names = "".join(letters[status.value] for status in board.folded)
            assert f"{names} folded ←/→" in header or "folded: ←/→" in header
        assert len(in_view) == min(len(shown), (width + 1) // (COLUMN_WIDTH + 1))
        if cancelled:  # c brings the Cancelled column into view, whatever the width
            assert board.columns["cancelled"].display
        seen = set(in_view)
        for key in ("left",) * len(shown) + ("right",) * len(shown):  # ← to the first, → to the last: every column
            await pilot.press(key)  # with cards (here, all), a folded one brought into view
            await pilot.pause()
            seen.update(status for status in shown if board.columns[status].display)
        assert seen == set(shown)


async def test_the_footer_shows_the_selected_cards_full_id(tmp_path) -> None:
    from cockpit_decks import new_deck

    deck = new_deck(tmp_path / "deck", [{"id": "merge-enrichment-of-leads", "command": ["true"]}])
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one("#key-hints").render().plain
        assert footer.startswith(" merge-enrichment-of-leads │")


async def test_a_very_long_id_leaves_the_footer_room_for_its_keys(tmp_path) -> None:
    """A 64-character id took the whole footer: no action key, `?` cut."""
    from cockpit_decks import new_deck

    long_id = "this-is-a-very-long-job-identifier-that-goes-on-and-on-for-64chr"
    deck = new_deck(tmp_path / "deck", [{"id": long_id, "command": ["true"]}])
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one("#key-hints").render().plain
        assert footer.startswith(f" {long_id[:25]}… │") and " ?  help " in footer and "quit" in footer, footer


def test_textual_reads_escape_then_a_key_within_its_delay_as_alt_key() -> None:
    """Why cockpit/escape_keys.py exists: the bytes of Esc-then-c and of Alt+c are the same."""
    from textual._xterm_parser import XTermParser

    parser = XTermParser()
    keys = [event.key for event in [*parser.feed("\x1bc"), *parser.feed("")] if hasattr(event, "key")]
    assert keys == ["alt+c"]


async def test_escape_then_a_key_typed_fast_is_both_keys(deck) -> None:
    from textual import events

    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", "x")
        filter_bar = app.screen.query_one("#filter")
        app.post_message(events.Key("alt+c", "c"))  # what the parser makes of Esc and c within ESCDELAY
        await wait_until(pilot, lambda: app.screen.board.show_cancelled, what="c after the Escape")
        assert filter_bar.value == "" and not filter_bar.display  # the Escape cleared the filter


def _contrast(style) -> float:
    def luminance(color) -> float:
        channels = [c / 255 for c in color.get_truecolor()]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(style.color), luminance(style.bgcolor)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


async def test_every_column_title_is_readable_focused_or_not(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(2):  # the focused column changes its title's colours: see each both ways
            await pilot.pause()
            for status, column in app.screen.board.columns.items():
                if column.display:
                    title = column.query_one(".column-title")
                    drawn = next(s for s in title.render_line(0) if s.text.strip())
                    assert _contrast(drawn.style) >= 4.5, (status, drawn.text, drawn.style)  # WCAG AA
            await pilot.press("tab")


@pytest.mark.parametrize("width", [80, 100, 160])
async def test_the_header_uses_long_labels_when_they_fit_and_never_runs_fields_together(deck, width) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        bar = app.screen.query_one(StatusBar)
        header = bar.render().plain
        assert len(header) <= width
        long = bar.line(wide=True).plain
        if len(long) <= width:
            assert header == long and "Backlog 5 Running 1/4 Review 2 Done 1 Failed 1" in header
        else:
            assert "B5 R1/4 V2 D1 F1" in header
        fields = header.split(" │ ")  # each field stands apart, whatever collapses spaces
        assert any(f.endswith("/1h") for f in fields) and any(f.startswith("$") for f in fields)


async def test_help_explains_the_short_header_and_fits_80x24(deck) -> None:
    from rich.console import Console

    from jobdeck.cockpit.help_screen import HelpScreen
    from jobdeck.cockpit.status_bar import SHORT

    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help")
        assert box.virtual_size.height <= box.scrollable_content_region.height  # no scrolling needed
        console = Console(width=200, record=True, file=open(os.devnull, "w"))
        console.print(app.screen.query_one("#help-keys").content)
        text = console.export_text()
        legend = text.split("Board")[0]  # the header's short forms, as the header shows them, come first
        assert "B4 R0/4 V2 D7 F0" in legend and "".join(SHORT.values()) == "BRVDF"
        for shown in ("✗/1h", "$0.00", "no runner", "folded ←/→", "undo"):
            assert shown in text


async def test_at_80_columns_the_footer_keeps_the_id_and_the_jobs_first_key(tmp_path) -> None:
    from cockpit_decks import long_ids_deck

    deck = long_ids_deck(tmp_path / "deck")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.board.select("merge-enrichment")
        await pilot.pause()
        footer = app.screen.query_one("#key-hints").render().plain
        assert footer.startswith(" merge-enrichment │ r  retry ")  # the review key gave way, not the act
        assert footer.endswith("?  help  ^p  palette") and len(footer) <= 80


async def test_w_is_offered_only_with_a_card_selected_and_says_what_it_needs_without_one(tmp_path) -> None:
    from jobdeck.cockpit.why_screen import WhyScreen

    deck = busy_deck(tmp_path / "deck")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        hints = app.screen.query_one("#key-hints")
        assert app.screen.board.select("lint")
        await pilot.pause()
        assert " w  why " in hints.render().plain
        await pilot.press("slash", *"nothing-matches", "enter")  # every column empty: nothing selected
        await wait_until(pilot, lambda: app.screen.board.selected_id is None, what="an empty board")
        await pilot.pause()
        assert " why " not in hints.render().plain
        await pilot.press("w")
        await wait_until(pilot, lambda: any(n.message == "no job selected" for n in app._notifications),
                         what="w to say what it needs")
        assert not isinstance(app.screen, WhyScreen)


async def test_enter_with_no_card_selected_says_so_as_the_other_keys_do(tmp_path) -> None:
    deck = busy_deck(tmp_path / "deck")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"nothing-matches", "enter")  # every column empty: nothing selected
        await wait_until(pilot, lambda: app.screen.board.selected_id is None, what="an empty board")
        toasts = len(app._notifications)
        await pilot.press("enter")
        await wait_until(pilot, lambda: [n.message for n in app._notifications][toasts:] == ["no job selected"],
                         what="Enter to say there is nothing to open")
        assert app.screen is app.screen_stack[0]


async def test_the_selection_goes_with_its_job_when_it_leaves_a_column_that_keeps_other_cards(tmp_path) -> None:
    """Retried from Failed, the job went to Running and the cursor stayed in Failed on the card that slid into its
    row: the next `r` retried another job."""
    from cockpit_decks import commit, new_deck

    jobs = [{"id": job, "command": ["true"]} for job in ("flaky", "other", "third")]
    deck = new_deck(tmp_path / "deck", jobs)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(column_ids(app, "backlog")) == 3, what="the backlog to fill")
        assert app.screen.board.select("flaky")
        commit(deck, [{"type": "claimed", "job": "flaky", "attempt": 1, "runner": "r1", "workspace": "default"}],
               NOW)
        app.sync()
        assert column_ids(app, "running") == ["flaky"] and column_ids(app, "backlog") == ["other", "third"]
        assert app.screen.selected_job_id() == "flaky", "the selection stayed behind, on another job"
