"""The model scorer's call: one structured question about the ready jobs, one JSON answer.

With ``decide.scorer: {"agent": NAME}`` the runner asks that llm agent to order
the ready jobs. This module turns the features the runner hands it into the
question, makes one blocking litellm call (the runner runs it on a thread of
its own, never on its event loop, so the import and the wait cost the runner
nothing), and checks the answer's shape. What an answer may change (the
guardrails), when to ask and what to fall back to are the runner's
(``runner/scoring.py``). One call, no retries, no fallback models: a failed
ranking only leaves the heuristic's order in force, which is not worth a second
call's money.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobdeck.agents.envref import resolve
from jobdeck.agents.failures import classify
from jobdeck.agents.llm import OWN_OPTIONS, RESERVED_OPTIONS
from jobdeck.state.errors import AgentError
from jobdeck.state.terminal import one_line

if TYPE_CHECKING:
    from jobdeck.state.spec import AgentSpec

REASON_CHARS = 200
"""An answer's reason for a job is cut to this many characters (it goes into every decided event of the job)."""

SYSTEM = (
    "You order the ready jobs of one operator's job runner: which should start first. "
    "Each job comes with the runner's own assessment: class (urgent: a deadline is close; normal: the rest), "
    "score and reasons, deadline and slack, p90 duration, failure rate, expected cost, priority, "
    "seconds waited and max_wait (it must start before waiting that long). "
    "Jobs start in your order within each class; urgent jobs always go before normal ones. "
    'Reply with one JSON object and nothing else: {"order": [every job id, the first to start first], '
    '"reasons": {"<id>": "one short sentence"}, "confidence": <0 to 1, how sure you are this order beats '
    "the runner's own>}."
)


class RankingRejected(AgentError):
    """The scorer's answer is unusable (not JSON, wrong shape, wrong ids); the heuristic's order stays."""


@dataclass(frozen=True)
class RankerSettings:
    """The scorer agent's model, endpoint, key and options (its ``fallbacks`` are not used)."""

    agent: str
    model: str
    api_base: str | None
    api_key: str | None = field(repr=False)
    params: dict[str, Any]

    @classmethod
    def for_agent(cls, name: str, spec: AgentSpec, env: Mapping[str, str]) -> RankerSettings:
        """The settings of llm agent ``name``.

        Raises:
            AgentError: it has no model, sets an option jobdeck controls, or its key's variable is unset.
        """
        if not spec.model:
            raise AgentError(f"scorer agent '{name}' has no model", hint="set 'model' on the agent")
        options = dict(spec.options)
        reserved = sorted(RESERVED_OPTIONS & options.keys())
        if reserved:
            raise AgentError(f"agent option(s) {', '.join(reserved)} are set by jobdeck and cannot be overridden")
        params = {key: value for key, value in options.items() if key not in OWN_OPTIONS}
        key = resolve(spec.api_key, env, what="api_key") if spec.api_key is not None else None
        return cls(name, spec.model, spec.api_base, key, params)


@dataclass(frozen=True)
class Ranking:
    """A well-formed answer: every asked job once, in the order to start them."""

    order: tuple[str, ...]
    reasons: Mapping[str, str]
    confidence: float


@dataclass
class Reply:
    """How one call ended: the answer's text or a one-line error, how long it took, what it cost."""

    text: str | None
    error: str | None
    seconds: float
    cost: float | None = None
    usage: dict[str, int] = field(default_factory=dict)


def question(features: Sequence[Mapping[str, Any]], *, now: str, parallel: int) -> list[dict[str, str]]:
    """The chat messages asking to order the jobs ``features`` describe."""
    body = {"now": now, "parallel": parallel, "jobs": list(features)}
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": json.dumps(body, separators=(",", ":"), ensure_ascii=False)}]


def ask(settings: RankerSettings, messages: list[dict[str, str]], timeout: float) -> Reply:
    """Send ``messages`` to the scorer's model and wait at most ``timeout`` seconds (blocking: call on a thread).

    The timeout counts from the request, not from the one-time import of litellm.
    Provider errors and timeouts are replies with ``error`` set, not exceptions.
    """
    from jobdeck.agents.llm_call import call_cost, load_litellm, usage_counts

    litellm = load_litellm()
    request: dict[str, Any] = {**settings.params, "model": settings.model, "messages": messages,
                               "timeout": timeout, "max_retries": 0}
    if settings.api_base:
        request["api_base"] = settings.api_base
    if settings.api_key is not None:
        request["api_key"] = settings.api_key
    started = time.monotonic()
    try:
        response = litellm.completion(**request)
    except Exception as exc:  # noqa: BLE001 - every provider error is classified and reported, none is swallowed
        seconds = time.monotonic() - started
        failure = classify(exc, endpoint=settings.api_base)
        error = f"timeout after {timeout:g}s" if failure.reason == "timeout" else f"{failure.reason}: {failure.message}"
        return Reply(None, error, seconds)
    seconds = time.monotonic() - started
    choices = getattr(response, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    text = getattr(message, "content", None)
    usage = getattr(response, "usage", None)
    counts = usage_counts(usage)
    cost = call_cost(litellm, settings.model, usage, counts)
    if not isinstance(text, str):
        return Reply(None, "the model sent no text", seconds, cost, counts)
    return Reply(text, None, seconds, cost, counts)


def parse(text: str, asked: Sequence[str]) -> Ranking:
    """The ranking in ``text``, which must order exactly the ``asked`` job ids.

    A single surrounding code fence (```json ... ```) is tolerated; anything else
    around the object is not.

    Raises:
        RankingRejected: not JSON, not the answer's shape, or ids unknown, repeated or left out.
    """
    body = text.strip()
    if body.startswith("```") and body.endswith("```") and len(body) > 6:
        body = body[3:-3]
        body = body[4:] if body.startswith("json") else body
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise RankingRejected(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(answer, dict):
        raise RankingRejected(f"not a JSON object but {type(answer).__name__}")
    order, reasons, confidence = answer.get("order"), answer.get("reasons", {}), answer.get("confidence")
    if not isinstance(order, list) or not all(isinstance(item, str) for item in order):
        raise RankingRejected('"order" is not a list of job ids')
    if not isinstance(reasons, dict) or not all(isinstance(item, str) for item in reasons.values()):
        raise RankingRejected('"reasons" is not an object of texts')
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0.0 <= confidence <= 1.0:
        raise RankingRejected('"confidence" is not a number from 0 to 1')
    known = set(asked)
    unknown = [item for item in order if item not in known]
    if unknown:
        raise RankingRejected(f"unknown job id(s) {_names(unknown)}")
    repeated = sorted(item for item, count in Counter(order).items() if count > 1)
    if repeated:
        raise RankingRejected(f"job id(s) named twice: {_names(repeated)}")
    named = set(order)
    missing = [item for item in asked if item not in named]
    if missing:
        raise RankingRejected(f"job id(s) left out: {_names(missing)}")
    kept = {job: one_line(why.strip())[:REASON_CHARS] for job, why in reasons.items() if job in known and why.strip()}
    return Ranking(tuple(order), kept, float(confidence))


def _names(ids: Sequence[str], shown: int = 3) -> str:
    """Up to ``shown`` ids (cut and made one line: they come from the model), and how many more."""
    text = ", ".join(one_line(str(item))[:64] for item in ids[:shown])
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "")
