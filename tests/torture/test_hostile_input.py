"""Hostile names and values: job ids, workspace names, inputs, inbox file names, agent output.

Expected: a name that is not a plain id is refused before it becomes a path; a
value substituted into a command reaches the program as one verbatim argument
(never re-parsed by a shell, never starting one); nothing outside the deck is
touched; agent output with control sequences and markup is shown inert.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jobdeck.state.deck import Deck, check_name
from jobdeck.state.errors import JobdeckError, SpecError
from jobdeck.state.loader import parse_spec
from tests.functional.runner_kit import events, make_deck
from tests.torture.kit import ROOT, board, env_for, jobdeck, write_figure

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # the documented rule, written out independently
ATOMS = ["..", ".", "/", "/etc/passwd", "a/../../b", "\x00", ";", "$(touch PWNED)", "`touch PWNED`", "\n",
         "\r", " ", "-rf", "~", "%s%n", "{{input}}", "é", "\u202e", "a" * 65, "x" * 5000, "*", "?", "\\",
         "'", '"', "|", "&", ">out", "<in", "\t", "\x1b[2J", "C:\\", "NUL", "..\\..", "a", "b9", "_", "-"]
SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish", "csh", "tcsh", "busybox"}


def hostile_values(count: int, seed: int) -> list[str]:
    """``count`` strings built from path, shell and terminal metacharacters (plus some plain ids)."""
    rng = random.Random(seed)
    values = list(ATOMS)
    while len(values) < count:
        values.append("".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 4))))
    return values[:count]


def _tree(root: Path, skip: Path) -> dict[str, str]:
    """path -> content hash of every file under root, except under ``skip``."""
    found = {}
    for path in root.rglob("*"):
        if skip in path.parents or path == skip:
            continue
        if path.is_file() and not path.is_symlink():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[str(path)] = "dir"
    return found


def _check_loader(values: list[str]) -> int:
    checked = 0
    for value in values:
        for job in ({"id": value, "command": ["true"]}, {"id": "ok", "workspace": value, "command": ["true"]}):
            document = json.dumps({"jobs": [job]}).encode()
            try:
                parse_spec(document, "jobs.json")
                accepted = True
            except SpecError:
                accepted = False
            assert accepted == bool(SAFE.fullmatch(value)), f"loader {'accepted' if accepted else 'refused'} {value!r}"
            checked += 1
    return checked


def _check_paths(deck: Deck, values: list[str]) -> int:
    for value in values:
        try:
            check_name(value, "job id")
            named = True
        except JobdeckError:
            named = False
        assert named == bool(SAFE.fullmatch(value)), f"check_name {'accepted' if named else 'refused'} {value!r}"
        for build in (lambda: deck.workspace_dir(value), lambda: deck.attempt_dir("default", value, 1),
                      lambda: deck.inbox_dir(value)):
            try:
                path = build()
            except JobdeckError:
                continue
            assert deck.root in path.resolve().parents, f"{value!r} -> {path} leaves the deck"
    return len(values)


def test_hostile_names_never_become_paths(tmp_path: Path) -> None:
    deck = Deck(make_deck(tmp_path, [{"id": "ok", "command": ["true"]}]))
    names = hostile_values(10_000, seed=1)
    path_checks = _check_paths(deck, names)
    loader_checks = _check_loader(names[:2_500])
    write_figure("hostile_names", {"names_paths": path_checks, "names_loader": loader_checks,
                                   "escaped": 0, "misjudged": 0})


def _stderr(deck: Path, job: str, attempt: int = 1) -> str:
    path = deck / "workspaces" / "default" / "runs" / job / str(attempt) / "stderr.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _output(deck: Path, job: str, attempt: int = 1) -> str:
    """The attempt's output, byte for byte (read_text would turn \\r into \\n)."""
    path = deck / "workspaces" / "default" / "runs" / job / str(attempt) / "output"
    return path.read_bytes().decode() if path.exists() else ""


def _audited(deck: Path, log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.torture.audited", *args], cwd=deck,
                          env=env_for(deck, JOBDECK_AUDIT_LOG=str(log), PYTHONPATH=str(ROOT)),  # ROOT: for tests.torture capture_output=True, text=True,
                          timeout=300)


