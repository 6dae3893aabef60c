"""The CLI's advice said as the cockpit's keys (cockpit/key_advice.py)."""

from __future__ import annotations

import pytest

from jobdeck.cockpit.key_advice import in_keys, without_options

KEYS = {"approve": "a", "reject": "R", "retry": "r", "pause": "p", "trigger": "t", "pin": "P", "hold": "H",
        "release": "u", "hold_deck": "D"}


@pytest.mark.parametrize(("cli", "cockpit"), [
    ("is paused (`jobdeck resume pub`)", "is paused (key p)"),
    ("waits for review (`jobdeck approve pub` or `jobdeck reject pub`)", "waits for review (key a or key R)"),
    ("is held by ana@box (`jobdeck release pub`)", "is held by ana@box (key u)"),
    ("the whole deck is held (`jobdeck release`)", "the whole deck is held (key D)"),
    ("`jobdeck release ID` releases one job", "key u releases one job"),
    ("it is done; `jobdeck trigger` runs it again", "it is done; key t runs it again"),
    ("(hint: `jobdeck pin pub` starts it anyway)", "(hint: key P starts it anyway)"),
    ("and crm waits for `jobdeck approve crm`", "and crm waits for key a on crm"),
])
def test_a_command_the_cockpit_has_a_key_for_is_said_as_the_key(cli: str, cockpit: str) -> None:
    assert in_keys(cli, KEYS, "pub") == cockpit


@pytest.mark.parametrize("cli", [
    "see `jobdeck ls` for the ids",
    "filled only by `jobdeck trigger --input input=...`",
    "restart `jobdeck run`",
])
def test_a_command_with_no_key_or_with_options_keeps_its_cli_wording(cli: str) -> None:
    assert in_keys(cli, KEYS, "pub") == cli


def test_a_remapped_key_is_the_one_said() -> None:
    assert in_keys("(`jobdeck approve pub`)", {**KEYS, "approve": "^a"}, "pub") == "(key ^a)"


def test_an_alternative_that_passes_a_cli_option_is_left_out() -> None:
    assert without_options("pick another id, or pass --replace") == "pick another id"
    assert without_options("declare that job, or remove the dependency") == "declare that job, or remove the dependency"
