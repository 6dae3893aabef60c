"""Prompt and argv templates: ``{{input}}``, ``{{inputs.NAME}}``, ``{{deps.JOB}}``, ``{{output}}``.

Substitution is plain text replacement of whole placeholders; a value is never
re-parsed (no shell, no nested templates). Unknown placeholders are errors, so a
typo never silently sends an empty string to a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from jobdeck.state.errors import AgentError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9._-]+)?)\s*\}\}")
MAX_DEP_BYTES = 1_000_000


def render(template: str, values: Mapping[str, str], lookup: Callable[[str], str | None] | None = None) -> str:
    """Fill ``template``; ``lookup`` resolves names not in ``values`` (e.g. deps.X lazily)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        found = lookup(name) if lookup else None
        if found is None:
            raise AgentError(
                f"unknown placeholder {{{{{name}}}}}",
                hint="use {{input}}, {{inputs.NAME}}, {{deps.JOB}}, {{prompt}} or {{output}}",
            )
        return found

    return PLACEHOLDER.sub(fill, template)


def values_for(ctx: object) -> tuple[dict[str, str], Callable[[str], str | None]]:
    """Template values for an attempt context, with lazy reading of dependency outputs."""
    from jobdeck.agents.base import AttemptContext

    assert isinstance(ctx, AttemptContext)
    values: dict[str, str] = {"output": str(ctx.output.path), "attempt": str(ctx.attempt)}
    for name, value in ctx.inputs.items():
        values[f"inputs.{name}"] = value
    if "input" in ctx.inputs:
        values["input"] = ctx.inputs["input"]
    elif len(ctx.dep_outputs) == 1:
        values["input"] = next(iter(ctx.dep_outputs.values())).read_bytes()[:MAX_DEP_BYTES].decode("utf-8", "replace")

    def lookup(name: str) -> str | None:
        if name.startswith("deps.") and name[5:] in ctx.dep_outputs:
            return ctx.dep_outputs[name[5:]].read_bytes()[:MAX_DEP_BYTES].decode("utf-8", "replace")
        if name == "input":
            return ""
        return None

    return values, lookup
