"""The shell agent: run an argv list (no shell unless the job says ``shell: true``).

Placeholders in argv elements are replaced whole-value, so a substituted value
is one argument and is never re-parsed. With ``shell: true`` the command string
goes to ``/bin/sh -c`` unchanged and inputs reach it only through the
environment (``$JOBDECK_INPUT``, ``$JOBDECK_VAR_<NAME>``, ``$JOBDECK_INPUT_<DEP>``), never by splicing.
The rendered prompt, if the job has one, is written to the child's stdin.
"""

from __future__ import annotations

from jobdeck.agents.base import Agent, AttemptContext, Failure, Outcome, output_limit_outcome, timeout_words
from jobdeck.agents.process import run_process
from jobdeck.agents.template import render, values_for
from jobdeck.state.terminal import exit_words


def exit_outcome(returncode: int | None, timed_out: str | None, ctx: AttemptContext) -> Outcome:
    """Map a process end to an Outcome using the job's retry policy."""
    retry = ctx.job.retry
    if timed_out == "output_limit":
        return output_limit_outcome(ctx, returncode)
    if timed_out:
        limit = ctx.idle_timeout if timed_out == "idle_timeout" else ctx.hard_timeout
        return Outcome.failed(
            timed_out, Failure.TRANSIENT if retry.on_timeout else Failure.PERSISTENT,
            f"{timeout_words(timed_out, limit)}; stopped", exit_code=returncode,
        )
    if returncode == 0:
        return Outcome.success(exit_code=0)
    if returncode is not None and returncode < 0:
        return Outcome.failed("signal", Failure.PERSISTENT, exit_words(returncode), exit_code=returncode)
    failure = Failure.TRANSIENT if returncode in retry.retryable_exit_codes else Failure.PERSISTENT
    return Outcome.failed("exit_code", failure, f"exited with code {returncode}", exit_code=returncode)


class ShellAgent(Agent):
    """Runs the job's (or the named agent's) command."""

    type = "shell"

    def argv(self, ctx: AttemptContext) -> list[str]:
        """The argv to execute for this attempt."""
        spec = ctx.agent_spec
        command = ctx.job.command if ctx.job.command is not None else (spec.command if spec else None)
        shell = ctx.job.shell or bool(spec and spec.shell and ctx.job.command is None)
        if command is None:
            from jobdeck.state.errors import AgentError

            raise AgentError(f"job '{ctx.job.id}' has no command to run")
        if shell:
            text = command if isinstance(command, str) else " ".join(command)
            return ["/bin/sh", "-c", text]
        values, lookup = values_for(ctx)
        if ctx.job.prompt is not None:
            values["prompt"] = render(ctx.job.prompt, values, lookup)
        return [render(part, values, lookup) for part in command]

    def stdin(self, ctx: AttemptContext) -> bytes | None:
        """The rendered prompt, if the job has one, for the child's stdin."""
        if ctx.job.prompt is None:
            return None
        values, lookup = values_for(ctx)
        return render(ctx.job.prompt, values, lookup).encode()

    async def run(self, ctx: AttemptContext) -> Outcome:
        result = await run_process(self.argv(ctx), ctx, stdin=self.stdin(ctx))
        return exit_outcome(result.returncode, result.timed_out, ctx)
