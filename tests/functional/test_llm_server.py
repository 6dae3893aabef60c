"""The scripted OpenAI-compatible test server speaks the wire format the llm tests rely on."""

from __future__ import annotations

import http.client
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from tests.fixtures.llm_server import (  # noqa: E402
    CONTEXT_MESSAGE, Cut, LLMServer, Reply, context_too_long, rate_limited,
)


def post(server: LLMServer, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"{server.base_url}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer t"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_non_streaming_reply_and_request_log() -> None:
    with LLMServer() as server:
        server.script("m", Reply(["a", "b"]))
        status, _, body = post(server, {"model": "m", "messages": [{"role": "user", "content": "hi there"}]})
        assert status == 200
        reply = json.loads(body)
        assert reply["choices"][0]["message"]["content"] == "ab" and reply["usage"]["prompt_tokens"] == 2
        [seen] = server.calls("m")
        assert seen.messages == [{"role": "user", "content": "hi there"}] and seen.authorization == "Bearer t"


def test_streaming_sends_sse_chunks_usage_and_done() -> None:
    with LLMServer() as server:
        status, headers, body = post(server, {"model": "m", "stream": True, "messages": [],
                                              "stream_options": {"include_usage": True}})
        assert status == 200 and headers["Content-Type"] == "text/event-stream"
        events = [line[len("data: "):] for line in body.decode().splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello, world."
        assert chunks[-1]["usage"]["total_tokens"] >= 1


def test_errors_use_openais_format_and_retry_after() -> None:
    with LLMServer() as server:
        server.script("*", rate_limited(retry_after=3), context_too_long())
        status, headers, body = post(server, {"model": "any", "messages": []})
        assert status == 429 and headers["Retry-After"] == "3"
        assert json.loads(body)["error"]["code"] == "rate_limit_exceeded"
        status, _, body = post(server, {"model": "other", "messages": []})
        assert status == 400 and json.loads(body)["error"] == {
            "message": CONTEXT_MESSAGE, "type": "invalid_request_error", "param": None,
            "code": "context_length_exceeded"}


def stream_events(server: LLMServer, model: str) -> list[str]:
    status, headers, body = post(server, {"model": model, "stream": True, "messages": []})
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    return [line[len("data: "):] for line in body.decode().splitlines() if line.startswith("data: ")]


def test_cut_streams_end_without_a_finish_reason_and_replies_may_finish_otherwise() -> None:
    with LLMServer() as server:
        server.script("*", Cut(role=False), Cut(role=False, done=True), Cut(["part"]), Cut(["part"], abrupt=True),
                      Reply([], finish_reason="content_filter"))
        assert stream_events(server, "m") == []
        assert stream_events(server, "m") == ["[DONE]"]
        choices = [json.loads(event)["choices"][0] for event in stream_events(server, "m")]
        assert [choice["delta"] for choice in choices] == [{"role": "assistant", "content": ""}, {"content": "part"}]
        assert {choice["finish_reason"] for choice in choices} == {None}
        with pytest.raises(http.client.IncompleteRead):  # the chunked body never ends
            stream_events(server, "m")
        finished = [json.loads(event) for event in stream_events(server, "m")[:-1]]
        assert [c["choices"][0]["finish_reason"] for c in finished if c["choices"]] == [None, "content_filter"]
