"""Environment values for agents: plain strings or ``{"env": NAME}`` references.

Secrets (API keys) are written in jobs.json only as references and resolved here,
at run time, from the attempt's environment; the resolved value goes straight to
the child process or the provider call and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from jobdeck.state.errors import AgentError

if TYPE_CHECKING:
    from jobdeck.agents.base import AttemptContext
    from jobdeck.state.spec import EnvValue


def resolve(value: EnvValue, env: Mapping[str, str], *, what: str) -> str:
    """A plain value, or the value of the environment variable a reference names.

    Looks in ``env`` (the attempt's environment) first, then the runner's own.

    Raises:
        AgentError: the referenced variable is not set.
    """
    name = getattr(value, "env", None)
    if name is None:
        return str(value)
    found = env.get(name, os.environ.get(name))
    if found is None:
        raise AgentError(f"{what} refers to environment variable {name}, which is not set",
                         hint=f"export {name} in the runner's environment")
    return found


def agent_env(ctx: AttemptContext) -> dict[str, str]:
    """The attempt's environment with the named agent's ``env`` applied on top."""
    env = dict(ctx.env)
    spec = ctx.agent_spec
    for key, value in (spec.env if spec is not None else {}).items():
        env[key] = resolve(value, ctx.env, what=f"agent env {key}")
    return env
