"""The cockpit's modules import each other without a cycle, and only the app's callers import the app.

Screens ask the app for things with messages (see cockpit/job_screen.py); an
import of the app from a screen would bring back the app <-> screens cycle.
Every import statement counts: module level, inside functions, under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = "jobdeck.cockpit"


def cockpit_imports(path: Path) -> set[str]:
    """The cockpit modules (by file stem) that the module at ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from .x import y
                base = PACKAGE if node.level == 1 else None
                module = f"{base}.{node.module}" if base and node.module else base
            else:
                module = node.module
            if module is None:
                continue
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith(PACKAGE + "."):
                found.add(name[len(PACKAGE) + 1:].split(".")[0])
    return found


def import_graph(folder: Path) -> dict[str, set[str]]:
    """Module stem -> the cockpit modules it imports, for every module in ``folder``."""
    modules = {path.stem: path for path in sorted(folder.glob("*.py"))}
    return {stem: cockpit_imports(path) & modules.keys() - {stem} for stem, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_cockpit_imports_form_no_cycle() -> None:
    graph = import_graph(ROOT / "cockpit")
    assert {"app", "board_screen", "job_screen", "model"} <= graph.keys(), "the scan found no cockpit modules"
    assert sum(len(imported) for imported in graph.values()) >= 20, "the scan found (almost) no imports"
    assert find_cycle(graph) is None


def test_only_the_app_shell_imports_the_app() -> None:
    graph = import_graph(ROOT / "cockpit")
    assert graph, "the scan found no cockpit modules"
    assert sorted(stem for stem, imported in graph.items() if "app" in imported) == []


@pytest.mark.parametrize("source, imported", [
    ("from jobdeck.cockpit.app import CockpitApp", {"app"}),
    ("from jobdeck.cockpit import app, model", {"app", "model"}),
    ("import jobdeck.cockpit.model as m", {"model"}),
    ("from . import app", {"app"}),
    ("from .model import Delta", {"model"}),
    ("def f():\n    from jobdeck.cockpit.app import make_app\n", {"app"}),
    ("if TYPE_CHECKING:\n    from jobdeck.cockpit.app import CockpitApp\n", {"app"}),
    ("from jobdeck.state.deck import Deck\nimport textual", set()),
])
def test_the_scan_sees_every_kind_of_import(tmp_path: Path, source: str, imported: set[str]) -> None:
    path = tmp_path / "sample.py"
    path.write_text(source)
    assert cockpit_imports(path) == imported


def test_a_cycle_is_found(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("from jobdeck.cockpit.board_screen import BoardScreen\n")
    (tmp_path / "board_screen.py").write_text("from jobdeck.cockpit.job_screen import JobScreen\n")
    (tmp_path / "job_screen.py").write_text("def f():\n    from jobdeck.cockpit.app import CockpitApp\n")
    cycle = find_cycle(import_graph(tmp_path))
    assert cycle is not None and set(cycle) == {"app", "board_screen", "job_screen"}
