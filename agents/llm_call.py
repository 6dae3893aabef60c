"""One streamed litellm call: tokens into the attempt's output as they arrive.

This is the only module that imports litellm, and only inside ``load_litellm``,
so ``import agents`` (and ``jobdeck --help``) never pays its ~3.5 s import. The
call runs under one ``asyncio.timeout`` that expires at the earlier of the
attempt's hard deadline and "last chunk + idle timeout" (``_Deadline``). On
expiry the request is cancelled and the tokens already written stay in the
output file. Tokens reach the file at the end of the event-loop turn that read
them: the chunks of a burst (litellm hands over every event of one network read
in one turn) cost one write, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdeck.agents.base import Failure
from jobdeck.agents.failures import ProviderFailure, classify, cut_short, empty_answer
from jobdeck.agents.output_sink import OutputSink


#: A timer firing later than this (seconds) means the event loop was busy, not the stream idle.
LATE = 0.05


@functools.cache
def load_litellm() -> Any:
    """Import litellm configured for an unattended runner (no network at import, no .env, quiet).

    Cached: configuring again per call would re-add the warnings filter, and every
    change to the filters resets Python's per-location warning registry, which
    makes each of litellm's per-chunk warnings slow again.
    """
    # Without these, importing litellm fetches a price map over the network and
    # loads .env files from the working directory.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ["LITELLM_MODE"] = "PRODUCTION"
    import litellm

    litellm.suppress_debug_info = True
    # OpenAI-compatible providers go through the OpenAI SDK, whose chat resources
    # (~450 modules, 0.5 s) would otherwise be imported by the first call, on the event loop.
    with contextlib.suppress(ImportError):
        import openai.resources.chat  # noqa: F401
    # litellm's token counter loads a tiktoken vocabulary (~37 MB resident, more per
    # further vocabulary) to price a stream before its first token, and to guess the
    # usage of a provider that reports none. jobdeck records the usage the provider
    # reports (``stream_options.include_usage``) and nothing else.
    litellm.disable_token_counter = True
    # litellm trips pydantic's deprecation warnings on every streamed chunk; they are
    # litellm's to fix and would only clutter the runner's stderr.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"litellm(\.|$)")
    # The import leaves ~300,000 objects that live as long as the process; without this
    # every full collection walks them all again (~0.3 s each on these machines).
    # Collect first, so no garbage that happens to be pending is kept for good.
    gc.collect()
    gc.freeze()
    return litellm


async def _loaded_litellm() -> Any:
    """``load_litellm()``, off the event loop the first time (the import takes seconds)."""
    if load_litellm.cache_info().currsize:
        return load_litellm()
    return await asyncio.to_thread(load_litellm)


@dataclass
class CallResult:
    """How one call ended."""

    model: str
    text: str = ""
    """Everything the model streamed, unredacted (kept in memory for a repair re-ask only)."""
    bytes_written: int = 0
    """Bytes handed to the output sink (some may still be held back for redaction)."""
    usage: dict[str, int] = field(default_factory=dict)
    cost: float | None = None
    failure: ProviderFailure | None = None
    timed_out: str | None = None
    """None, "idle_timeout" or "hard_timeout"."""

    @property
    def ok(self) -> bool:
        return self.failure is None and self.timed_out is None


async def missing_key(model: str, api_key: str | None, api_base: str | None) -> ProviderFailure | None:
    """A failure naming the variable to set when ``model`` has no key to call with; None if it has one.

    Asked before the call: without a key the provider's SDK fails in ways litellm
    reports as a server error, which would be retried and cool the model down.
    """
    if api_key or api_base:  # a key given, or an endpoint of the agent's own (which may need none)
        return None
    litellm = await _loaded_litellm()
    try:
        found = litellm.validate_environment(model=model)
    except Exception:  # noqa: BLE001 - a model litellm cannot map: let the call itself say what is wrong
        return None
    missing = [name for name in found.get("missing_keys") or [] if name.endswith(("_KEY", "_TOKEN"))]
    if found.get("keys_in_environment") or not missing:
        return None
    return ProviderFailure(Failure.PERSISTENT, "auth",
                           f"no API key: set {' or '.join(missing)}, or give the agent \"api_key\": {{\"env\": NAME}}")


async def stream_call(request: Mapping[str, Any], sink: OutputSink, *, idle: float | None,
                      hard_deadline: float | None, mock: bool = False) -> CallResult:
    """Run ``litellm.acompletion(**request, stream=True)`` and stream its tokens into ``sink``.

    Args:
        request: keyword arguments for acompletion (model, messages, api_base...).
        sink: the attempt's output.
        idle: seconds allowed without a chunk (also before the first one), or None.
        hard_deadline: event-loop time by which the call must end, or None.
        mock: the request carries ``mock_response`` (cost is reported as 0).

    Returns:
        The result; provider errors and timeouts are results, not exceptions, and so is an
        answer that ends with no text (``empty_answer``).

    Raises:
        asyncio.CancelledError: the runner cancelled the attempt (the request is closed first).
        OutputUnwritable: the answer could not be written to ``sink`` (a full disk): the deck's failure,
            not the model's, so it is no result to retry on, fall back from or cool the model for.
    """
    # The event loop also serves every other attempt, the heartbeat and operator actions.
    litellm = await _loaded_litellm()
    result = CallResult(model=str(request["model"]))
    pieces: list[str] = []
    streamed = 0
    scope = asyncio.timeout(None)
    deadline = _Deadline(scope, idle, hard_deadline)
    now = deadline.loop.time
    usage: Any = None
    finish_reason: str | None = None
    unwritten: list[bytes] = []
    write_failed: list[OSError] = []

    def write_at_end_of_turn() -> None:
        if not unwritten:
            return
        try:
            sink.write(b"".join(unwritten))
        except OSError as exc:  # the stream stops at the next chunk; the call then raises the sink's failure
            write_failed.append(exc)
        unwritten.clear()

    try:
        async with scope:
            deadline.start()
            try:
                response = await litellm.acompletion(**request, stream=True, max_retries=0)
                try:
                    async for chunk in response:
                        deadline.last_chunk = now()
                        if write_failed:
                            break
                        if sink.over_limit:  # nothing more would be kept; the runner fails the attempt
                            break
                        piece, finished, last = _content(chunk)
                        if finished is not None:
                            finish_reason = finished
                        if piece:
                            data = piece.encode()
                            pieces.append(piece)
                            if not unwritten:
                                deadline.loop.call_soon(write_at_end_of_turn)
                            unwritten.append(data)
                            streamed += len(data)
                        if last:
                            usage = getattr(chunk, "usage", None) or usage
                finally:
                    await response.aclose()
                    write_at_end_of_turn()
            finally:
                deadline.stop()
    except TimeoutError as exc:
        if not scope.expired():
            result.failure = classify(exc, endpoint=request.get("api_base"), streamed_text=bool(pieces))
        else:
            result.timed_out = deadline.kind
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - every provider error is classified, none is swallowed
        result.failure = classify(exc, endpoint=request.get("api_base"), streamed_text=bool(pieces))
    else:
        if not pieces:  # (litellm makes up "stop" for a stream with no chunk at all)
            result.failure = empty_answer(mock=mock, finish_reason=finish_reason)
        elif finish_reason is None and not mock:  # (litellm 1.110 raises for it: _CUT_SHORT; older ones need not)
            result.failure = cut_short()
    result.text = "".join(pieces)
    result.bytes_written = streamed
    result.usage = usage_counts(usage)
    result.cost = 0.0 if mock else call_cost(litellm, result.model, usage, result.usage)
    if write_failed:  # the deck's failure, whatever the provider did: no model is to blame
        unwritable = sink.unwritable()
        assert unwritable is not None, "the sink keeps the error of the write that failed"
        unwritable.call = result  # what it cost, as far as the stream said before it stopped
        raise unwritable from write_failed[0]
    return result


class _Deadline:
    """Expires a call's timeout scope at its hard deadline or ``idle`` seconds after the last chunk.

    A chunk only records when it arrived (``last_chunk``); the timer looks at that
    when it fires and, if the stream moved since it was set, sets itself again for
    the new deadline. So a token costs no timer handle (each one would stay in the
    event loop's heap until its deadline, long after the next token replaced it).
    """

    def __init__(self, scope: asyncio.Timeout, idle: float | None, hard_deadline: float | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.scope, self.idle, self.hard_deadline = scope, idle, hard_deadline
        self.last_chunk = self.loop.time()
        """Event-loop time of the last chunk (or of the start)."""
        self.kind = "hard_timeout"
        """The deadline in force: "idle_timeout" or "hard_timeout"."""
        self._timer: asyncio.TimerHandle | None = None
        self._graced: float | None = None

    def start(self) -> None:
        """Arm the timer; call inside the scope."""
        self._check()

    def stop(self) -> None:
        """Disarm the timer; call before leaving the scope."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        due, self.kind = self.hard_deadline, "hard_timeout"
        if self.idle is not None:
            idle_due = self.last_chunk + self.idle
            if due is None or idle_due < due:
                due, self.kind = idle_due, "idle_timeout"
        self._timer = None
        if due is None:
            return
        now = self.loop.time()
        late = now - due
        if late > LATE and self.kind == "idle_timeout" and self._graced != self.last_chunk:
            # The event loop was busy past the deadline, so chunks that arrived meanwhile
            # are not read yet: give the stream as much time again before judging it.
            self._graced = self.last_chunk
            self._timer = self.loop.call_at(now + min(late, self.idle or late), self._check)
        elif late >= 0:
            self.scope.reschedule(due)  # in the past: the scope expires at once
        else:
            self._timer = self.loop.call_at(due, self._check)


def _content(chunk: Any) -> tuple[str | None, str | None, bool]:
    """The chunk's text, its finish_reason, and whether it may carry usage (no text, or the finishing chunk).

    Usage comes in the chunk after the last token; looking for it on every chunk
    costs a pydantic attribute miss (an exception inside) per token.
    """
    choices = getattr(chunk, "choices", None)
    if not choices:
        return None, None, True
    choice = choices[0]
    delta = _field(choice, "delta")
    content = _field(delta, "content") if delta is not None else None
    finish_reason = _field(choice, "finish_reason")
    return content, finish_reason, not content or finish_reason is not None


def _field(model: Any, name: str) -> Any:
    """``getattr(model, name, None)``, read straight from a pydantic model's extra fields when it is one.

    litellm's streaming choice and delta keep their fields as pydantic extras, where
    plain attribute access goes through ``BaseModel.__getattr__`` (~2.5 µs each).
    """
    extra = getattr(model, "__pydantic_extra__", None)
    if extra and name in extra:
        return extra[name]
    return getattr(model, name, None)


def usage_counts(usage: Any) -> dict[str, int]:
    """The provider's token counts; none when it reported none (litellm then fills in zeros)."""
    if usage is None:
        return {}
    counts = {}
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = getattr(usage, name, None)
        if isinstance(value, int):
            counts[name] = value
    return counts if any(counts.values()) else {}


def call_cost(litellm: Any, model: str, usage: Any, counts: dict[str, int]) -> float | None:
    reported = getattr(usage, "cost", None)
    if isinstance(reported, int | float):
        return float(reported)
    # litellm prices the usage chunk itself when it knows the model; asking again
    # for a model missing from its price map costs ~1 ms of CPU per call for nothing.
    prices = getattr(litellm, "model_cost", {})
    if not counts or (model not in prices and model.split("/", 1)[-1] not in prices):
        return None
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=counts.get("prompt_tokens", 0),
            completion_tokens=counts.get("completion_tokens", 0),
        )
    except Exception:  # noqa: BLE001 - models without a price (local, custom) have no cost; that is not an error
        return None
    return float(prompt_cost + completion_cost)
