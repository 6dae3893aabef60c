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
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, TWO_JOBS, cli_env

HEAVY = ("textual", "litellm", "apprise", "prometheus_client")


def layer_of(module: str) -> str:
    """The layer a module name belongs to: ``jobdeck.state.loader`` -> ``state``; other packages by their top name."""
    parts = module.split(".")
    return parts[1] if parts[0] == "jobdeck" and len(parts) > 1 else parts[0]


def loaded_after(code: str, cwd: Path = ROOT) -> set[str]:
    """Layers and top-level packages a fresh interpreter has loaded after running ``code``."""
    wrapper = (code + "\nimport sys as _sys, json as _json\n"
               "_sys.__stderr__.write('\\nMODULES=' + _json.dumps(sorted(_sys.modules)) + '\\n')\n")
    done = subprocess.run([sys.executable, "-c", wrapper], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, timeout=120)
    marker = done.stderr.rfind("MODULES=")
    assert marker >= 0, done.stderr
    return {layer_of(name) for name in json.loads(done.stderr[marker + len("MODULES="):])}


LAYERS = ("state", "decide", "agents", "runner", "cockpit", "cli")


def modules_of(layer: str) -> list[str]:
    """``jobdeck.<layer>`` and every module under it; fails when the layer is not installed.

    A check over an empty list passes while checking nothing, so a missing package
    (a rename, a broken install) is an error here, not a silent pass.
    """
    package = f"jobdeck.{layer}"
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not importable"
    names = [package] + [f"{package}.{info.name}" for info in pkgutil.iter_modules(spec.submodule_search_locations)
                         if not info.name.startswith("_")]
    assert len(names) > 3, f"{package} has only {names}"
    return names


def import_all(layers: tuple[str, ...]) -> set[str]:
    """What a fresh interpreter has loaded after importing every module of ``layers``."""
    names = [m for layer in layers for m in modules_of(layer)]
    loaded = loaded_after("import importlib\n" + "".join(f"importlib.import_module({n!r})\n" for n in names))
    assert set(layers) <= loaded, f"importing {layers} did not load them: {sorted(loaded)}"
    return loaded


def test_state_runner_and_agents_import_neither_textual_nor_litellm() -> None:
    loaded = import_all(("state", "agents", "runner"))
    for heavy in HEAVY:
        assert heavy not in loaded, f"importing state, agents and runner loaded {heavy}"


def test_state_imports_no_other_layer() -> None:
    loaded = import_all(("state",))
    assert not loaded & {"decide", "agents", "runner", "cockpit", "cli", "rich", *HEAVY}


def test_the_decision_service_imports_only_state() -> None:
    """decide/ is advisory and pure: it reads state, and nothing of how jobs run or are shown."""
    loaded = import_all(("decide",))
    assert "state" in loaded
    assert not loaded & {"agents", "runner", "cockpit", "cli", "rich", "pydantic", *HEAVY}


def test_cockpit_does_not_import_litellm() -> None:
    loaded = import_all(("cockpit",))
    assert "textual" in loaded and "litellm" not in loaded


READ_COMMANDS = [["--help"], ["ls"], ["ls", "--json"], ["show", "hello"], ["validate"], ["events"],
                 ["audit", "verify"], ["schema"], ["logs", "hello"], ["stats"], ["status", "--json"]]


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
        assert code in (0, 1, None), f"`jobdeck {command}` exited {code}"  # logs: no attempt yet


# -- the source: every import statement, including the ones inside functions --------------


def imports_in(path: Path) -> list[tuple[str, bool]]:
    """(layer or top-level module, imported at module level?) for each absolute import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((layer_of(alias.name), top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                if child.module == "jobdeck":  # from jobdeck import state
                    found.extend((alias.name, top) for alias in child.names)
                else:
                    found.append((layer_of(child.module), top))
            visit(child, inner)

    visit(tree, True)
    return found


def sources(layer: str) -> list[Path]:
    """The layer's source files in this checkout; fails when there are none to check."""
    found = sorted((ROOT / layer).rglob("*.py"))
    assert len(found) > 3, f"{layer}/ has no sources to check"
    return found


FORBIDDEN = {
    "state": {"textual", "litellm", "decide", "runner", "agents", "cockpit", "cli", "rich"},
    "decide": {"textual", "litellm", "runner", "agents", "cockpit", "cli", "rich", "pydantic"},
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
    for package in ("state", "decide", "runner", "agents", "cockpit", "cli"):
        for path in sources(package):
            for module, top in imports_in(path):
                if module == "litellm" and (package != "agents" or top):
                    problems.append(f"{path.relative_to(ROOT)} imports litellm"
                                    + (" at module level" if top else ""))
    assert problems == []


LAZY_ONLY_IN = {"apprise": "runner/senders.py", "prometheus_client": "runner/metrics.py"}
"""Packages one module imports, inside a function: the alert sender, the metrics writer."""


@pytest.mark.parametrize("package", sorted(LAZY_ONLY_IN))
def test_alert_and_metrics_packages_are_imported_lazily_by_one_module(package: str) -> None:
    problems, found = [], []
    for layer in LAYERS:
        for path in sources(layer):
            for module, top in imports_in(path):
                if module != package:
                    continue
                where = str(path.relative_to(ROOT))
                found.append(where)
                if where != LAZY_ONLY_IN[package] or top:
                    problems.append(where + (" at module level" if top else ""))
    assert problems == [] and found, (problems, found)


def test_the_ast_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The checker itself: a lazy import is found, and known as not module-level."""
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom jobdeck.state import deck\ndef f():\n    import litellm\n"
                      "class C:\n    from textual import app\nimport jobdeck.runner.loop\nfrom jobdeck import cli\n"
                      "from agents import Agent\n")
    assert imports_in(sample) == [("os", True), ("state", True), ("litellm", False), ("textual", True),
                                  ("runner", True), ("cli", True), ("agents", True)]


def test_the_installed_layers_are_this_checkout() -> None:
    """jobdeck.<layer> is the top-level folder of this repository, not another copy."""
    for layer in LAYERS:
        spec = importlib.util.find_spec(f"jobdeck.{layer}")
        assert spec is not None and spec.origin is not None
        assert Path(spec.origin).resolve().parent == (ROOT / layer).resolve(), spec.origin


def test_no_module_imports_a_layer_by_its_bare_name() -> None:
    """`import agents` would load whatever package owns that name (the OpenAI Agents SDK does)."""
    bare = re.compile(r"^\s*(?:from|import) (?:state|decide|agents|runner|cockpit|cli)\b", re.M)
    problems = [f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
                for layer in LAYERS for path in sources(layer)
                for match in bare.finditer(path.read_text())]
    assert problems == []


def test_no_module_imports_another_layers_private_name() -> None:
    """A leading underscore is a layer's own business: other layers go through its public names."""
    problems = []
    for layer in LAYERS:
        for path in sources(layer):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jobdeck."):
                    private = [alias.name for alias in node.names if alias.name.startswith("_")]
                    if private and layer_of(node.module) != layer:
                        problems.append(f"{path.relative_to(ROOT)} imports {private} from {node.module}")
    assert problems == []
