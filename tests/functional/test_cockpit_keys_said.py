"""The cockpit's own texts name its keys as keys.toml maps them, never the default key or a CLI command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobdeck.cockpit.app import make_app
from jobdeck.cockpit.confirm_screen import ConfirmScreen
from jobdeck.cockpit.detail_screen import DetailScreen
from jobdeck.cockpit.review_screen import ReviewScreen
from cockpit_decks import JOBS, NOW, busy_deck, events, new_deck, toast_said, wait_until

pytestmark = pytest.mark.anyio


def keys_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remaps: str) -> None:
    """A keys.toml of ``remaps`` (its [keys] table's lines) read by every cockpit the test makes."""
    keys = tmp_path / "keys.toml"
    keys.write_text(f"[keys]\n{remaps}")
    monkeypatch.setenv("JOBDECK_KEYS", str(keys))


def cockpit_with_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remaps: str,
                      jobs: list[dict[str, Any]] = JOBS, **spec: Any) -> tuple[Any, Any]:
    """The cockpit of a new deck (``jobs``, ``spec``'s other fields) with a keys.toml of ``remaps`` in use."""
    keys_in_use(tmp_path, monkeypatch, remaps)
    deck = new_deck(tmp_path / "deck", jobs, **spec)
    return deck, make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=60)


def toasts(app: Any) -> list[str]:
    return [toast_said(n.message) for n in app._notifications]


async def test_the_undo_toast_names_the_undo_key_keys_toml_gives_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    deck, app = cockpit_with_keys(tmp_path, monkeypatch, 'undo = "ctrl+z"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.board.select("fetch")
        await pilot.press("p")
        await wait_until(pilot, lambda: "fetch paused — ^z to undo" in toasts(app), what="the pause's toast")
        await pilot.press("ctrl+z")
        await wait_until(pilot, lambda: events(deck)[-1]["type"] == "resumed", what="the undo")


async def test_the_deck_hold_dialog_names_its_key_as_mapped_and_no_command(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    deck, app = cockpit_with_keys(tmp_path, monkeypatch, 'hold_deck = "ctrl+d"\n')
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "released (^d again);" in app.screen.detail
        assert "jobdeck" not in app.screen.detail and "D again" not in app.screen.detail


async def test_nothing_to_accept_names_the_accept_key_as_mapped(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    deck, app = cockpit_with_keys(tmp_path, monkeypatch, 'accept = "f6"\n',
                                  decide={"mode": "live", "budget": {"per_job": 0.01}, "default_cost": 0.05})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f6")
        await wait_until(pilot, lambda: any(n.title == "nothing to accept" for n in app._notifications),
                         what="the warning")
        said = next(toast_said(n.message) for n in app._notifications if n.title == "nothing to accept")
        assert said.startswith("decide.mode is live: f6 accepts"), said


async def test_the_empty_review_queue_names_the_job_keys_as_mapped(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    deck, app = cockpit_with_keys(tmp_path, monkeypatch, 'approve = "ctrl+a"\nreject = "f7"\ncancel = "ctrl+x"\n',
                                  [{"id": "fetch", "command": ["true"]}])  # nothing waits for review
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="the review queue")
        side = str(app.screen.query_one("#review-why").render())
        assert side == "Approve (^a), reject (f7), retry (r) or cancel (^x) the selected job.", side


async def test_the_palette_names_the_keys_as_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.command import CommandList

    def palette_text() -> str:
        lists = app.screen.query(CommandList)
        return " ".join(str(option.prompt) for option in lists.first().options) if lists else ""

    deck, app = cockpit_with_keys(tmp_path, monkeypatch, 'why = "f2"\nhold_deck = "ctrl+d"\n')
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p", *"why")
        await wait_until(pilot, lambda: "the reasons (f2)" in palette_text(), what="why's entry")
        await pilot.press("escape")
        await pilot.press("ctrl+p", *"hold / release the deck")
        await wait_until(pilot, lambda: "or release it (^d)" in palette_text(), what="the deck hold's entry")


async def test_the_details_stderr_key_is_remapped_as_stderr_output_and_named_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_in_use(tmp_path, monkeypatch, 'stderr_output = "f4"\n')
    deck = busy_deck(tmp_path / "deck")
    (deck.attempt_dir("default", "lint", 1) / "stderr.log").write_text("FATAL: no config\n")
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.board.select("lint")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        assert "f4: its stderr" in screen.query_one("#output-title").render().plain
        await pilot.press("f4")
        await wait_until(pilot, lambda: "FATAL: no config" in screen.tail.text, what="the stderr in the pane")


async def test_a_long_ids_toast_breaks_after_a_dash_not_inside_a_word(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    long_id = "crm-enrichment-for-the-accounts-of-northern-europe-daily-refresh"
    assert len(long_id) == 64
    deck, app = cockpit_with_keys(tmp_path, monkeypatch, "", [{"id": long_id, "command": ["true"]}])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.board.select(long_id)
        await pilot.press("y")
        await wait_until(pilot, lambda: any(long_id in n.message.replace("\n", "") for n in app._notifications),
                         what="the copy's toast")
        message = next(n.message for n in app._notifications if long_id in n.message.replace("\n", ""))
        assert message.split("\n") == ["copied", "crm-enrichment-for-the-accounts-of-",
                                        "northern-europe-daily-refresh"]
