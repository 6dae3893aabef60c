"""The llm agent: one attempt = one answer from a model chain, streamed into the output.

Retries are split by horizon, one rule for every error:

* **Within the attempt** the agent retries a transient error (429, 5xx,
  connection, provider timeout, ``empty_answer``: HTTP 200 with no text) on the
  same model only while nothing has been written to the output yet, at most
  ``options.retries`` times (default 2), with exponential backoff from
  ``options.retry_delay`` (0.5 s) and jitter, never shorter than the provider's
  Retry-After and never longer than ``options.max_retry_wait`` (30 s) or past
  the hard timeout. These are the blips litellm's own retries would absorb;
  jobs get them even with ``max_attempts: 1``.
* **Between attempts** (the runner's backoff, ``job.retry``) is everything
  longer: when a model's in-attempt retries are used up the next model in the
  chain is tried, and when the chain is exhausted the attempt ends TRANSIENT
  with ``retry_after`` = the soonest Retry-After or cooldown (the runner does
  not claim a job whose every model cools, pinned or not, so an attempt that skips
  them all was claimed as another runner opened a cooldown: having called nothing,
  it ends ``not_called``, which costs the job no try). A stream that
  breaks after tokens were written (dropped, or ended before its finish_reason),
  and idle/hard timeouts, also end the attempt at once (its partial output is
  kept; the next attempt starts a fresh file).

Persistent errors (401/403 auth, 404, 400) move to the next model in
``fallbacks`` without a retry; context-window-exceeded moves to ``context_model``
(a job's own, when it gives one, even empty, else its agent's).
Auth, not-found and transient failures of real calls (not a mock's) count toward
the shared circuit breaker (``agents.breaker``); a model in cooldown is skipped. A
cooldown is the model's where this agent calls it (``state.cooldowns.cooldown_key``:
its api_base, and its api_key variable for the models the key goes with), so one dead
endpoint or refused key cools no other.
A Retry-After longer than ``max_retry_wait`` cools the model down until then at
once: no job could do better by calling it, and the provider said when to come
back (believed up to an hour, ``agents.failures.MAX_RETRY_AFTER``). Every retry,
switch and cooldown is reported through ``ctx.emit`` with its reason, redacted.

``mock_response`` (a string, or a list indexed by attempt number) answers
offline through litellm's mock path, streamed like a real reply. With
``output: "json"`` and ``repair: true``, an answer failing ``validate`` is kept
as ``output.invalid`` and the model is asked once more with the reasons (a
failed re-ask puts the first answer back, for review). Without ``repair`` the
answer is returned as it is and the runner's validation judges it.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobdeck.agents.base import Agent, AttemptContext, Failure, Outcome, timeout_words
from jobdeck.agents.breaker import Breaker
from jobdeck.agents.envref import resolve
from jobdeck.agents.llm_call import CallResult, missing_key, stream_call
from jobdeck.agents.output_sink import OutputUnwritable
from jobdeck.agents.template import render, values_for
from jobdeck.agents.validation import check_output
from jobdeck.state.attempt_dirs import open_in
from jobdeck.state.cooldowns import COOLDOWN_FILE, cooldown_key, cooldown_label, key_name_for
from jobdeck.state.errors import AgentError
from jobdeck.state.machine import NOT_CALLED, EventType
from jobdeck.state.redact import Redactor

if TYPE_CHECKING:
    from jobdeck.state.spec import AgentSpec, Job

Redact = Callable[[str], str]
#: Agent options read by jobdeck; every other option is passed to litellm.
OWN_OPTIONS = {"retries": 2, "retry_delay": 0.5, "max_retry_wait": 30.0, "system": None}
#: acompletion arguments jobdeck controls; setting them in options would break the retry loop or leak keys.
RESERVED_OPTIONS = frozenset({"model", "messages", "stream", "api_key", "api_base", "base_url",
                              "max_retries", "num_retries", "fallbacks", "context_window_fallback_dict",
                              "mock_response", "timeout"})
REPAIR_PROMPT = ("Your previous reply failed validation:\n{reasons}\n"
                 "Reply again with only the corrected JSON, no explanation and no code fence.")


@dataclass(frozen=True)
class Settings:
    """An llm attempt's configuration: the job's fields over its named agent's."""

    models: tuple[str, ...]
    first: str
    """The model written first (the job's or its agent's): the one its api_key is for, wherever a route puts it."""
    context_model: str | None
    api_base: str | None
    api_key: str | None = field(repr=False)
    api_key_name: str | None
    params: dict[str, Any]
    system: str | None
    retries: int
    retry_delay: float
    max_retry_wait: float
    mock: str | list[str] | None

    @classmethod
    def for_attempt(cls, ctx: AttemptContext) -> Settings:
        job, spec = ctx.job, ctx.agent_spec
        model = job.model or (spec.model if spec else None)
        if not model:
            raise AgentError(f"job '{job.id}' has no model", hint="set 'model' on the job or its agent")
        chain = [model, *_own_or_agent(job, spec, "fallbacks", [])]
        if ctx.route is not None and ctx.route in chain:  # the decision service's choice, among these only
            chain = [ctx.route, *(m for m in chain if m != ctx.route)]
        options = dict(spec.options) if spec else {}
        reserved = sorted(RESERVED_OPTIONS & options.keys())
        if reserved:
            raise AgentError(f"agent option(s) {', '.join(reserved)} are set by jobdeck and cannot be overridden")
        own = {name: options.pop(name, default) for name, default in OWN_OPTIONS.items()}
        options.setdefault("stream_options", {"include_usage": True})
        key_ref = spec.api_key if spec else None
        mock = job.mock_response
        return cls(
            models=tuple(dict.fromkeys(chain)), first=model,
            context_model=_own_or_agent(job, spec, "context_model", None),
            api_base=spec.api_base if spec else None,
            api_key=resolve(key_ref, ctx.env, what="api_key") if key_ref is not None and mock is None else None,
            api_key_name=key_ref.env if key_ref is not None else None,
            params=options, system=own["system"],
            retries=_number(own["retries"], "retries", int), retry_delay=_number(own["retry_delay"], "retry_delay"),
            max_retry_wait=_number(own["max_retry_wait"], "max_retry_wait"), mock=mock,
        )

    def key_for(self, model: str) -> str | None:
        """The api_key for a call to ``model``: only a model served where the key belongs.

        With ``api_base`` every call goes to that one endpoint (a proxy, a local
        server), which the key is for. Otherwise the key is the provider's of
        the model written first (``first``, even when a route calls another
        first): a fallback of another provider, or of one not known, gets none,
        and litellm uses that provider's own variable (e.g. ANTHROPIC_API_KEY),
        so an OpenAI key is never sent to Anthropic. One answer decides both the
        key a call carries and the key it cools with (``key_name_for``).
        """
        if self.api_key is None:
            return None
        return self.api_key if key_name_for(model, self.first, self.api_base, self.api_key_name) else None

    def cooldown_key(self, model: str) -> str:
        """The breaker's key for a call to ``model``: the model where this agent calls it, with the key it goes with."""
        return cooldown_key(model, self.api_base, key_name_for(model, self.first, self.api_base, self.api_key_name))

    def label(self, model: str) -> str:
        """``model`` in messages, with the endpoint and key variable when they are not the default."""
        return cooldown_label(model, self.api_base, key_name_for(model, self.first, self.api_base, self.api_key_name))

    def mock_for(self, attempt: int, call: int) -> str | None:
        """The mock answer for a call: list item ``attempt - 1`` (+1 for the repair re-ask), last one repeating."""
        if self.mock is None or isinstance(self.mock, str):
            return self.mock
        if not self.mock:
            return ""
        return self.mock[min(max(attempt - 1, 0) + call, len(self.mock) - 1)]


