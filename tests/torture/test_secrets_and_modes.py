"""A canary key through every agent kind, then a search of the whole deck for it; file modes.

The key reaches each agent the documented way (an ``{"env": NAME}`` reference),
and each agent leaks it on purpose: the shell job prints it on stdout and
stderr, the CLI stand-in echoes it, the model "says" it. Expected: 0 bytes of
the canary anywhere under the deck, while the server really received it (so
the test can fail). Every file jobdeck creates is 0600 and every directory
0700; files an agent creates itself follow the runner's umask — they are
reported separately and must sit under a 0700 directory of the deck.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

from tests.fixtures.llm_server import LLMServer, Reply
from tests.functional.runner_kit import make_deck
from tests.torture.kit import ROOT, board, env_for, write_figure

STAND_INS = ROOT / "tests" / "fixtures" / "bin"


def test_canary_key_never_lands_under_the_deck_and_modes_are_private(tmp_path: Path) -> None:
    canary = "sk-canary-" + secrets.token_hex(16)
    with LLMServer() as server:
        server.script("canary-model", Reply([f"the key is {canary[:12]}", f"{canary[12:]} - oops"]))
        jobs = [
            {"id": "shell-leak", "command": ["sh", "-c", 'echo "key=$API_KEY"; echo "err=$API_KEY" >&2; exit 3'],
             "env": {"API_KEY": {"env": "CANARY_KEY"}}, "retry": {"max_attempts": 1}},
            {"id": "shell-ok", "command": ["sh", "-c", 'printf "%s" "$API_KEY" | wc -c; touch made-by-agent'],
             "env": {"API_KEY": {"env": "CANARY_KEY"}}},
            {"id": "cli-leak", "agent": "cc", "prompt": "use your key"},
            {"id": "llm-leak", "agent": "local", "model": "openai/canary-model", "prompt": "what is your key?"},
        ]
        agents = {
            "cc": {"type": "claude", "env": {"ANTHROPIC_API_KEY": {"env": "CANARY_KEY"}}},
            "local": {"type": "llm", "api_base": server.base_url, "api_key": {"env": "CANARY_KEY"},
                      "options": {"retry_delay": 0.01}},
        }
        deck = make_deck(tmp_path, jobs, agents=agents)
        env = env_for(deck, CANARY_KEY=canary, STAND_IN_ECHO="ANTHROPIC_API_KEY",
                      PATH=f"{STAND_INS}{os.pathsep}{os.environ['PATH']}")
        done = subprocess.run([sys.executable, "-m", "jobdeck", "run", "--once", "--json"], cwd=deck, env=env,
                              capture_output=True, text=True, timeout=180)
        received = server.calls("canary-model")
    states = board(deck)
    assert set(states) == {j["id"] for j in jobs}, done.stderr
    assert canary not in done.stdout and canary not in done.stderr, "the canary reached the runner's own output"
    assert received, "the model was never called"
    assert any(canary in (call.authorization or "") for call in received), \
        "the key did not reach the server: the test proves nothing"
    assert states["shell-ok"].status.value == "done"
    runs = deck / "workspaces" / "default" / "runs"
    assert (runs / "shell-ok" / "1" / "output").read_text().strip() == str(len(canary)), "the env ref was not resolved"
    assert "key=" in (runs / "shell-leak" / "1" / "output").read_text(), "the leaking job printed nothing"
    assert '"echo"' in (runs / "cli-leak" / "1" / "output").read_text(), "the CLI stand-in did not echo the key"
    hits = []
    scanned = 0
    needles = (canary.encode(), canary[10:].encode())  # the whole key and its secret part
    for path in deck.rglob("*"):
        if path.is_file():
            scanned += 1
            data = path.read_bytes()
            if any(n in data for n in needles):
                hits.append(str(path.relative_to(deck)))
    assert hits == [], f"the canary was found in {hits}"
    wrong, agent_made = [], []
    for path in [deck, *deck.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode == want:
            continue
        relative = str(path.relative_to(deck))
        if relative.startswith("workspaces/default/") and "/runs/" not in f"/{relative}" and path.is_file():
            agent_made.append(f"{relative} {mode:o}")  # the agent's own file, in its working directory
            continue
        wrong.append(f"{relative} {mode:o}")
    assert wrong == [], f"not private: {wrong}"
    assert agent_made == ["workspaces/default/made-by-agent 644"] or agent_made == ["workspaces/default/made-by-agent 600"], agent_made
    assert stat.S_IMODE((deck / "workspaces").stat().st_mode) == 0o700  # so agents' files are not reachable
    write_figure("secrets_and_modes", {"agent_kinds": 3, "files_scanned": scanned, "canary_hits": len(hits),
                                       "not_private": len(wrong), "agent_made_files": len(agent_made)})
