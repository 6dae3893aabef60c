"""What makes a job's command unrunnable, judged without pydantic: the loader and add's quick check share it."""

from __future__ import annotations

import re
from collections.abc import Collection

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9._-]+)?)\s*\}\}")
"""A ``{{name}}`` of a prompt or argv template (agents/template.py fills them)."""
EVERY_RUN = ("input", "output", "attempt")
"""The placeholders every attempt fills (``{{input}}`` when ``input_problem`` finds none); besides them
``{{inputs.NAME}}``, ``{{deps.JOB}}`` and ``{{prompt}}``."""


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
                     prompt: bool, inbox: bool = False) -> tuple[str, str] | None:
    """The first placeholder of a job's ``template`` that its attempts could not fill, as (problem, hint); None
    if there is none.

    Filling fails at every start otherwise, hours after the file was accepted. ``depends_on`` is the job's
    dependencies; ``inputs``, the names of its ``inputs`` defaults; ``prompt``: whether ``{{prompt}}`` is
    filled (an argv template of a job that has a prompt); ``inbox``: whether an inbox file starts its runs
    (it has a ``trigger``), which gives them an ``input``, the file's path.
    """
    given = {*inputs, "input"} if inbox else set(inputs)  # (a trigger's --input adds others to its one run only)
    for match in PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name.startswith("deps."):
            if name[5:] not in depends_on:
                return (f"{{{{{name}}}}} reads the output of '{name[5:]}', which the job does not depend on",
                        f'add "{name[5:]}" to depends_on')
        elif name.startswith("inputs.") and name[7:] not in given:
            key = name[7:]
            return (f"{{{{{name}}}}} is filled only by `jobdeck trigger --input {key}=...`: every other run of the "
                    "job (its first, a schedule's, a dependency's) would fail",
                    f'give it a default in the job, "inputs": {{"{key}": "..."}}; a trigger\'s --input overrides it')
        elif name == "input" and "input" not in inputs:
            problem = input_problem(list(depends_on), inbox)
            if problem is not None:
                return problem
        elif not (name in EVERY_RUN or name.startswith("inputs.") or (prompt and name == "prompt")):
            import difflib

            known = [*EVERY_RUN, "prompt"] if prompt else list(EVERY_RUN)
            close = difflib.get_close_matches(name, known, n=1)
            return (f"unknown placeholder {{{{{name}}}}}",
                    f"did you mean {{{{{close[0]}}}}}?" if close else
                    "use {{input}}, {{inputs.NAME}}, {{deps.JOB}}, {{output}} or {{attempt}}"
                    + (" or {{prompt}}" if prompt else ""))
    return None


def input_problem(depends_on: list[str], inbox: bool) -> tuple[str, str] | None:
    """Why ``{{input}}`` would not hold one kind of value in every run of a job with no ``input`` default, as
    (problem, hint); None if it does.

    It holds the run's ``input`` (an inbox file's path), else the output of the job's one dependency: with
    no source some runs would fail, and with two it would be a path in some runs and a text in others.
    """
    if len(depends_on) > 1:
        names = " or ".join(f"{{{{deps.{dep}}}}}" for dep in depends_on)
        return (f"{{{{input}}}} is the output of a job's one dependency, but this job has {len(depends_on)} "
                f"({', '.join(depends_on)})", f"name the one you mean: {names}")
    if depends_on and inbox:
        return (f"{{{{input}}}} would be the inbox file's path in the runs a file starts and the output of "
                f"'{depends_on[0]}' in the others",
                f"write {{{{deps.{depends_on[0]}}}}} for that output and {{{{inputs.input}}}} for the file's path")
    if not depends_on and not inbox:
        return ("{{input}} is filled only by `jobdeck trigger --input input=...` in a job with no dependency and "
                "no trigger: every other run of it (its first, a schedule's) would fail",
                'depend on the job whose output it reads, take inbox files with "trigger": "*.csv", or give it '
                'a default, "inputs": {"input": "..."}')
    return None
