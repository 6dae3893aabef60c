"""`why`, `pin` and `run --job --wait` say what waits for the operator in one phrasing, each with its command.

They were three wordings of one fact: `why` said "paused (`jobdeck resume` lets it start)", `pin` "it is
paused: it starts once resumed (`jobdeck resume pub`)" and `run --job --wait` "pub is paused (`jobdeck resume
pub`)"; a held deck was "held by ... since ...: maintenance" in one and "held" in another.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.functional.runner_kit import env_for, jobdeck, make_deck, wait_for

FACTS = ["is paused (`jobdeck resume pub`)", "is high-risk and waits for approval (`jobdeck approve pub`)"]
DECK_HELD = r"the whole deck is held by \S+@\S+ since \d{4}-\d\d-\d\d \d\d:\d\d UTC: maintenance \(`jobdeck release`\)"


def test_why_pin_and_run_job_wait_say_each_blocker_in_the_same_words(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "up", "command": ["true"]},
                                {"id": "pub", "command": ["true"], "risk": "high", "paused": True,
                                 "depends_on": ["up"]}])
    jobdeck(deck, "hold", "--reason", "maintenance", check=True)

    why = jobdeck(deck, "why", "pub", check=True).stdout.splitlines()
    assert why[0] == "pub: it cannot start yet"
    assert re.fullmatch(rf"  - {DECK_HELD}", why[1]), why[1]
    assert why[2:5] == [f"  - {FACTS[0]}", f"  - {FACTS[1]}", "  - depends on up, which is in the backlog"]

    pinned = jobdeck(deck, "pin", "pub", check=True).stderr.splitlines()
    assert re.fullmatch(rf"jobdeck: pub: {DECK_HELD}", pinned[0]), pinned[0]
    assert pinned[1:] == [f"jobdeck: pub: it {FACTS[0]}", f"jobdeck: pub: it {FACTS[1]}",
                          "jobdeck: pub: it depends on up, which is in the backlog"]
    jobdeck(deck, "release", "pub", check=True)

    said = tmp_path / "stderr.txt"
    with open(said, "w") as sink:
        run = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--job", "pub", "--wait"], cwd=deck,
                               env=env_for(deck), stdout=subprocess.DEVNULL, stderr=sink, text=True)
    try:
        waits = [f"jobdeck run: job 'pub' waits for you: pub {fact}" for fact in FACTS]
        wait_for(lambda: all(line in said.read_text() for line in waits) and "the whole deck" in said.read_text(),
                 timeout=30, what="what waits for the operator")
    finally:
        run.terminate()
        run.wait(30)
    lines = said.read_text().splitlines()
    assert any(re.fullmatch(rf"jobdeck run: job 'pub' waits for you: {DECK_HELD}", line) for line in lines), lines
    assert not any("depends on" in line for line in lines)  # a dependency waits for its job, not for you
