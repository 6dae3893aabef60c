"""jobdeck installed as a user installs it: a wheel, beside an agent SDK that imports as ``agents``.

The OpenAI Agents SDK (``pip install openai-agents``) owns the top-level name
``agents``. jobdeck installs only ``jobdeck``, so the two coexist in either
install order, uninstalling one leaves the other whole, and jobdeck's everyday
commands never load the SDK (or ``openai``).

Each venv is real and fresh, with jobdeck's wheel and the SDK's wheel installed
into it by pip. Their dependencies come from the test venv through a ``.pth``
line, so pip downloads only what the SDK adds (a few seconds from the cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT, TWO_JOBS

SDK = "openai-agents==0.24.0"


def pip(*args: str, cwd: Path | None = None) -> None:
    """The test venv's pip (23.2+: ``--python`` installs into another interpreter)."""
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"pip {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """jobdeck's wheel, built from this checkout, and the SDK's wheel."""
    out = tmp_path_factory.mktemp("wheels")
    pip("wheel", "--no-deps", "-q", "-w", str(out), str(ROOT))
    pip("download", "--no-deps", "-q", "-d", str(out), SDK)
    found = {path.name.split("-")[0]: path for path in out.glob("*.whl")}
    assert set(found) == {"jobdeck", "openai_agents"}, found
    return found


def fresh_venv(where: Path) -> Path:
    """A new venv (no pip of its own) that sees the test venv's packages after its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "test-venv-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def install(python: Path, *targets: str, deps: bool = True) -> None:
    pip("--python", str(python), "install", "-q", *([] if deps else ["--no-deps"]), *targets)


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JOBDECK_DECK", "PYTHONPATH")}
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def jobdeck(python: Path, deck: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user types it."""
    done = run(python, str(python.parent / "jobdeck"), "--deck", str(deck), *args, cwd=deck.parent)
    return done


def the_sdk_works(python: Path, site: Path) -> None:
    done = run(python, "-c", "import agents; from agents import Agent; print(agents.__file__)", cwd=site.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(site / "agents" / "__init__.py")


def every_command_works(python: Path, work: Path) -> None:
    deck = work / "deck"
    deck.mkdir()
    (deck / "jobs.json").write_bytes(TWO_JOBS)
    steps = [
        ["--help"], ["validate"], ["ls"], ["run", "--once"], ["show", "world", "--json"],
        ["logs", "hello"], ["events", "hello"], ["audit", "verify"], ["pause", "hello"],
        ["resume", "hello"], ["retry", "hello"], ["cancel", "hello"], ["schema"],
        ["add", "--id", "third", "--", "echo", "three"], ["run", "--job", "third"],
        ["ls", "--json"],
    ]
    for argv in steps:
        done = jobdeck(python, deck, *argv)
        assert done.returncode == 0, f"jobdeck {' '.join(argv)} exited {done.returncode}: {done.stderr}"
    cards = {card["id"]: card for card in json.loads(done.stdout)}
    assert (cards["world"]["column"], cards["third"]["column"], cards["hello"]["column"]) == ("done", "done", "cancelled")
    assert jobdeck(python, deck, "logs", "third").stdout == "three\n"
    # python -m jobdeck, and what an everyday command loads
    timed = run(python, "-X", "importtime", "-m", "jobdeck", "--deck", str(deck), "ls", cwd=work)
    assert timed.returncode == 0, timed.stderr
    loaded = {line.split("|")[-1].strip() for line in timed.stderr.splitlines() if line.startswith("import time:")}
    assert "jobdeck.cli.main" in loaded  # the measurement saw jobdeck's own modules
    foreign = sorted(name for name in loaded if name.split(".")[0] in ("agents", "openai", "litellm", "textual",
                                                                      "apprise", "prometheus_client"))
    assert foreign == [], f"`jobdeck ls` imported {foreign[:5]}"


@pytest.mark.parametrize("order", ["sdk-first", "jobdeck-first"])
def test_jobdeck_and_the_agents_sdk_install_side_by_side(order: str, wheels: dict[str, Path],
                                                         tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    first, second = (wheels["openai_agents"], wheels["jobdeck"])
    if order == "jobdeck-first":
        first, second = second, first
    for wheel in (first, second):
        install(python, str(wheel), deps=wheel.name.startswith("openai_agents"))
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=tmp_path).stdout.strip())
    assert (site / "jobdeck" / "state").is_dir() and (site / "agents" / "__init__.py").is_file()
    assert not (site / "state").exists() and not (site / "cli").exists()
    the_sdk_works(python, site)
    every_command_works(python, tmp_path)
    # uninstalling jobdeck leaves the SDK whole
    pip("--python", str(python), "uninstall", "-y", "-q", "jobdeck")
    assert not (site / "jobdeck").exists()
    the_sdk_works(python, site)


def test_the_demo_runs_from_a_wheel_install_in_any_directory(wheels: dict[str, Path], tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    install(python, str(wheels["jobdeck"]), deps=False)
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    done = run(python, str(python.parent / "jobdeck"), "demo", "my-demo", "--headless", cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "end state as expected" in done.stdout
    assert (elsewhere / "my-demo" / "jobs.json").is_file()
    # the example came from the install, not from this checkout
    where = run(python, "-c", "from jobdeck.cli.demo import example_dir; print(example_dir())", cwd=elsewhere)
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv"), where.stdout + where.stderr
