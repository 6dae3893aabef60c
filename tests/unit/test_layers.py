"""Imports point down only: state/ is headless, read commands never pay for litellm or textual.

Two kinds of check: what a fresh interpreter has loaded after importing a layer or
running a command (catches lazy imports that happen at import time), and the
import statements in the source (catches imports hidden inside functions).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, TWO_JOBS, cli_env

HEAVY = ("textual", "litellm")


def loaded_after(code: str, cwd: Path = ROOT) -> set[str]:
    """Top-level names of the modules a fresh interpreter has loaded after running ``code``."""
    wrapper = (code + "\nimport sys as _sys, json as _json\n"
               "_sys.__stderr__.write('\\nMODULES=' + _json.dumps(sorted(_sys.modules)) + '\\n')\n")
    done = subprocess.run([sys.executable, "-c", wrapper], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    marker = done.stderr.rfind("MODULES=")
    assert marker >= 0, done.stderr
    return {name.split(".")[0] for name in json.loads(done.stderr[marker + len("MODULES="):])}


def modules_of(package: str) -> list[str]:
    """``package`` and every module under it that exists in this checkout."""
    if importlib.util.find_spec(package) is None:
        return []
    path = ROOT / package
    return [package] + [f"{package}.{info.name}" for info in pkgutil.walk_packages([str(path)])
                        if not info.name.startswith("_")]


def test_state_runner_and_agents_import_neither_textual_nor_litellm() -> None:
    wanted = ["state", "state.loader", "state.board", "state.views", "state.actions",
              "agents", "agents.base", "agents.shell", "runner"]
    names = [n for n in wanted if importlib.util.find_spec(n) is not None]
    names += [m for p in ("state", "runner", "agents") for m in modules_of(p) if m not in names]
    loaded = loaded_after("import importlib\n" + "".join(f"importlib.import_module({n!r})\n" for n in names))
    assert {"state", "agents", "runner"} & loaded
    for heavy in HEAVY:
        assert heavy not in loaded, f"importing {names} loaded {heavy}"


def test_cockpit_does_not_import_litellm() -> None:
    names = modules_of("cockpit")
    loaded = loaded_after("import importlib\n" + "".join(f"importlib.import_module({n!r})\n" for n in names))
    assert "litellm" not in loaded


READ_COMMANDS = [["--help"], ["ls"], ["ls", "--json"], ["show", "hello"], ["validate"], ["events"],
                 ["audit", "verify"], ["schema"], ["logs", "hello"]]


def test_read_commands_do_not_import_litellm_or_textual(tmp_path: Path) -> None:
    """`jobdeck --help`, `ls` and the other read commands run without the heavy packages.

    One interpreter runs them in turn and notes which heavy modules each one added,
    so the first command to pull one in is the one named.
    """
    (tmp_path / "jobs.json").write_bytes(TWO_JOBS)
    (tmp_path / ".jobdeck").mkdir()
    code = f"""
import contextlib, io, json, sys
from jobdeck.cli.main import main
added = {{}}
for argv in {READ_COMMANDS!r}:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
    added[" ".join(argv)] = [code, heavy]
print(json.dumps(added))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert list(results) == [" ".join(argv) for argv in READ_COMMANDS]
    for command, (code, heavy) in results.items():
        assert heavy == [], f"`jobdeck {command}` imported {heavy[:3]}"
        assert code in (0, 2, None), f"`jobdeck {command}` exited {code}"  # logs: no attempt yet


# -- the source: every import statement, including the ones inside functions --------------


def imports_in(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) for each absolute import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name.split(".")[0], top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module.split(".")[0], top))
            visit(child, inner)

    visit(tree, True)
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []


FORBIDDEN = {
    "state": {"textual", "litellm", "runner", "agents", "cockpit", "cli", "rich"},
    "runner": {"textual", "cockpit", "cli"},
    "agents": {"textual", "cockpit", "cli", "runner"},
    "cockpit": {"litellm", "runner"},
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_imports_in_source(package: str) -> None:
    problems = [f"{path.relative_to(ROOT)} imports {module}"
                for path in sources(package)
                for module, _ in imports_in(path) if module in FORBIDDEN[package]]
    assert problems == []


def test_litellm_is_imported_lazily_and_only_by_agents() -> None:
    """Only agents/ may import litellm, and only inside a function (it costs ~3.5 s)."""
    problems = []
    for package in ("state", "runner", "agents", "cockpit", "cli"):
        for path in sources(package):
            for module, top in imports_in(path):
                if module == "litellm" and (package != "agents" or top):
                    problems.append(f"{path.relative_to(ROOT)} imports litellm"
                                    + (" at module level" if top else ""))
    assert problems == []


def test_the_ast_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The checker itself: a lazy import is found, and known as not module-level."""
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom state import deck\ndef f():\n    import litellm\n"
                      "class C:\n    from textual import app\n")
    assert imports_in(sample) == [("os", True), ("state", True), ("litellm", False), ("textual", True)]
