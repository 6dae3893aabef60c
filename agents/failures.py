"""Classify LLM provider errors: retry, fall back, switch to a larger model, or give up.

litellm maps every provider's errors onto OpenAI's exception classes, each with a
``status_code``; this module reads those (and class names, for the few errors
without a useful status) so it never has to import litellm itself. It also
reads Retry-After, which litellm keeps on ``exc.litellm_response_headers``,
and believes it for ``MAX_RETRY_AFTER`` at most, so every wait built on it (the
attempt's retry, the model's cooldown, the job's next attempt) has one bound.
A call that never got a response (refused, DNS, TLS, proxy) is reported by
litellm as an HTTP 500 like the provider's own; the transport error it chains
tells them apart, and the operator is told to look at their network instead.
An answer with no text (HTTP 200, and a stream that carries none) is
``empty_answer``, transient like a 5xx: no job wants an empty answer. A stream
litellm stops for repeating one chunk is ``repeating``, also an HTTP 500 of
litellm's making: persistent, since the model asked again loops again.
"""

from __future__ import annotations

import email.utils
import errno
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobdeck.agents.base import Failure
from jobdeck.state.durations import format_duration

MAX_RETRY_AFTER = 3600.0
"""The longest Retry-After believed (seconds). A day's, or an HTTP date years ahead, is a quota only the
operator can lift or a misconfigured proxy; past an hour one call finds out again, and costs little."""


@dataclass(frozen=True, slots=True)
class ProviderFailure:
    """One failed call, classified."""

    kind: Failure
    reason: str
    """Short machine-readable reason: rate_limit, server_error, connection, timeout, empty_answer, auth, not_found,
    bad_request, context.

    "connection": no HTTP status came back (refused, DNS, TLS, proxy, a dropped connection), or the stream stopped
    before the answer's end, whatever litellm said. "empty_answer": HTTP 200 and no text. "repeating": the stream
    gave one chunk over and over (litellm stopped it)."""
    message: str
    status: int | None = None
    retry_after: float | None = None
    """Seconds the provider asked to wait before the next call (Retry-After), at most MAX_RETRY_AFTER."""
    asked: float | None = None
    """What the Retry-After asked for when that was more than MAX_RETRY_AFTER (``retry_after`` is then the cap)."""

    def wait_text(self) -> str:
        """The provider's wait in a cooldown's reason: "Retry-After 15m00s", "Retry-After 2d0h, capped at 1h00m"."""
        if self.retry_after is None:
            return ""
        if self.asked is None:
            return f"Retry-After {format_duration(self.retry_after)}"
        return f"Retry-After {format_duration(self.asked)}, capped at {format_duration(self.retry_after)}"

    @property
    def model_level(self) -> bool:
        """Whether the failure says something about the model (breaker counts it), not about this request.

        An unreachable endpoint counts: its cooldown spares every job the calls that would fail, and the
        attempt's retry waits for it, rather than an outage using up each job's tries in seconds."""
        return self.kind is Failure.TRANSIENT or self.reason in ("auth", "not_found")


_TRANSIENT_NAMES = {
    "RateLimitError": "rate_limit",
    "Timeout": "timeout",
    "APITimeoutError": "timeout",
    "InternalServerError": "server_error",
    "ServiceUnavailableError": "server_error",
    "BadGatewayError": "server_error",
    "MidStreamFallbackError": "server_error",
}


#: Transport errors raised while connecting, by class name: httpx's (litellm's aiohttp transport maps onto
#: them), aiohttp's and the socket's own. No request reached the provider.
_CONNECT_NAMES = frozenset({"ConnectError", "ConnectTimeout", "ProxyError", "UnsupportedProtocol",
                            "ClientConnectorError", "ConnectionTimeoutError", "ConnectionRefusedError", "gaierror"})
#: Transport errors of any phase: the exchange broke off, so no HTTP status was received.
_TRANSPORT_NAMES = frozenset({"TransportError", "APIConnectionError", "ClientConnectionError", "ClientPayloadError"})
#: A provider that accepted the connection and went silent: "timeout", not "connection".
_TIMEOUT_NAMES = frozenset({"Timeout", "APITimeoutError", "TimeoutException", "ServerTimeoutError", "TimeoutError"})


#: What litellm (1.110) raises, as an HTTP 500 of its own, when an OpenAI-style stream ends before a finish_reason
#: (``CustomStreamWrapper._stream_eof_error``): the provider answered 200 and stopped short.
_CUT_SHORT = "Stream ended before a finish_reason was received"


#: What litellm raises, as an HTTP 500 of its own, when a stream gives the same chunk ``REPEATED_STREAMING_CHUNK_LIMIT``
#: (100) times in a row (``CustomStreamWrapper.raise_on_model_repetition``), followed by " = <the chunk>.".
_REPEATING = "The model is repeating the same chunk"
#: Characters of the repeated chunk a message shows: enough to recognise it, not a screenful of it.
REPEATED_SHOWN = 40


