"""Presets for headless coding-agent CLIs (claude, codex, aider, gemini), built on the shell agent.

Each preset is an argv template for the tool's documented non-interactive mode:

* ``claude -p [--model M] [args] -- PROMPT``  (Claude Code print mode)
* ``codex exec --skip-git-repo-check [--model M] [args] -- PROMPT``  (workspaces need not be git repos)
* ``aider --yes-always --no-pretty [--model M] [args] --message=PROMPT``
* ``gemini [--model M] [args] --prompt=PROMPT``

The prompt is always one argv element and never passes through a shell; ``--``
or the ``--flag=value`` form keeps a prompt that starts with ``-`` from being read
as an option. A prompt too long for one argument (Linux caps one at 128 KiB) goes
on stdin instead (``aider``: through ``--message-file``). Stdin is otherwise
empty, since codex and gemini would add piped stdin to the prompt. ``args`` comes
from the agent's ``options.args``; a named agent's ``command`` replaces the
template entirely (with ``{{prompt}}`` filled in, as for the shell agent).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from jobdeck.agents.base import AttemptContext, Outcome
from jobdeck.agents.envref import agent_env
from jobdeck.agents.process import run_process
from jobdeck.agents.shell import ShellAgent, exit_outcome
from jobdeck.agents.template import render, values_for
from jobdeck.state.attempt_dirs import open_in
from jobdeck.state.errors import AgentError

MAX_ARG_BYTES = 100_000
"""Longer prompts go on stdin (or a file): the kernel's limit for one argument is 128 KiB."""


@dataclass(frozen=True, slots=True)
class Preset:
    """How to run one CLI headlessly."""

    name: str
    base: tuple[str, ...]
    """Executable and the flags that make it non-interactive."""
    prompt_arg: tuple[str, ...]
    """Trailing argv carrying the prompt; ``{{prompt}}`` is replaced whole."""
    long_prompt: tuple[str, ...]
    """Trailing argv when the prompt is read from stdin or ``{{prompt_file}}`` instead."""
    model_flag: str = "--model"


PRESETS: dict[str, Preset] = {
    "claude": Preset("claude", ("claude", "-p"), ("--", "{{prompt}}"), ()),
    "codex": Preset("codex", ("codex", "exec", "--skip-git-repo-check"), ("--", "{{prompt}}"), ("--", "-")),
    "aider": Preset("aider", ("aider", "--yes-always", "--no-pretty"), ("--message={{prompt}}",),
                    ("--message-file={{prompt_file}}",)),
    "gemini": Preset("gemini", ("gemini",), ("--prompt={{prompt}}",), ()),
}


class PresetAgent(ShellAgent):
    """Runs a coding-agent CLI with the job's rendered prompt; its stdout is the output."""

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self.type = preset.name

    def prompt(self, ctx: AttemptContext) -> str:
        if ctx.job.prompt is None:
            raise AgentError(f"job '{ctx.job.id}' uses the {self.preset.name} agent but has no prompt")
        values, lookup = values_for(ctx)
        return render(ctx.job.prompt, values, lookup)

    def invocation(self, ctx: AttemptContext) -> tuple[list[str], bytes | None]:
        """The argv and stdin for this attempt."""
        spec = ctx.agent_spec
        if ctx.job.command is not None or (spec is not None and spec.command is not None):
            return ShellAgent.argv(self, ctx), None
        prompt = self.prompt(ctx)
        argv = list(self.preset.base)
        model = ctx.job.model or (spec.model if spec else None)
        if model:
            argv += [self.preset.model_flag, model]
        argv += _extra_args(spec)
        if len(prompt.encode()) <= MAX_ARG_BYTES:
            return argv + [part.replace("{{prompt}}", prompt) for part in self.preset.prompt_arg], None
        if any("{{prompt_file}}" in part for part in self.preset.long_prompt):
            prompt_file = ctx.attempt_dir / "prompt.txt"
            fd = open_in(ctx.attempt_dir if ctx.attempt_dir_fd is None else ctx.attempt_dir_fd, prompt_file.name,
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with open(fd, "w", encoding="utf-8") as handle:
                handle.write(prompt)
            return argv + [part.replace("{{prompt_file}}", str(prompt_file)) for part in self.preset.long_prompt], None
        return argv + list(self.preset.long_prompt), prompt.encode()

    def argv(self, ctx: AttemptContext) -> list[str]:
        return self.invocation(ctx)[0]

    async def run(self, ctx: AttemptContext) -> Outcome:
        argv, stdin = self.invocation(ctx)
        own = replace(ctx, env=agent_env(ctx)) if ctx.agent_spec is not None and ctx.agent_spec.env else ctx
        result = await run_process(argv, own, stdin=stdin)
        ctx.pid = own.pid  # the runner records the pid from its own context
        return exit_outcome(result.returncode, result.timed_out, own)


def _extra_args(spec: object | None) -> list[str]:
    args = getattr(spec, "options", {}).get("args", []) if spec is not None else []
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise AgentError("agent option 'args' must be a list of strings")
    return list(args)
