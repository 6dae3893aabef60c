"""The cockpit keeps up with the disk: other processes' events, the live tail, a bad jobs.json."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.detail_screen import DetailScreen
from jobdeck.cockpit.output_tail import ABOVE
from jobdeck.cockpit.review_screen import ReviewScreen
from jobdeck.cockpit.spec_banner import SpecBanner
from jobdeck.state.errors import JobdeckError
from cockpit_decks import JOBS, NOW, busy_deck, column_ids, error_toasts, events, shown_columns, wait_until, write_spec

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def deck(tmp_path: Path):
    return busy_deck(tmp_path / "deck")


async def open_detail(app, pilot, job_id: str) -> DetailScreen:
    """Enter on the job's card: its detail screen."""
    app.screen.board.select(job_id)
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    return screen


def append_from_another_process(deck, event: dict) -> None:
    code = ("import json, sys; from pathlib import Path; from state.deck import Deck; "
            "from state.board import open_store; "
            "store = open_store(Deck(Path(sys.argv[1]))); store.commit([json.loads(sys.argv[2])])")
    subprocess.run([sys.executable, "-c", code, str(deck.root), json.dumps(event)], check=True,
                   cwd=ROOT, timeout=60)


async def test_an_event_from_another_process_shows_without_a_key_press(deck) -> None:
    token = next(e["seq"] for e in reversed(events(deck)) if e["type"] == "claimed" and e["job"] == "summarise")
    app = make_app(deck.root, fast_start=False, now=NOW, poll=None)  # the watcher alone must notice
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert column_ids(app, "running") == ["summarise"]
        append_from_another_process(deck, {"type": "succeeded", "job": "summarise", "token": token})
        await wait_until(pilot, lambda: shown_columns(app).get("summarise") == "done", what="summarise in Done")
        assert column_ids(app, "running") == []


async def test_detail_tails_the_running_output_inertly(deck) -> None:
    output = deck.attempt_dir("default", "summarise", 1) / "output"
    app = make_app(deck.root, fast_start=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, "summarise")
        await wait_until(pilot, lambda: "Summary so far" in screen.tail.text, what="the output so far")
        with output.open("a") as f:
            f.write("\x1b[2J\x1b]0;pwned\x07[bold red]not markup[/] \x1b[31mred\x1b[0m\nstill going")
        await wait_until(pilot, lambda: "still going" in screen.tail.text, what="the appended output")
        shown = screen.tail.query_one(".tail-text").render()
        assert "[bold red]not markup[/] red\nstill going" in shown.plain
        assert "\x1b" not in shown.plain and "pwned" not in shown.plain
        assert not any("bold" in str(span.style) for span in shown.spans)


