"""Classify LLM provider errors: retry, fall back, switch to a larger model, or give up.

litellm maps every provider's errors onto OpenAI's exception classes, each with a
``status_code``; this module reads those (and class names, for the few errors
without a useful status) so it never has to import litellm itself. It also
reads Retry-After, which litellm keeps on ``exc.litellm_response_headers``.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobdeck.agents.base import Failure


@dataclass(frozen=True, slots=True)
class ProviderFailure:
    """One failed call, classified."""

    kind: Failure
    reason: str
    """Short machine-readable reason: rate_limit, server_error, connection, auth, not_found, bad_request, context."""
    message: str
    status: int | None = None
    retry_after: float | None = None

    @property
    def model_level(self) -> bool:
        """Whether the failure says something about the model (breaker counts it), not about this request."""
        return self.kind is Failure.TRANSIENT or self.reason in ("auth", "not_found")


_TRANSIENT_NAMES = {
    "RateLimitError": "rate_limit",
    "Timeout": "timeout",
    "APITimeoutError": "timeout",
    "APIConnectionError": "connection",
    "InternalServerError": "server_error",
    "ServiceUnavailableError": "server_error",
    "BadGatewayError": "server_error",
    "MidStreamFallbackError": "server_error",
}


def classify(exc: BaseException, *, now: Callable[[], float] = time.time) -> ProviderFailure:
    """How to handle ``exc`` raised by a litellm call."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    status = _status(exc)
    message = _one_line(str(getattr(exc, "message", None) or exc) or type(exc).__name__)
    if status is not None:
        message = f"HTTP {status}: {message}"
    retry_after = retry_after_seconds(_headers(exc), now=now)
    if "ContextWindowExceededError" in names:
        return ProviderFailure(Failure.CONTEXT, "context", message, status)
    if _MISSING_KEY.search(message):  # providers' SDKs say so in many ways, litellm often as an HTTP 500
        missing = _KEY_NAME.search(message)
        return ProviderFailure(Failure.PERSISTENT, "auth", f"no API key{f': set {missing.group(0)}' if missing else ''}"
                               f" ({message})", status)
    if status == 429 or "RateLimitError" in names:
        return ProviderFailure(Failure.TRANSIENT, "rate_limit", message, status, retry_after)
    for name in names:
        if name in _TRANSIENT_NAMES:
            return ProviderFailure(Failure.TRANSIENT, _TRANSIENT_NAMES[name], message, status, retry_after)
    if status is not None:
        if status in (408, 409) or status >= 500:
            return ProviderFailure(Failure.TRANSIENT, "server_error", message, status, retry_after)
        if status in (401, 403):
            return ProviderFailure(Failure.PERSISTENT, "auth", message, status)
        if status == 404:
            return ProviderFailure(Failure.PERSISTENT, "not_found", message, status)
        return ProviderFailure(Failure.PERSISTENT, "bad_request", message, status)
    if isinstance(exc, OSError):
        return ProviderFailure(Failure.TRANSIENT, "connection", message)
    return ProviderFailure(Failure.PERSISTENT, "error", f"{type(exc).__name__}: {message}")


_MISSING_KEY = re.compile(r"missing credentials|api[ _-]?key (?:is )?(?:missing|not (?:set|found|provided))|"
                          r"(?:no|missing) api[ _-]?key|set the \S*_API_KEY", re.IGNORECASE)
_KEY_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:API_KEY|TOKEN|KEY)\b")


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