def test_hostile_arguments_inputs_and_inbox_names_stay_verbatim_and_inside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("keep me\n")
    values = [v for v in hostile_values(100, seed=2) if "\x00" not in v]
    jobs = [{"id": f"arg{n:04d}", "command": ["printf", "%s", "{{inputs.x}}"], "inputs": {"x": value}}
            for n, value in enumerate(values)]
    # A NUL written in jobs.json is refused when it is loaded (tests/corpus/nul-*.json); one can still come from a
    # dependency's output, at exec.
    with pytest.raises(SpecError, match="contains a NUL byte"):
        parse_spec(json.dumps({"jobs": [{"id": "nul", "command": ["printf", "%s", "{{inputs.x}}"],
                                         "inputs": {"x": "a\x00b"}}]}).encode())
    jobs.append({"id": "nulsrc", "command": ["printf", "a\\000b"]})
    jobs.append({"id": "nul", "command": ["printf", "%s", "{{deps.nulsrc}}"], "depends_on": ["nulsrc"]})
    jobs.append({"id": "inboxed", "command": ["cat", "--", "{{input}}"], "trigger": "*"})
    cli_values = ["$(touch PWNED)", "a;b\n../../x", "-rf /\r"]
    for n in range(len(cli_values)):
        jobs.append({"id": f"trig{n}", "command": ["printf", "%s", "{{inputs.x}}"], "inputs": {"x": "unset"},
                         "trigger": "never-matches"})
    jobs.append({"id": "asked", "command": "echo asked-for-a-shell", "shell": True})
    deck = make_deck(tmp_path, jobs)
    before = _tree(tmp_path, deck)
    inbox = deck / "workspaces" / "default" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    names = ["a;touch PWNED", "$(touch PWNED)", "`touch PWNED`", "new\nline", "-rf", " lead", "x" * 200,
             "é\u202etxt", "*", "'quote\"", "..."]
    for n, name in enumerate(names):
        (inbox / name).write_text(f"marker-{n}\n")
    # `jobdeck trigger --input` with hostile values, through the real CLI
    for n, value in enumerate(cli_values):
        assert jobdeck(deck, "trigger", f"trig{n}", "--input", f"x={value}").returncode == 0
    log = tmp_path / "audit.jsonl"
    for _ in range(len(names) + 2):
        result = _audited(deck, log, "run", "--once", "--quiet")
        states = board(deck)
        if len(states["inboxed"].attempts) >= len(names) - 1 and states["inboxed"].status.value != "running":
            break
    states = board(deck)
    for n, value in enumerate(values):
        assert _output(deck, f"arg{n:04d}") == value, f"argument {value!r} was not passed verbatim"
    for n, value in enumerate(cli_values):
        assert _output(deck, f"trig{n}") == value, f"--input {value!r} was not passed verbatim"
    assert states["nul"].status.value == "failed"  # refused at exec, reported, runner alive
    [nul_failed] = [e for e in events(deck) if e["type"] == "failed" and e["job"] == "nul"]
    assert "holds a NUL byte" in nul_failed["message"] and "Traceback" not in _stderr(deck, "nul"), nul_failed
    seen = sorted(_output(deck, "inboxed", a.n) for a in states["inboxed"].attempts)
    hidden = [n for n, name in enumerate(names) if name.startswith(".")]  # dot files are ignored by design
    assert seen == sorted(f"marker-{n}\n" for n in range(len(names)) if n not in hidden), seen
    assert _tree(tmp_path, deck) == {**before, str(log): _tree(tmp_path, deck)[str(log)]}, "something outside the deck changed"
    assert not [p for p in tmp_path.rglob("PWNED")], "a value was run by a shell"
    started = [json.loads(line) for line in log.read_text().splitlines()]
    shells = [s for s in started if Path(s["argv"][0]).name in SHELLS or Path(s["executable"] or "").name in SHELLS]
    asked = [s for s in shells if "asked-for-a-shell" in " ".join(s["argv"])]
    assert len(asked) == 1, "the job with shell: true should start exactly one shell (and the hook must see it)"
    assert shells == asked, f"a shell was started for a job that did not ask for one: {shells[:3]}"
    write_figure("hostile_runs", {"arguments": len(values) + len(cli_values) + 1, "inbox_names": len(names),
                                  "processes_audited": len(started), "unrequested_shells": len(shells) - len(asked),
                                  "outside_changes": 0, "not_verbatim": 0})


HOSTILE_OUTPUT = [
    "\x1b[2J\x1b[H cleared", "\x1b]0;pwned title\x07", "\x1b]52;c;cGF5bG9hZA==\x07", "\x1b]8;;http://x\x1b\\link",
    "[bold red]markup[/]", "[link=file:///etc/passwd]click[/link]", "[@click=app.quit]quit[/]", "\x9b31mC1",
    "progress 10%\rprogress 100%", "bidi \u202eevil\u202c", "bell\x07", "\x1bPdcs\x1b\\", "tab\there",
]


def test_agent_output_renders_inert_in_the_cockpit() -> None:
    from rich.console import Console
    from rich.text import Text

    from jobdeck.state.terminal import inert

    rendered = 0
    for sample in HOSTILE_OUTPUT * 50 + hostile_values(2_000, seed=3):
        shown = inert(sample)
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown), repr(shown)
        console = Console(width=200, color_system=None, force_terminal=False, record=True)
        console.print(Text(shown), end="")
        text = console.export_text()
        assert "\x1b" not in text
        for literal in ("[bold red]", "[link=", "[@click="):
            if literal in sample:
                assert literal in text, f"markup {literal} was interpreted"
        rendered += 1
    write_figure("hostile_output", {"samples": rendered, "escapes_through": 0, "markup_interpreted": 0})


@pytest.mark.slow
def test_hostile_names_long(tmp_path: Path) -> None:
    deck = Deck(make_deck(tmp_path, [{"id": "ok", "command": ["true"]}]))
    names = hostile_values(100_000, seed=4)
    write_figure("hostile_names_long", {"names_paths": _check_paths(deck, names),
                                        "names_loader": _check_loader(names[:20_000]), "escaped": 0})


__all__ = ["hostile_values", "os"]