async def test_detail_shows_attempts_reasons_usage_and_chain(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.board.select("report")
        await pilot.press("enter")
        from rich.console import Console

        console = Console(width=200, record=True, file=open(os.devnull, "w"))
        console.print(app.screen.query_one("#detail-text").content)
        page = console.export_text()
        for expected in ("missing required field 'summary'", "succeeded", "in 812 out 240", "$0.0123",
                         '"workspace": "reports"', "claimed", "chain of work (2 events)"):
            assert expected in page, expected


async def test_invalid_jobs_json_shows_a_banner_and_keeps_the_board(deck) -> None:
    app = make_app(deck.root, fast_start=False, now=NOW, poll=None)
    async with app.run_test(size=(120, 40)) as pilot:
        banner = app.screen.query_one(SpecBanner)
        assert not banner.display
        good = deck.spec_path.read_text()
        deck.spec_path.write_text(good.replace('"id": "lint",', '"id": "lint",,', 1))
        await wait_until(pilot, lambda: banner.display, what="the banner")
        message = str(banner.render())
        assert "jobs.json is invalid; showing the last good version" in message
        line = next(i for i, text in enumerate(good.splitlines(), 1) if '"id": "lint"' in text)
        assert f"jobs.json:{line}:" in message
        assert len(shown_columns(app)) == 10
        # meanwhile what stops work acts on the last good version; what lets work start waits (as the CLI)
        with pytest.raises(JobdeckError, match="approve waits for jobs.json to be valid, as it lets work start"):
            app.operator.act("publish", "approve")
        assert [r["type"] for r in app.operator.act("flaky", "pause")] == ["paused"]
        errors = len(error_toasts(app))
        app.undo.offer("lint", "retry")  # refused at once: no countdown that ends in a refusal
        await pilot.pause()
        assert app.undo.pending is None
        assert len(error_toasts(app)) == errors + 1
        app.undo.offer("old", "pause")
        app.undo.undo()  # taking back what was just done is allowed whatever the file
        assert [e["type"] for e in events(deck) if e.get("job") == "old"][-2:] == ["paused", "resumed"]
        write_spec(deck, JOBS + [{"id": "extra", "command": ["true"]}])
        await wait_until(pilot, lambda: not banner.display, what="the banner to go")
        assert "extra" in column_ids(app, "backlog")


async def test_the_review_queue_and_the_job_view_say_too_that_jobs_json_is_invalid(deck) -> None:
    app = make_app(deck.root, fast_start=False, now=NOW, poll=None)
    async with app.run_test(size=(80, 24)) as pilot:
        good = deck.spec_path.read_text()
        deck.spec_path.write_text(good.replace('"id": "lint",', '"id": "lint",,', 1))
        await wait_until(pilot, lambda: app.screen.query_one(SpecBanner).display, what="the board's banner")
        for keys, screen_type in ((("v",), ReviewScreen), (("escape", "enter"), DetailScreen)):
            await pilot.press(*keys)
            await wait_until(pilot, lambda: isinstance(app.screen, screen_type), what=screen_type.__name__)
            banner = app.screen.query_one(SpecBanner)
            assert banner.display and "jobs.json is invalid; showing the last good version" in str(banner.render())
        deck.spec_path.write_text(good)
        await wait_until(pilot, lambda: not app.screen.query_one(SpecBanner).display, what="the banner to go")


async def test_review_queue_lists_what_waits_oldest_first(deck) -> None:
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert [(i.card.id, i.kind) for i in screen.items] == [  # an approval no runner has listed yet: last
            ("report", "review"), ("lint", "failed"), ("crashy", "interrupted"), ("publish", "approval")]
        await pilot.press("j", "j", "j")
        assert screen.selected_job_id() == "publish"
        approval = str(screen.query_one("#review-why").render())  # what the approval lets run; no output yet
        assert "\nwill run: true" in approval and "output" not in approval
        await pilot.press("k", "k", "k")
        assert screen.selected_job_id() == "report"
        why = str(screen.query_one("#review-why").render())
        assert "missing required field 'summary'" in why
        await wait_until(pilot, lambda: '{"title": "weekly"}' in screen.tail.text, what="report's output")
        app.undo.seconds = 0.01
        await pilot.press("a")
        await wait_until(pilot, lambda: events(deck)[-1]["type"] == "approved", what="the approve, after its undo")
        assert (events(deck)[-1]["type"], events(deck)[-1]["job"]) == ("approved", "report")
        assert [i.card.id for i in screen.items] == ["lint", "crashy", "publish"]
        await pilot.press("escape")
        assert shown_columns(app)["report"] == "done"


LONG_ID = "a-very-long-job-identifier-that-goes-on-and-on-past-any-column-x"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_long_id_in_the_review_queue_is_cut_so_kind_and_why_stay_in_view(tmp_path: Path, size) -> None:
    from cockpit_decks import new_deck, run

    assert len(LONG_ID) == 64
    deck = new_deck(tmp_path / "deck", [{"id": "report", "command": ["true"]}, {"id": LONG_ID, "command": ["false"]}])
    run(deck, "report", NOW - 120, 5.0, review=True, reason="invalid output")
    run(deck, LONG_ID, NOW - 60, 1.0, "failed", reason="exit code 1", exit_code=1)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=size) as pilot:
        await pilot.press("v")
        table = app.screen.query_one("#review-queue")
        await pilot.pause()
        assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing off to the right
        rows = [table.render_line(y).text for y in range(3)]
        for row, (kind, why) in zip(rows[1:], (("review", "invalid output"), ("failed", "exit code 1"))):
            assert f" {kind} " in row and why in row, rows
        assert "a-very-long-job-" in rows[2] and LONG_ID not in rows[2]
        assert rows[2].split()[1].endswith("…"), rows
        assert app.screen.selected_job_id() == "report"
        await pilot.press("j")  # the side pane names it in full
        assert LONG_ID in str(app.screen.query_one("#review-why").render()).replace("\n", "")


