"""Every command works on a deck that is only a jobs.json, as in a fresh clone of a repository.

A repository may keep jobs.json and leave .jobdeck/ and workspaces/ out (they are
state, not spec): nothing has happened yet, and no command may fail for want of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli_env

JOBS = {"jobs": [{"id": "gate", "command": ["echo", "hi"], "risk": "high"},
                 {"id": "after", "command": ["true"], "depends_on": ["gate"]}]}

#: Every command but init and demo (which make decks of their own) and cockpit (tested below).
COMMANDS = [
    ["validate"], ["schema"], ["ls"], ["ls", "--json"], ["show", "gate"], ["logs", "gate"],
    ["add", "--id", "added", "--", "true"], ["edit"], ["approve", "gate"], ["reject", "gate"],
    ["retry", "gate"], ["cancel", "gate"], ["pause", "gate"], ["resume", "gate"], ["trigger", "gate"],
    ["events"], ["events", "gate"], ["audit", "verify"], ["stats"], ["run", "--once"], ["run", "--job", "after"],
    ["gc"], ["gc", "--dry-run", "--verbose", "--json"],
]

#: Runs each command in one interpreter, on a fresh jobs.json-only deck of its own, and reports
#: its exit code, stderr, any exception that escaped main() and what the deck's jobs.json became.
DRIVER = """
import contextlib, io, json, sys, traceback
from pathlib import Path
from jobdeck.cli.main import main
base, jobs, commands = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
results = []
for n, argv in enumerate(commands):
    deck = base / str(n)
    deck.mkdir()
    (deck / "jobs.json").write_text(jobs)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())), contextlib.redirect_stderr(err):
        try:
            code, escaped = main(["--deck", str(deck), *argv]), None
        except SystemExit as exc:
            code, escaped = exc.code, None
        except BaseException:
            code, escaped = None, traceback.format_exc()
    results.append([argv, code, err.getvalue(), escaped, (deck / "jobs.json").read_text()])
print(json.dumps(results))
"""

#: Commands whose answer on such a deck is "no" (exit 1), with its reason.
REFUSED = {"logs gate": (1, "has no attempt"), "retry gate": (1, "it is in the backlog"),
           "resume gate": (1, "it is not paused"), "run --job after": (1, "is in the backlog")}


def test_every_command_works_on_a_deck_that_is_only_a_jobs_json(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path), json.dumps(JOBS), json.dumps(COMMANDS)],
                          env=cli_env({"EDITOR": "sed -i s/true/false/"}), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    for argv, code, stderr, escaped, spec in json.loads(done.stdout):
        command = " ".join(argv)
        assert escaped is None, f"`jobdeck {command}` raised:\n{escaped}"
        want, reason = REFUSED.get(command, (0, ""))
        assert code == want and reason in stderr, f"`jobdeck {command}` exited {code}: {stderr}"
        if command == "edit":
            assert '"false"' in spec, "the edited copy was installed"


@pytest.mark.anyio
async def test_the_cockpit_opens_and_acts_on_a_deck_that_is_only_a_jobs_json(tmp_path: Path) -> None:
    from cockpit_decks import wait_until
    from jobdeck.cockpit.app import make_app

    (tmp_path / "jobs.json").write_text(json.dumps(JOBS))
    app = make_app(tmp_path, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.model.ready, what="the deck to be read")  # painted from a preview
        assert app.screen.board.select("gate")
        await pilot.press("a", "y")  # gate is high risk: its approval asks first
        await pilot.pause()
    log = (tmp_path / ".jobdeck" / "events.jsonl").read_text().splitlines()
    assert [(json.loads(line)["type"], json.loads(line)["job"]) for line in log] == [("approved", "gate")]
