"""`jobdeck pin`, `hold` and `release` tell the operator what they replaced, what still keeps a job back, and why.

Decks are real directories and every command a real `jobdeck` process; the decision service's hold comes from a
real `jobdeck run --once`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import RunCli
from jobdeck.state.board import open_store
from jobdeck.state.deck import Deck, init_deck

SINCE = r"since \d{4}-\d\d-\d\d \d\d:\d\d UTC"


def make_deck(root: Path, jobs: list[dict[str, Any]], **spec: Any) -> Deck:
    document = {**spec, "jobs": [{"command": ["true"], **job} for job in jobs]}
    return init_deck(root, json.dumps(document, indent=1).encode())


def flags(cli: RunCli, deck: Deck) -> dict[str, list[str]]:
    return {card["id"]: card["flags"] for card in json.loads(cli("ls", "--json", cwd=deck.root).stdout)}


def test_a_pin_replacing_a_hold_and_a_hold_replacing_a_pin_say_whose_it_was(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", [{"id": "a"}])
    held = cli("hold", "a", "--reason", "site down", cwd=deck.root)
    assert held.returncode == 0 and held.stderr == ""  # nothing replaced: nothing more to say
    pinned = cli("pin", "a", cwd=deck.root)
    assert pinned.returncode == 0
    assert re.fullmatch(r"pinned a \(event 2\)\n", pinned.stdout)  # stdout stays one line per event, for scripts
    assert re.fullmatch(rf"jobdeck: a: it replaces the hold by \S+@\S+ {SINCE}: site down\n", pinned.stderr), \
        pinned.stderr
    assert flags(cli, deck)["a"] == ["pinned to start next"]
    again = cli("hold", "a", "--json", cwd=deck.root)
    assert again.returncode == 0 and json.loads(again.stdout)["type"] == "held"
    assert re.fullmatch(rf"jobdeck: a: it replaces the pin by \S+@\S+ {SINCE}\n", again.stderr), again.stderr


def test_a_pin_says_what_still_keeps_the_job_from_starting(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", [{"id": "free"}, {"id": "risky", "risk": "high"},
                                      {"id": "after", "depends_on": ["free"]}, {"id": "still", "paused": True},
                                      {"id": "nightly", "schedule": "0 3 * * *"}])
    free = cli("pin", "free", cwd=deck.root)
    assert free.returncode == 0 and free.stderr == ""  # it starts next: nothing to add
    told = {}
    for job in ("risky", "after", "still", "nightly"):
        pinned = cli("pin", job, cwd=deck.root)
        assert pinned.returncode == 0 and pinned.stdout.startswith(f"pinned {job} (event ")  # the pin is recorded
        told[job] = pinned.stderr
    nightly = told.pop("nightly")  # its next fire, as `why` names it: "03:00 UTC", or "Dec 08 03:00 UTC"
    assert re.fullmatch(r"jobdeck: nightly: it waits for its schedule \(0 3 \* \* \*\): next fire "
                        r"(\w{3} \d\d )?03:00 UTC; a pin starts no cycle \(`jobdeck trigger nightly` starts a cycle "
                        r"now\)\n", nightly), nightly
    assert told == {
        "risky": "jobdeck: risky: it is high-risk and waits for approval (`jobdeck approve risky`)\n",
        "after": "jobdeck: after: it depends on free, which is in the backlog\n",
        "still": "jobdeck: still: it is paused (`jobdeck resume still`)\n",
    }
    assert cli("release", "free", cwd=deck.root).returncode == 0
    assert cli("hold", "--reason", "maintenance", cwd=deck.root).returncode == 0
    on_held_deck = cli("pin", "free", cwd=deck.root)
    assert on_held_deck.returncode == 0
    assert re.fullmatch(rf"jobdeck: free: the whole deck is held by \S+@\S+ {SINCE}: maintenance "
                        r"\(`jobdeck release`\)\n", on_held_deck.stderr), on_held_deck.stderr


def test_release_of_a_job_the_decision_service_holds_says_so_and_how_to_start_it(tmp_path: Path,
                                                                                 cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", [{"id": "waiting", "risk": "medium"}, {"id": "draft1", "risk": "medium"}],
                     decide={"mode": "live", "review_capacity": 1})
    assert cli("run", "--once", "--job", "waiting", "--quiet", cwd=deck.root).returncode == 1  # its output: review
    assert cli("run", "--once", "--quiet", cwd=deck.root).returncode == 0
    assert flags(cli, deck)["draft1"] == ["⏸ reviews"]
    refused = cli("release", "draft1", cwd=deck.root)
    assert refused.returncode == 1
    assert refused.stderr == (
        "jobdeck: cannot release job 'draft1': the operator did not pin or hold it; the decision service holds it: "
        "review queue 1 of capacity 1, and its output goes to review (hint: `jobdeck pin draft1` starts it anyway)\n")


def test_release_of_a_job_on_a_held_deck_points_at_the_deck(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", [{"id": "a"}])
    assert cli("hold", cwd=deck.root).returncode == 0
    refused = cli("release", "a", cwd=deck.root)
    assert refused.returncode == 1
    assert re.fullmatch(rf"jobdeck: cannot release job 'a': the operator did not pin or hold it; the whole deck is "
                        rf"held by \S+@\S+ {SINCE} \(hint: `jobdeck release` with no id releases the deck\)\n",
                        refused.stderr), refused.stderr


def test_the_reason_of_a_hold_or_a_pin_is_shown_wherever_the_override_is(tmp_path: Path, cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", [{"id": "w"}, {"id": "p"}])
    assert cli("hold", "w", "--reason", "site down", cwd=deck.root).returncode == 0
    assert cli("pin", "p", "--reason", "customer\x1b[31m waiting", cwd=deck.root).returncode == 0
    assert flags(cli, deck) == {"w": ["held by the operator: site down"],
                                "p": ["pinned to start next: customer\x1b[31m waiting"]}
    rows = {line.split()[0]: line for line in cli("ls", cwd=deck.root).stdout.splitlines()[1:]}
    assert rows["w"].rstrip().endswith("held by the operator: site down")
    assert "\x1b" not in rows["p"] and rows["p"].rstrip().endswith("waiting")  # the operator's text is inert
    shown = cli("show", "w", cwd=deck.root).stdout
    assert shown.splitlines()[1] == "  held by the operator: site down"
    why = cli("why", "w", cwd=deck.root).stdout.splitlines()
    assert why[1] == "  - is held by the operator: site down (`jobdeck release w`)"
    assert "  - held by the operator: site down" in why[3:]  # the service's reason for its hold says it too
    state = json.loads(cli("show", "w", "--json", cwd=deck.root).stdout)["state"]
    assert (state["override"], state["override_reason"]) == ("hold", "site down") and "@" in state["override_by"]
    assert cli("release", "w", cwd=deck.root).returncode == 0
    assert flags(cli, deck)["w"] == []
    assert "override_reason" not in json.loads(cli("show", "w", "--json", cwd=deck.root).stdout)["state"]


def test_board_json_keeps_who_held_a_job_and_why_and_reads_a_snapshot_from_before_it_did(tmp_path: Path,
                                                                                        cli: RunCli) -> None:
    deck = make_deck(tmp_path / "d", [{"id": "w"}])
    assert cli("hold", "w", "--reason", "site down", cwd=deck.root).returncode == 0
    with open_store(deck) as store:
        store.write_snapshot()
    with open_store(deck) as store:
        assert store.resumed_at == 1  # from board.json, not folded from the log
        held = store.board.state("w")
        assert (held.override, held.override_reason) == ("hold", "site down") and "@" in (held.override_by or "")
    snapshot = json.loads(deck.board_path.read_text())
    for key in ("override_by", "override_reason"):  # as a board.json written before these fields were kept
        del snapshot["states"]["w"][key]
    deck.board_path.write_text(json.dumps(snapshot))
    with open_store(deck) as store:
        assert store.resumed_at == 1
        assert (store.board.state("w").override, store.board.state("w").override_reason) == ("hold", None)
    assert flags(cli, deck)["w"] == ["held by the operator"]
    pinned = cli("pin", "w", cwd=deck.root)  # whose the hold was is not known: when it was still is
    assert re.fullmatch(rf"jobdeck: w: it replaces the hold {SINCE}\n", pinned.stderr), pinned.stderr
