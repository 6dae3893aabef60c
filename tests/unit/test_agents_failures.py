"""Provider error classification and Retry-After parsing, on stand-in exception classes.

The classes below mimic litellm's by name and status (classify reads only those),
so these run without importing litellm; the functional tests cover the real ones.
"""

from __future__ import annotations

import pytest

from jobdeck.agents.base import Failure
from jobdeck.agents.failures import classify, retry_after_seconds


def error(name: str, status: int | None = None, message: str = "boom", headers: dict[str, str] | None = None,
          base: type[Exception] = Exception) -> Exception:
    cls = type(name, (base,), {})
    exc = cls(message)
    exc.message = message  # type: ignore[attr-defined]
    if status is not None:
        exc.status_code = status  # type: ignore[attr-defined]
    if headers is not None:
        exc.litellm_response_headers = headers  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(("exc", "kind", "reason"), [
    (error("RateLimitError", 429), Failure.TRANSIENT, "rate_limit"),
    (error("ServiceUnavailableError", 503), Failure.TRANSIENT, "server_error"),
    (error("InternalServerError", 500), Failure.TRANSIENT, "server_error"),
    (error("APIError", 502), Failure.TRANSIENT, "server_error"),
    (error("Timeout", 408), Failure.TRANSIENT, "timeout"),
    (error("APIConnectionError"), Failure.TRANSIENT, "connection"),
    (error("AuthenticationError", 401), Failure.PERSISTENT, "auth"),
    (error("PermissionDeniedError", 403), Failure.PERSISTENT, "auth"),
    (error("NotFoundError", 404), Failure.PERSISTENT, "not_found"),
    (error("BadRequestError", 400), Failure.PERSISTENT, "bad_request"),
    (error("ContextWindowExceededError", 400, base=error("BadRequestError").__class__), Failure.CONTEXT, "context"),
    (ConnectionRefusedError("refused"), Failure.TRANSIENT, "connection"),
    (ValueError("a bug"), Failure.PERSISTENT, "error"),
])
def test_classify(exc: Exception, kind: Failure, reason: str) -> None:
    failure = classify(exc)
    assert (failure.kind, failure.reason) == (kind, reason)


def test_only_model_level_failures_count_for_the_breaker() -> None:
    assert classify(error("AuthenticationError", 401)).model_level
    assert classify(error("ServiceUnavailableError", 503)).model_level
    assert not classify(error("BadRequestError", 400)).model_level
    assert not classify(error("ContextWindowExceededError", 400)).model_level


def test_message_loses_litellm_prefixes_and_gains_the_status() -> None:
    exc = error("ServiceUnavailableError", 503,
                "litellm.ServiceUnavailableError: ServiceUnavailableError: OpenAIException - The server is down.")
    assert classify(exc).message == "HTTP 503: The server is down."


def test_retry_after_from_headers() -> None:
    assert classify(error("RateLimitError", 429, headers={"Retry-After": "7"})).retry_after == 7.0
    assert classify(error("RateLimitError", 429)).retry_after is None


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "2"}, 2.0),
    ({"Retry-After": "1.5"}, 1.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
    ({"retry-after": "soon"}, None),
    ({"retry-after": "-3"}, 0.0),
    ({}, None),
])
def test_retry_after_seconds(headers: dict[str, str], seconds: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after_seconds(headers, now=lambda: now) == seconds


def test_a_missing_key_reported_as_a_server_error_is_an_auth_failure() -> None:
    """litellm reports the OpenAI SDK's "Missing credentials" as an HTTP 500."""
    class Missing(Exception):
        status_code = 500

    failure = classify(Missing("Missing credentials. Please pass an `api_key`, or set the `OPENAI_API_KEY` "
                               "environment variable."))
    assert (failure.kind, failure.reason) == (Failure.PERSISTENT, "auth")
    assert failure.message.startswith("no API key: set OPENAI_API_KEY")
    ordinary = classify(Missing("upstream connect error"))
    assert (ordinary.kind, ordinary.reason) == (Failure.TRANSIENT, "server_error")
