"""What makes a job's command unrunnable, judged without pydantic: the loader and add's quick check share it."""

from __future__ import annotations


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
