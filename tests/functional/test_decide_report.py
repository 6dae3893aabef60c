"""`jobdeck decisions --report` over a window where the decision service was off: it says so, and measures nothing.

Real decks, a real `jobdeck run --once` in a subprocess, the report read back from the CLI.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from conftest import RunCli
from jobdeck.state.deck import Deck, init_deck

OFF_LINE = "the decision service was off over this window: it decided nothing, so there is nothing to compare"


def spec_bytes(decide: dict[str, Any] | None) -> bytes:
    hour = time.gmtime(time.time() + 3 * 3600).tm_hour  # a window that is closed now
    jobs = [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"], "priority": 2},
            {"id": "night", "command": ["true"], "window": f"{hour:02d}:00-{(hour + 1) % 24:02d}:00"}]
    return json.dumps({**({"decide": decide} if decide is not None else {}), "jobs": jobs}, indent=1).encode()


def run_once(cli: RunCli, deck: Deck) -> None:
    done = cli("run", "--once", "--quiet", cwd=deck.root, timeout=60)
    assert done.returncode == 0, done.stderr


def report(cli: RunCli, deck: Deck) -> tuple[str, dict[str, Any]]:
    text = cli("decisions", "--report", cwd=deck.root)
    data = cli("decisions", "--report", "--json", cwd=deck.root)
    assert text.returncode == data.returncode == 0, text.stderr + data.stderr
    return text.stdout, json.loads(data.stdout)


def test_with_the_service_off_the_report_says_so_and_points_at_shadow_mode(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes(None))  # no decide section: off
    run_once(cli, deck)
    text, data = report(cli, deck)
    lines = text.splitlines()
    assert lines[0] == OFF_LINE
    assert lines[1].startswith('  to measure it without changing the order, turn on shadow mode: "decide": '
                               '{"mode": "shadow"}')
    assert lines[2] == "  (1 deferral for a closed window, which holds in every mode: `jobdeck decisions` lists it)"
    assert lines[3] == "claims: 2"  # what was measured still is: claims, waits, outcomes
    assert "(0%)" not in text and "would have started another job" not in text
    assert "deadlines: not judged" in text and "outcomes: 2 succeeded" in text
    assert data["service_off"] is True and data["claims"] == 2 and data["by_mode"] == {"off": 1}


def test_a_service_turned_on_since_says_its_window_was_off_and_what_comes_next(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes({"mode": "off"}))
    run_once(cli, deck)
    deck.spec_path.write_bytes(spec_bytes({"mode": "shadow"}))  # turned on after those claims
    text, data = report(cli, deck)
    assert text.splitlines()[:2] == [OFF_LINE, "  it is in shadow mode now: the claims to come are compared"]
    assert data["service_off"] is True


def test_decisions_from_an_earlier_mode_are_reported_as_they_were_made(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes({"mode": "shadow"}))
    run_once(cli, deck)
    deck.spec_path.write_bytes(spec_bytes({"mode": "off"}))  # turned off since
    text, data = report(cli, deck)
    assert text.startswith("decisions: 3 (shadow 3); policies ")
    assert "claims: 2; the service would have started another job first in 0 (0%)" in text
    assert OFF_LINE not in text and data["service_off"] is False


def test_a_service_that_is_on_with_nothing_claimed_yet_is_not_called_off(tmp_path: Path, cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes({"mode": "shadow"}))
    text, data = report(cli, deck)
    assert OFF_LINE not in text and data["service_off"] is False and data["claims"] == 0


def test_the_share_it_would_have_differed_counts_only_claims_made_while_it_was_on(tmp_path: Path,
                                                                                   cli: RunCli) -> None:
    deck = init_deck(tmp_path / "d", spec_bytes({"mode": "off"}))
    run_once(cli, deck)  # a and b claimed with the service off: nothing to compare them with
    deck.spec_path.write_bytes(spec_bytes({"mode": "shadow"}))
    assert cli("retry", "a", "b", cwd=deck.root).returncode == 0
    run_once(cli, deck)  # a and b again, each with the shadow's verdict
    text, data = report(cli, deck)
    assert (data["claims"], data["compared"]) == (4, 2)
    assert "claims: 4; the service would have started another job first in 0 (0% of the 2 made while it was on)" \
        in text