def repeating(message: str) -> ProviderFailure:
    """A stream litellm stopped for repeating one chunk (``message`` is its error): a loop the model would repeat."""
    chunk = message.split(" = ", 1)[1] if " = " in message else ""
    chunk = chunk.removesuffix("…").removesuffix(".")
    shown = repr(chunk if len(chunk) <= REPEATED_SHOWN else chunk[:REPEATED_SHOWN] + "…") if chunk else "a chunk"
    return ProviderFailure(Failure.PERSISTENT, "repeating",
                           f"the model kept repeating {shown} (litellm stopped the stream): asked again it would "
                           f"loop again; change the prompt or the model's sampling (temperature, frequency_penalty)")


#: Why a model stopped with no text, when it says (``finish_reason``), and what to change: asked again, it answers
#: the same, so such an empty answer is no blip to retry nor a sign of the model's health (no breaker, no cooldown).
_EMPTY_FOR = {
    "length": "it used up max_tokens before any text (a reasoning model can): raise the agent's max_tokens",
    "content_filter": "the provider's content filter withheld it: the prompt is the thing to change",
    "tool_calls": "it asked to call a tool, which a jobdeck llm job does not offer: say so in the prompt",
    "function_call": "it asked to call a function, which a jobdeck llm job does not offer: say so in the prompt",
}


def empty_answer(detail: str = "", *, mock: bool = False, finish_reason: str | None = None) -> ProviderFailure:
    """A call answered with no text (``detail`` says more, e.g. " (the stream ended without a finish_reason)").

    Retried as a 5xx is, unless the model said why it stopped (``finish_reason`` other than "stop"): then it
    would answer the same again, so the failure is persistent (the next model in the chain is tried)."""
    if mock:
        return ProviderFailure(Failure.TRANSIENT, "empty_answer", "answered with no content (mock_response is empty)")
    if finish_reason not in (None, "stop"):
        why = _EMPTY_FOR.get(finish_reason, "asked again, it would answer the same")
        return ProviderFailure(Failure.PERSISTENT, "empty_answer",
                               f"answered 200 with no content (finish_reason {finish_reason}): {why}")
    return ProviderFailure(Failure.TRANSIENT, "empty_answer", f"answered 200 with no content{detail}")


def cut_short() -> ProviderFailure:
    """A stream that gave some text, then ended with no finish_reason: the answer was cut short (a broken stream)."""
    return ProviderFailure(Failure.TRANSIENT, "connection",
                           "the stream ended before its finish_reason: the answer was cut short")


def classify(exc: BaseException, *, endpoint: str | None = None, streamed_text: bool = False,
             now: Callable[[], float] = time.time) -> ProviderFailure:
    """How to handle ``exc`` raised by a litellm call (to ``endpoint``, the api_base, when the call named one).

    ``streamed_text``: the call had received some of the answer's text when it failed.
    """
    names = [cls.__name__ for cls in type(exc).__mro__]
    status = _status(exc)
    message = _one_line(str(getattr(exc, "message", None) or exc) or type(exc).__name__)
    if _CUT_SHORT in message:
        if not streamed_text:
            return empty_answer(" (the stream ended without a finish_reason)")
        return cut_short()
    if _REPEATING in message:
        return repeating(message)
    if status is not None:
        message = f"HTTP {status}: {message}"
    wait = _believed(retry_after_seconds(_headers(exc), now=now))
    if "ContextWindowExceededError" in names:
        return ProviderFailure(Failure.CONTEXT, "context", message, status)
    if _MISSING_KEY.search(message):  # providers' SDKs say so in many ways, litellm often as an HTTP 500
        missing = _KEY_NAME.search(message)
        return ProviderFailure(Failure.PERSISTENT, "auth", f"no API key{f': set {missing.group(0)}' if missing else ''}"
                               f" ({message})", status)
    unanswered = _unanswered(exc, endpoint)
    if unanswered is not None:
        return unanswered
    if status == 429 or "RateLimitError" in names:
        return ProviderFailure(Failure.TRANSIENT, "rate_limit", message, status, *wait)
    for name in names:
        if name in _TRANSIENT_NAMES:
            return ProviderFailure(Failure.TRANSIENT, _TRANSIENT_NAMES[name], message, status, *wait)
    if status is not None:
        if status in (408, 409) or status >= 500:
            return ProviderFailure(Failure.TRANSIENT, "server_error", message, status, *wait)
        if status in (401, 403):
            return ProviderFailure(Failure.PERSISTENT, "auth", message, status)
        if status == 404:
            return ProviderFailure(Failure.PERSISTENT, "not_found", message, status)
        return ProviderFailure(Failure.PERSISTENT, "bad_request", message, status)
    if isinstance(exc, OSError):
        return ProviderFailure(Failure.TRANSIENT, "connection", message)
    return ProviderFailure(Failure.PERSISTENT, "error", f"{type(exc).__name__}: {message}")