async def test_the_attempts_table_keeps_time_while_the_job_runs(deck) -> None:
    clock = [NOW]
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    app.model.clock = lambda: clock[0]
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.board.select("summarise")  # claimed 95 s ago, still running
        await pilot.press("enter")
        screen = app.screen

        def attempts() -> str:
            from rich.console import Console

            console = Console(width=200, record=True, file=open(os.devnull, "w"))
            console.print(screen.query_one("#detail-text").content)
            return console.export_text()

        assert "running" in attempts() and "1m35s" in attempts()
        clock[0] += 20
        screen.tick(False)  # the app's one-second tick (not the ten-second full one)
        await wait_until(pilot, lambda: "1m55s" in attempts(), what="the running attempt's time to move")


async def test_a_failed_jobs_stderr_is_one_key_away_in_its_detail_and_pages_with_o(deck, monkeypatch) -> None:
    """The reason a job failed is often only on its stderr: the detail says it has one, E shows it (inert)."""
    from jobdeck.cockpit import pager

    (deck.attempt_dir("default", "lint", 1) / "stderr.log").write_text("FATAL: \x1b]0;pwned\x07config not found\n")
    paged: list[Path] = []
    monkeypatch.setattr(pager, "show_in_pager", lambda app, path, title: paged.append(path))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, "lint")
        title = screen.query_one("#output-title").render()
        assert "output · attempt 1 (failed)" in title.plain and "E: its stderr" in title.plain
        await wait_until(pilot, lambda: "E501 line too long" in screen.tail.text, what="the output")
        await pilot.press("E")
        await wait_until(pilot, lambda: "FATAL: config not found" in screen.tail.text, what="the stderr, inert")
        assert screen.query_one("#output-title").render().plain.startswith("stderr · attempt 1")
        await pilot.press("o")
        await pilot.pause()
        assert paged == [deck.attempt_dir("default", "lint", 1) / "stderr.log"]
        await pilot.press("E")
        await wait_until(pilot, lambda: "E501 line too long" in screen.tail.text, what="the output again")


async def test_an_ended_attempt_with_no_output_says_no_output_and_a_running_one_no_output_yet(tmp_path) -> None:
    from cockpit_decks import claim, new_deck, run

    deck = new_deck(tmp_path / "deck")
    run(deck, "lint", NOW - 60, 1.0, "failed", output="", reason="exit code 1", exit_code=1)
    claim(deck, "fetch", NOW - 30, output="")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, "lint")
        assert "output · attempt 1 (failed)" in screen.query_one("#output-title").render().plain
        assert screen.tail.query_one(".tail-text").render().plain == "(no output)"
        await pilot.press("escape")
        screen = await open_detail(app, pilot, "fetch")
        assert "output · attempt 1 (running)" in screen.query_one("#output-title").render().plain
        assert screen.tail.query_one(".tail-text").render().plain == "(no output yet)"


SIGNALS = json.dumps({"signals": [{"domain": f"d{n}.example", "kind": "expansion", "evidence": "news",
                                   "strength": "very high" if n == 7 else "high"} for n in range(12)]}, indent=2)


def tail_rows(screen) -> list[str]:
    """The output lines the review pane shows now (the tail's lines in its view)."""
    tail = screen.query_one("#review-tail")
    return tail.text.split("\n")[int(tail.scroll_y):int(tail.scroll_y) + tail.scrollable_content_region.height]


