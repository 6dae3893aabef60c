"""Provider error classification and Retry-After parsing, on stand-in exception classes.

The classes below mimic litellm's by name and status (classify reads only those),
so these run without importing litellm; the functional tests cover the real ones.
"""

from __future__ import annotations

import pytest

from jobdeck.agents.base import Failure
from jobdeck.agents.failures import MAX_RETRY_AFTER, classify, retry_after_seconds


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


@pytest.mark.parametrize(("name", "status", "headers", "wait", "asked", "words"), [
    ("RateLimitError", 429, {"Retry-After": "900"}, 900.0, None, "Retry-After 15m00s"),
    ("ServiceUnavailableError", 503, {"Retry-After": "3600"}, 3600.0, None, "Retry-After 1h00m"),
    ("RateLimitError", 429, {"Retry-After": "86400"}, MAX_RETRY_AFTER, 86400.0, "Retry-After 1d0h, capped at 1h00m"),
    # an HTTP date a year ahead (now is 2015-10-21 07:28:00 GMT)
    ("RateLimitError", 429, {"Retry-After": "Fri, 21 Oct 2016 07:28:00 GMT"}, MAX_RETRY_AFTER, 366 * 86400.0,
     "Retry-After 366d0h, capped at 1h00m"),
    ("RateLimitError", 429, {"retry-after-ms": "7200000"}, MAX_RETRY_AFTER, 7200.0,
     "Retry-After 2h00m, capped at 1h00m"),
])
def test_a_retry_after_is_believed_up_to_an_hour_and_says_what_was_asked(
        name: str, status: int, headers: dict[str, str], wait: float, asked: float | None, words: str) -> None:
    failure = classify(error(name, status, headers=headers), now=lambda: 1445412480.0)
    assert (failure.kind, failure.retry_after, failure.asked) == (Failure.TRANSIENT, wait, asked)
    assert failure.wait_text() == words


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


class _Request:
    def __init__(self, url: str) -> None:
        self.url = url


def chained(*links: Exception) -> Exception:
    """``links[0]`` raised while handling ``links[1]``, that while handling ``links[2]``...: litellm's chains."""
    for outer, inner in zip(links, links[1:], strict=False):
        outer.__context__ = inner
    return links[0]


def unreached_as_litellm_reports_it(inner: Exception) -> Exception:
    """litellm's InternalServerError (500, placeholder request) over openai's APIConnectionError over httpx's."""
    top = error("InternalServerError", 500, "litellm.InternalServerError: OpenAIException - Connection error.")
    top.request = _Request("https://api.openai.com/v1")  # type: ignore[attr-defined]
    connection = error("APIConnectionError", message="Connection error.")
    url = "https://user:secret@llm.example:8443/v1/chat/completions?key=k"
    connection.request = _Request(url)  # type: ignore[attr-defined]
    transport = type("TransportError", (Exception,), {})
    connect = type("ConnectError", (transport,), {})("Cannot connect to host llm.example:8443")
    return chained(top, connection, connect, inner)


@pytest.mark.parametrize(("inner", "detail"), [
    (ConnectionRefusedError(111, "Connect call failed ('10.0.0.1', 8443)"), "connection refused"),
    (type("gaierror", (OSError,), {})(-2, "Name or service not known"), "DNS lookup failed: Name or service not known"),
    (type("SSLError", (OSError,), {})(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
     "TLS failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
    (OSError(101, "Network is unreachable"), "Network is unreachable"),
])
def test_a_provider_never_reached_is_a_connection_failure_not_an_http_500(inner: Exception, detail: str) -> None:
    failure = classify(unreached_as_litellm_reports_it(inner))
    assert (failure.kind, failure.reason, failure.status) == (Failure.TRANSIENT, "connection", None)
    assert failure.message == (f"could not reach the provider at https://llm.example:8443: {detail}"
                               " (network, DNS, proxy or api_base)"), "the real host, without credentials or query"
    assert failure.model_level, "a cooldown spares every job the calls an unreachable endpoint would fail"


def test_the_api_base_the_call_named_is_the_place_not_reached() -> None:
    failure = classify(unreached_as_litellm_reports_it(ConnectionRefusedError(111, "refused")),
                       endpoint="http://proxy-user:pw@127.0.0.1:4000/v1?token=t")
    assert failure.message.startswith("could not reach the provider at http://127.0.0.1:4000/v1: connection refused")


def test_a_connection_dropped_without_a_response_is_no_http_500_either() -> None:
    transport = type("TransportError", (Exception,), {})
    dropped = chained(error("InternalServerError", 500, "Connection error."), error("APIConnectionError"),
                      type("ReadError", (transport,), {})("Server disconnected"))
    failure = classify(dropped)
    assert (failure.reason, failure.status, failure.message) == (
        "connection", None, "the connection to the provider broke: Server disconnected")


def test_a_real_http_500_and_a_read_timeout_keep_their_reasons() -> None:
    answered = chained(error("InternalServerError", 500, "The server had an error."),
                       error("HTTPStatusError", message="Server error '500 Internal Server Error'"))
    failure = classify(answered)
    assert (failure.reason, failure.message) == ("server_error", "HTTP 500: The server had an error.")
    timeout = type("TimeoutException", (type("TransportError", (Exception,), {}),), {})
    silent = chained(error("Timeout", 408, "Request timed out."), error("APITimeoutError"), timeout("read timed out"))
    assert classify(silent).reason == "timeout", "the provider took the request and went silent"


def test_a_read_timeout_litellm_reports_as_a_connection_error_is_a_timeout_not_an_http_500() -> None:
    timeout = type("ReadTimeout", (type("TimeoutException", (type("TransportError", (Exception,), {}),), {}),), {})
    wrapped = chained(error("InternalServerError", 500, "litellm.InternalServerError: Connection error."),
                      error("APIConnectionError", message="Connection error."), timeout("read timed out"))
    failure = classify(wrapped, endpoint="http://127.0.0.1:4000/v1")
    assert (failure.kind, failure.reason, failure.status) == (Failure.TRANSIENT, "timeout", None)
    assert failure.message == "no answer from the provider at http://127.0.0.1:4000/v1 in time: read timed out"
