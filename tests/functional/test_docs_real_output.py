"""The "real output" the README and the docs show is what the commands print today, and their crontab
lines run under cron.

Each output test takes a ```console block, runs its ``$`` lines in one bash session in a fresh
directory (the docs' /tmp), and compares what each printed, stdout and stderr in the order
written, with what the block shows. What differs from run to run is blanked on both sides:
clock times and dates, runner ids, a hash, an age, the run's boundary; a "..." line of the
block stands for any lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

VARYING = [
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "HH:MM:SS"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "DATE"),
    (re.compile(r"\bvm-\d+-[0-9a-f]{4}\b"), "RUNNER"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "HASH"),
    (re.compile(r"\b\d+(\.\d+)?(ms|s|m|h)( ago)?\b"), "AGE"),
    (re.compile(r", boundary \w+\)"), ")"),  # (parallel 4, boundary cgroup): where the machine gives one
]


def console_block(doc: Path, after: str) -> list[tuple[str, list[str]]]:
    """The (command, output lines) of the first ```console block of ``doc`` after the text ``after``."""
    text = doc.read_text()
    block = text[text.index(after):].split("```console\n", 1)[1].split("```", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps and line:
            steps[-1][1].append(line)
    return steps


def normal(line: str, place: Path) -> str:
    line = line.replace(str(place), "/tmp")
    for pattern, blank in VARYING:
        line = pattern.sub(blank, line)
    return " ".join(line.split())


def run_steps(steps: list[tuple[str, list[str]]], place: Path) -> list[list[str]]:
    """What each command of ``steps`` printed, run one after the other by one bash in ``place``."""
    marker = "@@step@@"
    script = "".join(f"status=$?; echo {marker}; (exit $status)\n{command}\n" for command, _ in steps)  # keeps $?
    env = {k: v for k, v in os.environ.items() if k not in ("JOBDECK_DECK", "NTFY_URL")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1")
    done = subprocess.run(["bash", "-c", script], cwd=place, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    return [chunk.strip("\n").splitlines() for chunk in done.stdout.split(marker + "\n")[1:]]


def check(steps: list[tuple[str, list[str]]], place: Path, setup: tuple[str, ...] = ()) -> None:
    """Run ``setup``, then ``steps``; each step prints what the block shows."""
    ran = run_steps([(command, []) for command in setup] + steps, place)[len(setup):]
    for (command, shown), printed in zip(steps, ran, strict=True):
        real = [normal(line, place) for line in printed if line]  # (the block's blank lines are dropped too)
        wanted = [normal(line, place) for line in shown]
        if "..." in wanted:
            cut = wanted.index("...")
            head, tail = wanted[:cut], wanted[cut + 1:]
            assert real[:len(head)] == head and real[len(real) - len(tail):] == tail, (command, printed)
        else:
            assert real == wanted, (command, printed)


@pytest.mark.skipif(shutil.which("jq") is None, reason="the tour pipes into jq")
def test_the_readme_tour_prints_what_the_readme_shows(tmp_path: Path) -> None:
    check(console_block(ROOT / "README.md", "## A tour, with real output"), tmp_path)


def test_the_walkthrough_headless_run_prints_what_the_walkthrough_shows(tmp_path: Path) -> None:
    check(console_block(ROOT / "docs" / "walkthrough.md", "## 6. The same without the cockpit"), tmp_path)


def test_the_shell_scripts_run_job_and_trigger_print_what_the_page_shows(tmp_path: Path) -> None:
    """On the deck `jobdeck demo nightly-demo --headless` makes, as the page says its examples run."""
    doc = ROOT / "docs" / "shell-scripts.md"
    steps = console_block(doc, "## One job: `run --job ID`") + console_block(doc, "## Start a cycle: `trigger`")[:1]
    check(steps, tmp_path, setup=("jobdeck demo nightly-demo --headless >/dev/null", "cd nightly-demo"))


def test_notify_test_prints_what_the_notifications_page_shows(tmp_path: Path) -> None:
    """Its deck: a `log` hook first, then a `phone` URL whose variable is not set."""
    (tmp_path / "jobs.json").write_text(
        '{"notify": {"targets": {"log": {"command": ["true"]}, "phone": {"url": {"env": "NTFY_URL"}}},'
        ' "rules": [{"on": ["needs_you"], "to": ["log", "phone"]}]}, "jobs": [{"id": "a", "command": ["true"]}]}')
    check(console_block(ROOT / "docs" / "notifications.md", "Check a target before relying on it"), tmp_path)


def cron_lines() -> list[tuple[str, str]]:
    """(page, command) of every schedule line of the docs' ```cron blocks."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```cron\n(.*?)```", doc.read_text(), re.S):
            for line in block.splitlines():
                fields = line.split(None, 5)
                if len(fields) == 6 and not line.startswith("#") and "=" not in fields[0]:
                    found.append((doc.name, fields[5]))
    return found


@pytest.mark.parametrize(("page", "command"), cron_lines())
def test_a_crontab_line_of_the_docs_runs_with_crons_path(page: str, command: str, tmp_path: Path) -> None:
    """Cron runs a line with /bin/sh, HOME and PATH=/usr/bin:/bin: jobdeck must be named by its full path.
    Here ~/.local/bin/jobdeck (a pipx install) is this jobdeck, and ~/decks/leads a deck."""
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "jobdeck").symlink_to(Path(sys.executable).parent / "jobdeck")
    (home / "decks" / "leads" / "logs").mkdir(parents=True)
    (home / "decks" / "leads" / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["true"]}]}')
    done = subprocess.run(["/bin/sh", "-c", command], cwd=home, env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    assert "not found" not in done.stderr and done.returncode != 127, (page, done.stderr)
    assert list((home / "decks" / "leads" / ".jobdeck").iterdir()), "the deck was never opened"