def _believed(asked: float | None) -> tuple[float | None, float | None]:
    """(retry_after, asked) of a ProviderFailure: the wait bounded by MAX_RETRY_AFTER, and what was asked past it."""
    if asked is None or asked <= MAX_RETRY_AFTER:
        return asked, None
    return MAX_RETRY_AFTER, asked


_MISSING_KEY = re.compile(r"missing credentials|api[ _-]?key (?:is )?(?:missing|not (?:set|found|provided))|"
                          r"(?:no|missing) api[ _-]?key|set the \S*_API_KEY", re.IGNORECASE)
_KEY_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:API_KEY|TOKEN|KEY)\b")


def _unanswered(exc: BaseException, endpoint: str | None) -> ProviderFailure | None:
    """A "connection" failure when ``exc`` chains a transport error (whatever status litellm gave it); else None."""
    chain = _chain(exc)
    kinds = [{cls.__name__ for cls in type(link).__mro__} for link in chain]
    connecting = any(kind & _CONNECT_NAMES for kind in kinds)
    silent = not connecting and any(kind & _TIMEOUT_NAMES for kind in kinds)
    if not connecting and not silent and not any(kind & _TRANSPORT_NAMES for kind in kinds):
        return None
    if endpoint:  # as configured: one without a scheme, say, is the operator's to see
        where = f" at {_display_url(endpoint) or endpoint.split('?', 1)[0].rsplit('@', 1)[-1]}"
    else:
        where = _host_of(chain)
    if silent:  # it took the request and went silent: a timeout, whatever status litellm gave it
        timed = next(link for link, kind in zip(chain, kinds, strict=True) if kind & _TIMEOUT_NAMES)
        return ProviderFailure(Failure.TRANSIENT, "timeout", f"no answer from the provider{where} in time: "
                               f"{_one_line(str(timed)) or 'timed out'}")
    if connecting:
        return ProviderFailure(Failure.TRANSIENT, "connection", f"could not reach the provider{where}: "
                               f"{_connect_detail(chain, kinds)} (network, DNS, proxy or api_base)")
    broke = next((link for link, kind in zip(chain, kinds, strict=True) if "TransportError" in kind), chain[-1])
    detail = _one_line(str(broke)) or "Connection error"
    return ProviderFailure(Failure.TRANSIENT, "connection", f"the connection to the provider{where} broke: {detail}")


def _chain(exc: BaseException, limit: int = 16) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(chain) < limit and all(link is not seen for seen in chain):
        chain.append(link)
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    return chain


def _connect_detail(chain: list[BaseException], kinds: list[set[str]]) -> str:
    """Why the connection failed, in the words of the innermost error that says."""
    for link, kind in zip(reversed(chain), reversed(kinds), strict=True):
        if "gaierror" in kind or "ClientConnectorDNSError" in kind:
            return f"DNS lookup failed: {getattr(link, 'strerror', None) or _one_line(str(link))}"
        if "SSLError" in kind:
            return f"TLS failed: {_one_line(getattr(link, 'strerror', None) or str(link))}"
        if "ConnectionRefusedError" in kind:
            return "connection refused"
        if kind & _TIMEOUT_NAMES:
            return "timed out connecting"
        code = getattr(link, "errno", None)
        if isinstance(link, OSError) and isinstance(code, int) and code > 0:
            return os.strerror(code)
        if "ConnectionResetError" in kind:
            return os.strerror(errno.ECONNRESET)
    said = [_one_line(str(link)) for link, kind in zip(chain, kinds, strict=True) if kind & _CONNECT_NAMES]
    return next((text for text in reversed(said) if text), "Connection error")


def _host_of(chain: list[BaseException]) -> str:
    """' at scheme://host:port' of the innermost request in ``chain``; litellm's own wrapper names a placeholder."""
    for link in reversed(chain):
        try:
            request = getattr(link, "request", None)
        except RuntimeError:  # httpx's errors raise it when they were given no request
            continue
        origin = _display_url(str(getattr(request, "url", "") or ""), path=False)
        if origin:
            return f" at {origin}"
    return ""


def _display_url(url: str, *, path: bool = True) -> str:
    """``url`` without credentials, query or fragment (they may carry a key); "" if it names no host."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return ""
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path if path else "", "", ""))


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds a provider asked us to wait: ``retry-after-ms``, ``retry-after`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _headers(exc: BaseException) -> Mapping[str, str] | None:
    for source in (getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None),
                   getattr(getattr(exc, "response", None), "headers", None)):
        if source:
            return _as_mapping(source)
    return None


def _as_mapping(headers: Any) -> Mapping[str, str] | None:
    try:
        return {str(k): str(v) for k, v in headers.items()}
    except AttributeError:
        return None


_PREFIX = re.compile(r"^(?:(?:litellm\.)?[A-Za-z]+(?:Error|Exception)\s*[:-]\s*)+")


def _one_line(text: str, limit: int = 500) -> str:
    """One line without litellm's stacked class-name prefixes ("litellm.XError: XError: OpenAIException - ")."""
    line = _PREFIX.sub("", " ".join(str(text).split())) or " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