def _own_or_agent(job: Job, spec: AgentSpec | None, name: str, default: Any) -> Any:
    """The job's field when jobs.json gives it, even empty (``"fallbacks": []``: none), else its agent's."""
    if name in job.model_fields_set:
        return getattr(job, name)
    return getattr(spec, name) if spec is not None else default


def _number(value: Any, name: str, kind: type = float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise AgentError(f"agent option {name} must be a non-negative number")
    return kind(value)


@dataclass
class Tally:
    """Usage and cost summed over every call of an attempt (retries, fallbacks, repair)."""

    usage: dict[str, int] = field(default_factory=dict)
    cost: float | None = None
    calls: int = 0

    def add(self, result: CallResult) -> None:
        self.calls += 1
        for name, value in result.usage.items():
            self.usage[name] = self.usage.get(name, 0) + value
        if result.cost is not None:
            self.cost = (self.cost or 0.0) + result.cost

    def fields(self) -> dict[str, Any]:
        return {"usage": {**self.usage, "calls": self.calls}, "cost": self.cost}


class LLMAgent(Agent):
    """Calls models through litellm. One instance serves every llm job; they share its breaker."""

    type = "llm"

    def __init__(self, breaker: Breaker | None = None) -> None:
        self.breaker = breaker or Breaker()

    async def run(self, ctx: AttemptContext) -> Outcome:
        settings = Settings.for_attempt(ctx)
        if ctx.state_dir is not None:
            self.breaker.attach(ctx.state_dir / COOLDOWN_FILE)
        redact = _redactor(ctx, settings)
        loop = asyncio.get_running_loop()
        hard_deadline = loop.time() + ctx.hard_timeout if ctx.hard_timeout else None
        messages = _messages(ctx, settings)
        tally = Tally()
        chain = _Chain(self.breaker, ctx, settings, redact, hard_deadline, tally)
        outcome, text = await chain.answer(messages, call=0)
        if not (outcome.ok and ctx.job.output == "json" and ctx.job.repair):
            return outcome
        ctx.output.flush()
        reasons = await asyncio.to_thread(check_output, ctx.job, ctx.output.path, ctx.env, ctx.redactor,
                                            ctx.workspace_dir)
        if not reasons:
            return outcome
        _emit(ctx, redact, "repair", outcome.model, "; ".join(reasons))
        first_answer = _keep_invalid(ctx)
        repair = REPAIR_PROMPT.format(reasons="\n".join(f"- {reason}" for reason in reasons))
        messages = [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": repair}]
        repaired, _ = await chain.answer(messages, call=1)
        if repaired.ok:
            return repaired
        # An answer that fails validation beats none: put it back for review.
        _emit(ctx, redact, "repair", repaired.model, f"repair failed ({repaired.reason}): {repaired.message}")
        ctx.output.restart()
        ctx.output.write(first_answer)
        return Outcome.success(model=outcome.model, **tally.fields())


class _Chain:
    """Walks the model chain for one question: breaker, retries, fallbacks, context model."""

    def __init__(self, breaker: Breaker, ctx: AttemptContext, settings: Settings, redact: Redact,
                 hard_deadline: float | None, tally: Tally) -> None:
        self.breaker, self.ctx, self.settings, self.redact = breaker, ctx, settings, redact
        self.hard_deadline, self.tally = hard_deadline, tally

    async def answer(self, messages: list[dict[str, Any]], call: int) -> tuple[Outcome, str]:
        ctx, settings = self.ctx, self.settings
        queue = deque(settings.models)
        context_used = False
        switch: tuple[str, str] | None = None  # (model left, why) until the next model is called
        deferred: Outcome | None = None  # soonest transient failure: the attempt's result if nothing answers
        final: Outcome | None = None
        while queue:
            model = queue.popleft()
            cooling = settings.cooldown_key(model)
            wait = self.breaker.blocked_for(cooling)
            if wait > 0:
                why = f"cooling down for {wait:.0f}s more after {self.breaker.reason(cooling) or 'failures'}"
                _emit(ctx, self.redact, "cooldown", model, f"skipped: {why}", seconds=round(wait, 3))
                deferred = _sooner(deferred, Outcome.failed("cooldown", Failure.TRANSIENT,
                                                            f"{settings.label(model)} is {why}",
                                                            retry_after=wait, model=model))
                switch = switch or (model, "cooling down")
                continue
            if switch is not None:
                _emit(ctx, self.redact, "fallback", model, switch[1], **{"from": switch[0]})
            result, opened = await self._call_with_retries(model, messages, call)
            if result.ok:
                return Outcome.success(model=model, **self.tally.fields()), result.text
            if result.timed_out:
                return self._timeout(result), result.text
            failure = result.failure
            assert failure is not None
            message = self.redact(f"{model}: {failure.message}")
            if result.bytes_written:  # the next attempt starts afresh, unless asking again would fail the same
                kind = Failure.PERSISTENT if failure.kind is Failure.PERSISTENT else Failure.TRANSIENT
                return Outcome.failed(failure.reason, kind,
                                      f"stream broke after {result.bytes_written} bytes: {message}",
                                      model=model, **self.tally.fields()), result.text
            switch = (model, f"{failure.reason}: {failure.message}")
            if failure.kind is Failure.CONTEXT:
                if settings.context_model and not context_used:
                    context_used = True
                    queue.appendleft(settings.context_model)
                    continue
                return Outcome.failed("context", Failure.CONTEXT, message, model=model,
                                      **self.tally.fields()), ""
            if failure.kind is Failure.TRANSIENT:
                retry_after = failure.retry_after if opened is None else max(opened, failure.retry_after or 0.0)
                deferred = _sooner(deferred, Outcome.failed(failure.reason, Failure.TRANSIENT, message,
                                                            retry_after=retry_after, model=model))
            else:
                final = Outcome.failed(failure.reason, Failure.PERSISTENT, message, model=model)
        ended = deferred or final
        assert ended is not None
        if final is None and not self.tally.calls:  # every model skipped as cooling: the attempt called none
            ended = Outcome.failed(NOT_CALLED, Failure.TRANSIENT, f"every model cools down, none was called: "
                                   f"{ended.message}", retry_after=ended.retry_after, model=ended.model)
        return _with_tally(ended, self.tally), ""

    async def _call_with_retries(self, model: str, messages: list[dict[str, Any]],
                                 call: int) -> tuple[CallResult, float | None]:
        """Call ``model``, retrying transient errors before any output; also returns a cooldown it opened."""
        ctx, settings = self.ctx, self.settings
        loop = asyncio.get_running_loop()
        mock = settings.mock_for(ctx.attempt, call)
        if mock is None:
            no_key = await missing_key(model, settings.key_for(model), settings.api_base)
            if no_key is not None:  # the operator's to fix, not the model's: no retry, no cooldown
                return CallResult(model=model, failure=no_key), None
        cooling = settings.cooldown_key(model)
        tries = 0
        while True:
            try:
                result = await stream_call(self._request(model, messages, mock), ctx.output, idle=ctx.idle_timeout,
                                           hard_deadline=self.hard_deadline, mock=mock is not None)
            except OutputUnwritable as exc:  # the attempt fails; what its calls cost still counts
                if exc.call is not None:
                    self.tally.add(exc.call)
                exc.spent = self.tally.fields()
                raise
            self.tally.add(result)
            if result.ok:
                self.breaker.record_success(cooling)
                return result, None
            failure = result.failure
            if failure is None:  # a timeout: the model stalled
                self.breaker.record_failure(cooling, result.timed_out or "timeout")
                return result, None
            opened, asked = None, ""
            if failure.model_level and mock is None:  # a stand-in's answer says nothing about the model
                opened = self.breaker.record_failure(cooling, failure.reason, retry_after=failure.retry_after)
            if opened is None and failure.retry_after is not None and failure.retry_after > settings.max_retry_wait:
                # Longer than any attempt waits: no job on the model could do better than wait for it.
                asked = f" ({failure.wait_text()})"
                opened = self.breaker.record_retry_after(cooling, f"{failure.reason} with {failure.wait_text()}",
                                                         failure.retry_after)
            if opened is not None:
                _emit(ctx, self.redact, "cooldown", model, f"{failure.reason}: {failure.message}; "
                      f"skipped for {opened:.0f}s{asked}", seconds=round(opened, 3))
            if failure.kind is not Failure.TRANSIENT or result.bytes_written or opened is not None:
                return result, opened
            tries += 1
            delay = _backoff(tries, settings.retry_delay, failure.retry_after)
            too_late = self.hard_deadline is not None and loop.time() + delay >= self.hard_deadline
            if tries > settings.retries or delay > settings.max_retry_wait or too_late:
                return result, None
            _emit(ctx, self.redact, "retry", model, f"{failure.reason}: {failure.message}",
                  delay=round(delay, 3), **{"try": tries})
            await asyncio.sleep(delay)

    def _request(self, model: str, messages: list[dict[str, Any]], mock: str | None) -> dict[str, Any]:
        request: dict[str, Any] = {**self.settings.params, "model": model, "messages": messages}
        if mock is not None:
            request["mock_response"] = mock
            return request
        if self.settings.api_base:
            request["api_base"] = self.settings.api_base
        key = self.settings.key_for(model)
        if key is not None:
            request["api_key"] = key
        return request

    def _timeout(self, result: CallResult) -> Outcome:
        ctx = self.ctx
        kind = result.timed_out or "hard_timeout"
        what = timeout_words(kind, ctx.idle_timeout if kind == "idle_timeout" else ctx.hard_timeout,
                             f"no tokens from {result.model}")
        failure = Failure.TRANSIENT if ctx.job.retry.on_timeout else Failure.PERSISTENT
        return Outcome.failed(kind, failure, f"{what}; stopped after {result.bytes_written} bytes",
                              model=result.model, **self.tally.fields())


def _backoff(tries: int, base: float, retry_after: float | None) -> float:
    delay = base * 2.0 ** (tries - 1) * (1.0 + 0.1 * random.random())
    return max(delay, retry_after or 0.0)


def _sooner(current: Outcome | None, candidate: Outcome) -> Outcome:
    if current is None:
        return candidate
    return candidate if (candidate.retry_after or 0.0) < (current.retry_after or 0.0) else current


def _with_tally(outcome: Outcome, tally: Tally) -> Outcome:
    return Outcome.failed(outcome.reason, outcome.failure or Failure.PERSISTENT, outcome.message,
                          retry_after=outcome.retry_after, model=outcome.model, **tally.fields())


def _messages(ctx: AttemptContext, settings: Settings) -> list[dict[str, Any]]:
    if ctx.job.prompt is None:
        raise AgentError(f"job '{ctx.job.id}' runs an llm agent but has no prompt")
    values, lookup = values_for(ctx)
    messages = [{"role": "user", "content": render(ctx.job.prompt, values, lookup)}]
    if settings.system:
        messages.insert(0, {"role": "system", "content": render(str(settings.system), values, lookup)})
    return messages


def _redactor(ctx: AttemptContext, settings: Settings) -> Redact:
    """The runner's redaction plus this attempt's API key, whatever its variable is called."""
    if not (settings.api_key and settings.api_key_name):
        return ctx.redactor.text
    own = Redactor({settings.api_key_name: settings.api_key})
    return lambda text: own.text(ctx.redactor.text(text))


def _emit(ctx: AttemptContext, redact: Redact, what: str, model: str | None, reason: str, **extra: Any) -> None:
    ctx.emit({"type": EventType.PROGRESS, "what": what, "model": model, "reason": redact(reason), **extra})


def _keep_invalid(ctx: AttemptContext) -> bytes:
    """Copy the rejected answer to ``output.invalid`` (0600), empty the output for the repair; return it."""
    data = ctx.output.path.read_bytes()
    fd = open_in(ctx.attempt_dir if ctx.attempt_dir_fd is None else ctx.attempt_dir_fd, "output.invalid",
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with open(fd, "wb") as kept:
        kept.write(data)
    ctx.output.restart()
    return data
