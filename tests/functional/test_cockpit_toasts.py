"""Toasts at 80x24: none covers a dialog's buttons, and a path in one breaks at its separators, never in a name."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pytest
from textual.geometry import Region

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.confirm_screen import ConfirmScreen
from jobdeck.cockpit.new_job_screen import NewJobScreen
from jobdeck.cockpit.reason_screen import ReasonScreen
from jobdeck.cockpit.toast_text import toast_text_width
from cockpit_decks import NOW, busy_deck, new_deck, run, toast_said, wait_until

pytestmark = pytest.mark.anyio


def drawn_at(app, region: Region) -> set[str]:
    """The kinds of widget drawn on each cell of ``region`` (clipped to the screen), as the operator sees them."""
    found = set()
    for y in range(max(region.y, 0), min(region.bottom, app.size.height)):
        for x in range(max(region.x, 0), min(region.right, app.size.width)):
            widget, _ = app.screen.get_widget_at(x, y)
            found |= {type(node).__name__ for node in widget.ancestors_with_self}
    return found


def toasts_shown(app) -> bool:
    return "Toast" in drawn_at(app, app.screen.region)


@pytest.mark.parametrize(("key", "dialog"), [("R", ReasonScreen), ("x", ConfirmScreen), ("n", NewJobScreen)])
async def test_at_80x24_no_toast_covers_a_dialog(tmp_path: Path, key: str, dialog: type) -> None:
    deck = busy_deck(tmp_path / "deck")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        assert app.screen.board.select("report")  # in review: pin does not apply, and says so in a toast
        await pilot.press("P", "P", key)  # two error toasts of four lines and a title each, then the dialog
        assert isinstance(app.screen, dialog)
        await wait_until(pilot, lambda: len(app.screen.query("Toast")) == 2 and toasts_shown(app),
                         what="the toasts over the dialog")
        await pilot.pause()
        box = app.screen.query_one(".dialog")
        assert "Toast" not in drawn_at(app, box.region)
        for button in app.screen.query("Button"):
            if button.region.bottom <= box.region.bottom:  # (the new-job form scrolls to its buttons)
                assert drawn_at(app, button.region) <= {"Button", *(type(n).__name__ for n in button.ancestors)}


async def test_a_path_in_a_toast_breaks_after_a_separator_never_inside_a_name(tmp_path: Path) -> None:
    # the deck's directory name spans the point where a 36-cell line would fold the path
    fold = toast_text_width(80)
    pad = (fold - 10 - len(str(tmp_path)) - 2) % fold or fold
    deck = busy_deck(tmp_path / ("p" * pad) / "deck-of-the-night-shift")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        assert app.screen.board.select("report")
        await pilot.press("Y")
        await wait_until(pilot, lambda: app.screen.query("Toast"), what="the toast")
        await pilot.pause()
        toast = app.screen.query_one("Toast")
        drawn = [strip.text.strip("▌ ") for strip in toast.render_lines(Region(0, 0, *toast.outer_size))]
        lines = [line for line in drawn if line]  # (the padding above and below)
        assert lines[0].startswith("copied")
        path = "".join([lines[0].removeprefix("copied").lstrip(), *lines[1:]])
        assert path == str(app.model.output_path("report"))
        assert len(lines) > 2 and all(line.endswith("/") for line in lines[:-1] if line != "copied"), lines
        names = {name for line in lines for name in line.split("/")}
        assert {"deck-of-the-night-shift", "report", "output"} <= names


@pytest.mark.parametrize("width", [60, 80, 121, 200])
async def test_the_toast_holds_as_many_cells_a_line_as_the_cockpit_fits_its_text_to(tmp_path: Path,
                                                                                    width: int) -> None:
    deck = busy_deck(tmp_path / "deck")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(width, 30), notifications=True) as pilot:
        app.notify("x")
        await wait_until(pilot, lambda: app.screen.query("Toast"), what="the toast")
        await pilot.pause()
        assert app.screen.query_one("Toast").content_region.width == toast_text_width(width)


def screen_rows(app) -> list[str]:
    """The screen's text as the terminal gets it: a dialog over the screens beneath it, which show through its
    translucent background (Textual draws it so; no public call returns it as text)."""
    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, record=True, file=io.StringIO(),
                      force_terminal=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False).splitlines()


async def only_whole_toasts_beside_the_dialog(app, pilot, key: str) -> None:
    """The newest toast is drawn whole below the dialog ``key`` opened, any other drawn is whole too, and nothing of
    a toast shows anywhere else: the screen beneath shows through around the dialog, as it does with no toasts."""
    box = app.screen.query_one(".dialog").region
    toasts = list(app.screen.query("Toast"))
    shown = [toast for toast in toasts if toast.parent.display]
    assert shown and shown[-1] is toasts[-1]
    for toast in shown:
        assert app.screen.region.contains_region(toast.region) and not toast.region.overlaps(box), toast.region
    area = Region.from_union([toast.region for toast in shown])
    with_toasts = screen_rows(app)
    app.clear_notifications()
    await pilot.press("escape")  # the same dialog again, no toast anywhere
    await pilot.press(key)
    await wait_until(pilot, lambda: app.screen.query(".dialog"), what="the dialog again")
    await pilot.pause()
    assert not app.screen_stack[0].query("Toast")
    moved = app.screen.query_one(".dialog").region  # (centred in the whole screen now)
    for y, (row, bare) in enumerate(zip(with_toasts, screen_rows(app))):
        outside = [x for x in range(len(row)) if not any(r.contains(x, y) for r in (area, box, moved))]
        assert [row[x] for x in outside] == [bare[x] for x in outside], \
            f"row {y} shows toast text beside the toasts in view: {row!r} ({bare!r} without toasts)"


async def test_a_toast_too_tall_for_the_rows_below_a_question_is_shown_whole(request) -> None:
    long_id = "a-very-long-job-identifier-that-goes-on-and-on-past-any-column-x"
    # a deck at a short path (/tmp/jd…/deck): the toast then takes five lines at 60 wide; under a deep one the path
    # alone would take more rows than a 60x20 screen leaves beside the question
    root = Path(tempfile.mkdtemp(prefix="jd", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(root))
    deck = new_deck(root / "deck", [{"id": long_id, "command": ["false"]}])
    run(deck, long_id, NOW - 60, 1.0, "failed", reason="exit code 1", exit_code=1)
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(60, 20), notifications=True) as pilot:
        assert app.screen.board.select(long_id)
        await pilot.press("Y", "t")  # the output's path, five lines, then the run-now question
        assert isinstance(app.screen, ConfirmScreen)
        await wait_until(pilot, lambda: app.screen.query("Toast"), what="the toast")
        await pilot.pause()
        await only_whole_toasts_beside_the_dialog(app, pilot, "t")


async def test_over_a_question_the_newest_toast_shows_whole_and_none_shows_through(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\nfrobnicate = "f9"\nretry = "q"\n')  # two problems: two toasts, a tall one first
    monkeypatch.setenv("JOBDECK_KEYS", str(keys))
    deck = busy_deck(tmp_path / "deck")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        assert app.screen.board.select("report")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await wait_until(pilot, lambda: len(app.screen.query("Toast")) == 2, what="both toasts")
        await pilot.pause()
        assert "retry = \"q\"" in toast_said(str(list(app.screen.query("Toast"))[-1].render()))
        await only_whole_toasts_beside_the_dialog(app, pilot, "x")
