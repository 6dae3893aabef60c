#!/usr/bin/env python3
"""Regenerate the generated parts of docs/jobs-json.md from the code, so they cannot go stale.

The document is hand-written except between markers like::

    <!-- generated: fields Job -->
    ...
    <!-- end generated -->

``fields MODEL`` is the field table of a model, from ``state.spec.json_schema()``
(the same schema `jobdeck schema` prints); ``errors`` is the message `jobdeck
validate` prints for each file of the broken-input corpus in tests/corpus/.

Usage: python docs/gen_reference.py [--check]
  (no option)  rewrite docs/jobs-json.md in place
  --check      exit 1 and show a diff if the file is not up to date
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from jobdeck.state.errors import SpecError, SpecErrors  # noqa: E402
from jobdeck.state.ids import ID_PATTERN  # noqa: E402
from jobdeck.state.loader import parse_spec  # noqa: E402
from jobdeck.state.spec import json_schema  # noqa: E402

DOC = ROOT / "docs" / "jobs-json.md"
CORPUS = ROOT / "tests" / "corpus"
REGION = re.compile(r"(<!-- generated: (?P<what>[^>]*?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)

#: Section anchors for the models, as titled in the document.
ANCHORS = {"Spec": "top-level", "Job": "job", "Timeout": "timeout", "Retry": "retry",
           "Validate": "validate", "AgentSpec": "agents", "Limits": "limits", "Retention": "retention", "JobRetention": "retention", "EnvRef": "environment-references",
           "Decide": "decide", "Budget": "decide", "ScorerAgent": "decide"}


def render(document: str) -> str:
    """``document`` with every generated region rebuilt."""
    schema = json_schema()

    def fill(match: re.Match[str]) -> str:
        what = match.group("what").split()
        if what[0] == "fields":
            body = fields_table(schema, what[1])
        elif what[0] == "errors":
            body = errors_table()
        else:
            raise SystemExit(f"unknown generated region: {match.group('what')}")
        return match.group(1) + body + match.group(4)

    return REGION.sub(fill, document)


def fields_table(schema: dict[str, Any], model: str) -> str:
    definition = schema if model == "Spec" else schema["$defs"][model]
    required = set(definition.get("required", ()))
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, prop in definition["properties"].items():
        default = "**required**" if name in required else _default(prop)
        lines.append(f"| `{name}` | {_type(prop)} | {default} | {_cell(_text(prop.get('description', '')))} |")
    return "\n".join(lines) + "\n"


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{ANCHORS.get(name, name.lower())})"
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        if any("(ms|s|m|h|d)" in o.get("pattern", "") for o in options):
            return "[duration](#durations)"
        if any("[kKmMgGtT]" in o.get("pattern", "") for o in options):
            return "[size](#sizes)"
        return " or ".join(_type(o) for o in options)
    if "enum" in prop:
        return " \\| ".join(f'`{json.dumps(v)}`' for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop['items'])}" if "items" in prop else "list"
    if kind == "object":
        values = prop.get("additionalProperties")
        if not isinstance(values, dict):
            values = next(iter(prop.get("patternProperties", {}).values()), None)
        return f"object of {_type(values)}" if values else "object"
    if kind == "string" and prop.get("pattern") == ID_PATTERN:
        return "[id](#ids)"
    if kind in ("integer", "number") and ("exclusiveMinimum" in prop or "exclusiveMaximum" in prop):
        bounds = [f"{sign} {prop[name]}" for name, sign in (("exclusiveMinimum", ">"), ("minimum", ">="),
                                                            ("exclusiveMaximum", "<"), ("maximum", "<="))
                  if name in prop]
        return f"{kind} {' and '.join(bounds)}"
    if kind in ("integer", "number") and ("minimum" in prop or "maximum" in prop):
        return f"{kind} {prop.get('minimum', '')}..{prop.get('maximum', '')}"
    return kind or "any"


def _default(prop: dict[str, Any]) -> str:
    if "default" in prop:
        return "" if prop["default"] is None else f"`{json.dumps(prop['default'])}`"
    if "$ref" in prop:
        return "all defaults"
    return {"array": "`[]`", "object": "`{}`"}.get(prop.get("type", ""), "")


def _text(description: str) -> str:
    """A docstring as one Markdown line (``x`` becomes `x`; <name> is not taken for HTML)."""
    text = description.replace("``", "`").replace("*", "\\*").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


def _code(text: str) -> str:
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def errors_table() -> str:
    expected = json.loads((CORPUS / "expected.json").read_text())
    lines = ["| problem | what `jobdeck validate` prints |", "|---|---|"]
    for name, entry in expected.items():
        if entry.get("valid"):
            continue
        try:
            parse_spec((CORPUS / name).read_bytes(), "jobs.json")
        except SpecError as exc:
            errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        else:
            raise SystemExit(f"{name} is in the broken corpus but loads")
        shown = "<br>".join(_cell(_code(_short(str(e)))) for e in errors)
        lines.append(f"| {name.removesuffix('.json').replace('-', ' ')} | {shown} |")
    return "\n".join(lines) + "\n"


def _short(text: str) -> str:
    return re.sub(r"'(\w)\1{20,}'", lambda m: f"'{m.group(1) * 3}...'", text)


def main() -> int:
    parser = argparse.ArgumentParser(description="Regenerate docs/jobs-json.md's generated parts.")
    parser.add_argument("--check", action="store_true", help="only check; exit 1 with a diff if stale")
    args = parser.parse_args()
    current = DOC.read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), fresh.splitlines(True),
                                                       "docs/jobs-json.md", "generated"))
            print("docs/jobs-json.md is stale: run python docs/gen_reference.py", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        DOC.write_text(fresh)
        print("updated docs/jobs-json.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
