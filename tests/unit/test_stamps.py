"""What a cached verdict is stamped with: the code loaded and the environment it ran in (state/stamps.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobdeck.state.cardcache import cached_cards, save_cards
from jobdeck.state.deck import init_deck


def stamp_in(cwd: Path, **env: str) -> str:
    """environment_stamp() of a fresh interpreter started in ``cwd`` with ``env`` added."""
    done = subprocess.run([sys.executable, "-c", "from jobdeck.state.stamps import environment_stamp as s; print(s())"],
                          cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_working_directory_counts_by_the_distributions_it_holds_not_by_its_name(tmp_path: Path) -> None:
    plain, other, plugins = (tmp_path / name for name in ("plain", "other", "plugins"))
    for folder in (plain, other, plugins):
        folder.mkdir()
    (other / "notes.txt").write_text("busy")  # a working directory that changes does not matter
    (plugins / "someplugin-0.1.dist-info").mkdir()  # its entry points would reach the loader
    assert stamp_in(plain) == stamp_in(other) != stamp_in(plugins)


def test_time_zones_count_down_to_the_folders_of_the_zone_directories(tmp_path: Path) -> None:
    zones = tmp_path / "zones"
    (zones / "Mars").mkdir(parents=True)
    (zones / "Mars" / "Base").write_bytes(Path("/usr/share/zoneinfo/UTC").read_bytes())
    before = stamp_in(tmp_path, PYTHONTZPATH=str(zones))
    assert stamp_in(tmp_path, PYTHONTZPATH=str(zones)) == before
    (zones / "Mars" / "Base").unlink()  # a zone a jobs.json may name is gone: the loader would refuse it now
    assert stamp_in(tmp_path, PYTHONTZPATH=str(zones)) != before


def test_a_process_that_loads_the_loader_takes_both_stamps_then() -> None:
    done = subprocess.run([sys.executable, "-c", "import jobdeck.state.loader\nfrom jobdeck.state import stamps\n"
                           "print(stamps.code_stamp.cache_info().currsize, stamps.environment_stamp.cache_info().currsize)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "1"]  # taken as the code was loaded, not at the first verdict


def test_cards_saved_later_than_now_are_not_used(tmp_path: Path) -> None:
    """The clock stepped back since they were saved: a next fire or retry time may read differently."""
    deck = init_deck(tmp_path / "deck", json.dumps({"jobs": [{"id": "a", "command": ["true"]}]}).encode())
    from jobdeck.state.board import open_store
    from jobdeck.state.cardcache import spec_digest

    with open_store(deck) as store:
        offset, last_hash = store.log.offset, store.log.last_hash
    card = {"id": "a", "column": "backlog", "workspace": "default", "labels": []}
    save_cards(deck, [card], spec=spec_digest(deck.spec_path.read_bytes()), offset=offset, last_hash=last_hash,
               now=1000.0)
    assert cached_cards(deck, 1000.5) is not None
    assert cached_cards(deck, 999.0) is None
