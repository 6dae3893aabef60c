"""What makes a job's command unrunnable, judged without pydantic: the loader and add's quick check share it."""

from __future__ import annotations

import re
from collections.abc import Collection

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9._-]+)?)\s*\}\}")
"""A ``{{name}}`` of a prompt or argv template (agents/template.py fills them)."""
EVERY_RUN = ("input", "output", "attempt")
"""The placeholders every attempt fills; besides them ``{{inputs.NAME}}``, ``{{deps.JOB}}`` and ``{{prompt}}``."""


def shell_command_problem(command: list[str] | str | None, shell: bool) -> str | None:
    """What is wrong with ``command`` run through /bin/sh -c, if anything.

    The shell parses its text again, so words of a list would be joined and
    re-split (a word with a space or a ';' becomes code), and a placeholder
    filled with a value would run that value as code: inputs reach a shell
    command through the environment instead.
    """
    if not shell or command is None:
        return None
    if isinstance(command, list) and len(command) > 1:
        return (f"'command' is a list of {len(command)} words but 'shell' is true: the shell would join and parse "
                "them again; write the shell code as one string, or drop 'shell' to run the list as argv")
    text = command if isinstance(command, str) else "".join(command)
    if "{{" in text:
        return ("placeholders are not filled in a shell command (a value spliced into shell code could run); "
                "read it from the environment: $JOBDECK_INPUT, $JOBDECK_VAR_<NAME>, $JOBDECK_INPUT_<DEP>")
    return None


def program_problem(program: str) -> str | None:
    """What is wrong with the first word of an argv command (run without a shell), if anything."""
    if not program.strip():
        return "the command's program (its first word) is empty"
    if "/" not in program and any(ch.isspace() for ch in program):
        return f"the program '{program}' has spaces in its name: an argv list has one word per item"
    return None


def template_problem(template: str, depends_on: Collection[str], inputs: Collection[str], *,
                     prompt: bool) -> tuple[str, str] | None:
    """The first placeholder of a job's ``template`` that its attempts could not fill, as (problem, hint); None
    if there is none.

    Filling fails at every start otherwise, hours after the file was accepted. ``depends_on`` is the job's
    dependencies; ``inputs``, the input names every run of it has (see ``own_inputs``); ``prompt``: whether
    ``{{prompt}}`` is filled (an argv template of a job that has a prompt).
    """
    for match in PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name.startswith("deps."):
            if name[5:] not in depends_on:
                return (f"{{{{{name}}}}} reads the output of '{name[5:]}', which the job does not depend on",
                        f'add "{name[5:]}" to depends_on')
        elif name.startswith("inputs.") and name[7:] not in inputs:
            key = name[7:]
            return (f"{{{{{name}}}}} is filled only by `jobdeck trigger --input {key}=...`: every other run of the "
                    "job (its first, a schedule's, a dependency's) would fail",
                    f'give it a default in the job, "inputs": {{"{key}": "..."}}; a trigger\'s --input overrides it')
        elif not (name in EVERY_RUN or name.startswith("inputs.") or (prompt and name == "prompt")):
            import difflib

            known = [*EVERY_RUN, "prompt"] if prompt else list(EVERY_RUN)
            close = difflib.get_close_matches(name, known, n=1)
            return (f"unknown placeholder {{{{{name}}}}}",
                    f"did you mean {{{{{close[0]}}}}}?" if close else
                    "use {{input}}, {{inputs.NAME}}, {{deps.JOB}}, {{output}} or {{attempt}}"
                    + (" or {{prompt}}" if prompt else ""))
    return None


def own_inputs(declared: Collection[str], trigger: object) -> set[str]:
    """The input names every run of a job has: those it declares, and ``input`` when an inbox file starts it
    (the file's path). A trigger's ``--input`` adds others to its one run only."""
    return {*declared, "input"} if trigger is not None else set(declared)
