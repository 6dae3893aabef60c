"""Finding the deck: --deck, then $JOBDECK_DECK, then the nearest ancestor holding jobs.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TWO_JOBS, RunCli
from jobdeck.state.deck import Deck, find_deck, init_deck
from jobdeck.state.errors import AttemptRefused, DeckNotFound, JobdeckError


@pytest.fixture
def decks(tmp_path: Path) -> dict[str, Deck]:
    """Three decks: outer, one nested inside it, and one elsewhere."""
    outer = init_deck(tmp_path / "outer", TWO_JOBS)
    inner = init_deck(tmp_path / "outer" / "projects" / "inner", TWO_JOBS)
    other = init_deck(tmp_path / "other", TWO_JOBS)
    return {"outer": outer, "inner": inner, "other": other}


def test_explicit_deck_wins_over_environment_and_ancestors(decks: dict[str, Deck]) -> None:
    found = find_deck(decks["other"].root, cwd=decks["inner"].root,
                      environ={"JOBDECK_DECK": str(decks["outer"].root)})
    assert found.root == decks["other"].root


def test_environment_wins_over_ancestors(decks: dict[str, Deck]) -> None:
    found = find_deck(None, cwd=decks["inner"].root, environ={"JOBDECK_DECK": str(decks["other"].root)})
    assert found.root == decks["other"].root


def test_nearest_ancestor_wins(decks: dict[str, Deck]) -> None:
    deep = decks["inner"].root / "workspaces" / "default" / "inbox"
    assert find_deck(None, cwd=deep, environ={}).root == decks["inner"].root
    between = decks["outer"].root / "projects"
    assert find_deck(None, cwd=between, environ={}).root == decks["outer"].root
    assert find_deck(None, cwd=decks["outer"].root, environ={}).root == decks["outer"].root


def test_empty_environment_variable_is_ignored(decks: dict[str, Deck]) -> None:
    assert find_deck(None, cwd=decks["inner"].root, environ={"JOBDECK_DECK": ""}).root == decks["inner"].root


def test_named_directory_without_jobs_json_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DeckNotFound, match="--deck .*: no jobs.json there"):
        find_deck(tmp_path, cwd=tmp_path, environ={})
    with pytest.raises(DeckNotFound, match="JOBDECK_DECK .*: no jobs.json there"):
        find_deck(None, cwd=tmp_path, environ={"JOBDECK_DECK": str(tmp_path / "missing")})


def test_paths_outside_the_deck_are_refused(decks: dict[str, Deck]) -> None:
    deck = decks["outer"]
    assert deck.attempt_dir("default", "job-1", 2) == deck.root / "workspaces/default/runs/job-1/2"
    for workspace, job in (("..", "x"), ("default", "../../x"), ("default", ".hidden"), ("a/b", "x")):
        with pytest.raises(JobdeckError):
            deck.attempt_dir(workspace, job, 1)
    (deck.workspaces_dir / "escape").symlink_to(decks["other"].root)
    with pytest.raises(AttemptRefused, match="leads outside the deck"):
        deck.workspace_dir("escape")


def test_cli_finds_the_deck_from_a_subdirectory_and_from_the_environment(
        decks: dict[str, Deck], cli: RunCli, tmp_path: Path) -> None:
    inbox = decks["inner"].root / "workspaces" / "default" / "inbox"
    from_subdir = cli("validate", cwd=inbox)
    from_env = cli("validate", cwd=tmp_path, env={"JOBDECK_DECK": str(decks["other"].root)})
    assert from_subdir.stdout.startswith(f"{decks['inner'].spec_path}: valid"), from_subdir.stderr
    assert from_env.stdout.startswith(f"{decks['other'].spec_path}: valid"), from_env.stderr
