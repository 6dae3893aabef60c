"""The deck's format marker: a deck a newer jobdeck wrote is refused, never folded by guesswork."""

from __future__ import annotations

import json
import stat

import pytest

from jobdeck.state.deck import DECK_FORMAT, Deck
from tests.conftest import RunCli


def _marker(deck: Deck) -> dict[str, object]:
    return json.loads(deck.format_path.read_bytes())


def test_a_new_deck_is_marked_private_with_this_format(deck: Deck) -> None:
    marker = _marker(deck)
    assert marker["format"] == DECK_FORMAT
    assert str(marker["written_by"]).startswith("jobdeck ")
    assert stat.S_IMODE(deck.format_path.stat().st_mode) == 0o600


@pytest.mark.parametrize("command", [
    ["ls"], ["ls", "--json"], ["show", "hello"], ["events"], ["pause", "hello"], ["run", "--once"], ["status"],
    ["log", "rotate"],
])
def test_every_command_refuses_a_deck_a_newer_jobdeck_wrote(deck: Deck, cli: RunCli, command: list[str]) -> None:
    """Its records could mean what this jobdeck does not know: nothing is read into a board, nothing written."""
    assert cli("--deck", str(deck.root), "run", "--once").returncode == 0
    deck.format_path.write_text(json.dumps({"format": DECK_FORMAT + 1, "written_by": "jobdeck 9.0\x1b[2J"}))
    log = deck.events_path.read_bytes()

    done = cli("--deck", str(deck.root), *command)

    assert done.returncode == 2, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert f"is in deck format {DECK_FORMAT + 1}, written by jobdeck 9.0" in lines[0]
    assert f"knows formats up to {DECK_FORMAT}" in lines[0] and "upgrade jobdeck" in lines[0]
    assert "\x1b" not in done.stderr  # the marker's text is the deck's, not ours: inert
    assert deck.events_path.read_bytes() == log


def test_a_marker_that_is_not_one_is_named(deck: Deck, cli: RunCli) -> None:
    deck.format_path.write_text("<<<<<<< HEAD\n")
    done = cli("--deck", str(deck.root), "ls")
    assert done.returncode == 2
    assert done.stderr.startswith(f"jobdeck: {deck.format_path} is not a deck format marker (hint: ")


def test_an_empty_marker_left_by_a_crash_is_no_marker(deck: Deck, cli: RunCli) -> None:
    """A power cut as the marker was first written leaves it empty: the deck is read as unmarked, not refused."""
    deck.format_path.write_bytes(b"")
    assert cli("--deck", str(deck.root), "ls").returncode == 0
    assert cli("--deck", str(deck.root), "pause", "hello").returncode == 0
    assert _marker(deck)["format"] == DECK_FORMAT


def test_an_unmarked_deck_is_marked_by_its_first_write_and_never_by_a_read(deck: Deck, cli: RunCli) -> None:
    """A deck older jobdecks made has no marker: reading it (a read-only deck, say) leaves none; writing marks it."""
    deck.format_path.unlink()
    for command in (["ls"], ["show", "hello"], ["status"], ["events"]):
        assert cli("--deck", str(deck.root), *command).returncode == 0
    assert not deck.format_path.exists()

    assert cli("--deck", str(deck.root), "pause", "hello").returncode == 0

    assert _marker(deck)["format"] == DECK_FORMAT


def test_a_rotation_marks_the_deck_before_its_first_segment(deck: Deck, cli: RunCli) -> None:
    """A segmented log is what a jobdeck of format 1 would misread: `log rotate` alone (no commit) marks it."""
    assert cli("--deck", str(deck.root), "pause", "hello").returncode == 0
    deck.format_path.unlink()

    done = cli("--deck", str(deck.root), "log", "rotate")

    assert done.returncode == 0, done.stderr
    assert any((deck.state_dir / "log").iterdir())
    assert _marker(deck)["format"] == DECK_FORMAT