async def test_the_review_pane_opens_at_the_field_that_failed_validation_else_at_the_start(tmp_path: Path) -> None:
    from cockpit_decks import new_deck, run

    deck = new_deck(tmp_path / "deck", [{"id": "plain", "command": ["true"], "risk": "medium"},
                                        {"id": "signals", "command": ["true"]}])
    run(deck, "plain", NOW - 120, 5.0, output=SIGNALS, review=True, reason="review required (risk medium)")
    run(deck, "signals", NOW - 60, 5.0, output=SIGNALS, review=True, reason="invalid output",
        reasons=["at $.signals[7].strength: 'very high' is not one of ['low', 'medium', 'high']"])
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.selected_job_id() == "plain"
        await wait_until(pilot, lambda: tail_rows(screen)[:2] == ["{", '  "signals": ['], what="its start")
        await pilot.press("j")  # the one that failed validation: far down its output, which the pane is past
        assert screen.selected_job_id() == "signals"
        await wait_until(pilot, lambda: '      "strength": "very high"' in tail_rows(screen),
                         what="the invalid field in view")
        assert tail_rows(screen).index('      "strength": "very high"') == ABOVE  # below the lines before it


async def test_a_change_on_disk_while_the_review_queue_or_a_job_view_is_being_put_up_waits_for_it(deck) -> None:
    """`v` as a runner wrote: the change reached the queue before it had its widgets, and the cockpit ended on a
    traceback (NoMatches on the queue's output tail); the job view (Enter) was open to the same."""
    from jobdeck.cockpit.job_screen import JobScreen

    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, poll=None)
    jobs = [dict(job) for job in JOBS]
    report = next(job for job in jobs if job["id"] == "report")
    async with app.run_test(size=(80, 24)) as pilot:
        for opening, screen_type in ((app.open_review, ReviewScreen),
                                     (partial(app.open_detail, JobScreen.OpenDetail("report")), DetailScreen)):
            opening()  # what `v` and Enter do: the screen is on the stack at once, its widgets come after
            screen = app.screen_stack[-1]
            assert isinstance(screen, screen_type)
            steps = 0
            while not screen.is_mounted:  # a change on disk at every step of its putting up
                steps += 1
                report["title"] = f"Weekly report, take {steps}"
                write_spec(deck, jobs)
                app.sync()
                await asyncio.sleep(0)
            assert steps > 1
            await pilot.pause()
            assert app.is_running and app.screen is screen
            title = f"Weekly report, take {steps}"
            if screen_type is ReviewScreen:
                assert [item.card.id for item in screen.items][0] == "report"
                assert title in str(screen.query_one("#review-why").render())
            else:
                assert title in str(screen.query_one("#detail-heading").render())
            await pilot.press("escape")


async def test_the_view_of_a_job_taken_out_of_jobs_json_offers_no_w_and_says_why_not(deck) -> None:
    from jobdeck.cockpit.why_screen import WhyScreen

    app = make_app(deck.root, fast_start=False, now=NOW, poll=None)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_detail(app, pilot, "lint")
        hints = screen.query_one("#key-hints")
        await pilot.pause()
        assert " w  why " in hints.render().plain
        write_spec(deck, [job for job in JOBS if job["id"] not in ("lint", "deploy")])  # as `jobdeck rm lint deploy`
        await wait_until(pilot, lambda: "no longer in jobs.json" in str(screen.query_one("#detail-heading").render()),
                         what="the view to say the job is gone")
        await pilot.pause()
        assert " why " not in hints.render().plain
        await pilot.press("w")
        await wait_until(pilot, lambda: any(n.message == "lint is not in the jobs.json in use"
                                            for n in app._notifications), what="w to say why not")
        assert not isinstance(app.screen, WhyScreen)


async def test_enter_in_an_empty_review_queue_says_no_job_is_selected(tmp_path: Path) -> None:
    from cockpit_decks import new_deck

    deck = new_deck(tmp_path / "deck", [{"id": "hello", "command": ["true"]}])
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        assert isinstance(app.screen, ReviewScreen) and app.screen.items == []
        await pilot.press("enter")
        await wait_until(pilot, lambda: [n.message for n in app._notifications] == ["no job selected"],
                         what="Enter to say there is nothing to open")
        assert isinstance(app.screen, ReviewScreen)
