"""The cockpit on a deck another user owns (root looking at an operator's deck): it shows the deck, and
refuses every action at the key, those that wait out an undo too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cockpit_decks import NOW, busy_deck, events, toast_said
from jobdeck.cockpit.app import make_app

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to give the deck to another user")]
OTHER = 64001  # a throwaway uid: no account is needed to own files


def given_away(root: Path):
    deck = busy_deck(root)
    for folder, folders, files in os.walk(deck.state_dir):
        for name in [folder, *(os.path.join(folder, entry) for entry in folders + files)]:
            os.lchown(name, OTHER, OTHER)
    return deck


@pytest.mark.parametrize(("job", "key", "action"), [("lint", "r", "retry"), ("report", "a", "approve")])
async def test_an_action_that_waits_out_its_undo_is_refused_at_the_key(tmp_path: Path, job: str, key: str,
                                                                        action: str) -> None:
    deck = given_away(tmp_path / "deck")
    before = len(events(deck))
    app = make_app(deck.root, fast_start=False, watch=False, now=NOW, undo_seconds=30)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.screen.board.select(job)
        await pilot.press(key)
        await pilot.pause()
        assert app.undo.pending is None  # nothing waits to be written at quit
        refused = [n for n in app._notifications if n.severity == "error"]
        assert len(refused) == 1 and refused[0].title == f"cannot {action}"
        assert "belongs to uid 64001, not to root" in toast_said(refused[0].message)
        await pilot.press("q")
    assert len(events(deck)) == before
    assert {os.stat(os.path.join(folder, name)).st_uid for folder, _, files in os.walk(deck.state_dir)
            for name in files} == {OTHER}  # and no file of root's was left in the deck
