"""Prompt and argv templates: ``{{input}}``, ``{{inputs.NAME}}``, ``{{deps.JOB}}``, ``{{output}}``.

Substitution is plain text replacement of whole placeholders; a value is never
re-parsed (no shell, no nested templates). Unknown placeholders, and an
``{{input}}`` with nothing to hold, are errors, so a typo never silently sends an
empty string to a model. A dependency's output is read only when a template names
it, and only if it is at most ``MAX_TEMPLATE_BYTES``: a larger one is refused,
never cut short or loaded whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from jobdeck.state.commands import PLACEHOLDER
from jobdeck.state.errors import AgentError
from jobdeck.state.ids import env_suffix
from jobdeck.state.sizes import format_size

MAX_TEMPLATE_BYTES = 1 << 20
"""The largest dependency output a ``{{deps.JOB}}`` or ``{{input}}`` takes (1 MiB): a prompt or an
argument that big is already past what a model's context or the kernel's argument limit take, and
a program reads a bigger one from its file ($JOBDECK_INPUT_<JOB>)."""


def render(template: str, values: Mapping[str, str], lookup: Callable[[str], str | None] | None = None) -> str:
    """Fill ``template``; ``lookup`` resolves names not in ``values`` (e.g. deps.X lazily)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        found = lookup(name) if lookup else None
        if found is None and name.startswith("inputs."):  # a name jobs.json may use: this run was not given it
            raise AgentError(f"{{{{{name}}}}}: this run was given no input '{name[7:]}'",
                             hint=f"start it with `jobdeck trigger JOB --input {name[7:]}=VALUE`")
        if found is None:
            raise AgentError(
                f"unknown placeholder {{{{{name}}}}}",
                hint="use {{input}}, {{inputs.NAME}}, {{deps.JOB}}, {{prompt}}, {{output}} or {{attempt}}",
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

    def lookup(name: str) -> str | None:
        if name.startswith("deps.") and name[5:] in ctx.dep_outputs:
            return dep_output(name[5:], ctx.dep_outputs[name[5:]], name)
        if name == "input":  # this run has no input of its own: the output of the job's one dependency
            return one_dependency_output(ctx.job.id, ctx.job.depends_on, ctx.dep_outputs)
        return None

    return values, lookup


def one_dependency_output(job_id: str, depends_on: list[str], dep_outputs: Mapping[str, Path]) -> str:
    """``{{input}}`` of a run given no ``input``: the text of the output of the job's one dependency.

    jobs.json is refused when a job's runs could have no such value (commands.input_problem), so what is
    left here is a run that was not given the input its job waits for, or a dependency without an output.

    Raises:
        AgentError: the job has no single dependency with an output to give.
    """
    if len(depends_on) != 1:
        raise AgentError("{{input}}: this run was given no input" + (
            f", and the job depends on {len(depends_on)} jobs" if depends_on else ", and the job depends on none"),
            hint=f"start it with `jobdeck trigger {job_id} --input input=VALUE`")
    if depends_on[0] not in dep_outputs:
        raise AgentError(f"{{{{input}}}}: '{depends_on[0]}' has no output to give (no attempt of it succeeded)",
                         hint=f"`jobdeck trigger {depends_on[0]}` runs it, then this job")
    return dep_output(depends_on[0], dep_outputs[depends_on[0]], "input")


def dep_output(job_id: str, path: Path, placeholder: str) -> str:
    """The text of dependency ``job_id``'s output at ``path``, for ``{{placeholder}}``.

    Raises:
        AgentError: the output cannot be read, or is larger than MAX_TEMPLATE_BYTES.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(MAX_TEMPLATE_BYTES + 1) if size <= MAX_TEMPLATE_BYTES else b""
    except OSError as exc:
        raise AgentError(f"{{{{{placeholder}}}}}: cannot read the output of '{job_id}': {exc.strerror}") from None
    size = max(size, len(data))
    if size > MAX_TEMPLATE_BYTES:
        raise AgentError(
            f"{{{{{placeholder}}}}}: the output of '{job_id}' is {format_size(size)}, more than the "
            f"{format_size(MAX_TEMPLATE_BYTES)} a template value may hold",
            hint=f"read it from the file named by $JOBDECK_INPUT_{env_suffix(job_id)} instead",
        )
    return data.decode("utf-8", "replace")

