"""The llm agent through the real litellm path against the local OpenAI-compatible server.

Every test scripts the server per model name, runs one or more real attempts
(real output files, real HTTP), and checks what reached the output, the events
and the server. A canary API key is set for the whole module; after the last
test no file under the module's deck may contain it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.fixtures

from jobdeck.agents.base import Failure, Outcome  # noqa: E402
from jobdeck.agents.breaker import Breaker  # noqa: E402
from jobdeck.agents.llm import LLMAgent  # noqa: E402
from jobdeck.agents.output_sink import OutputSink, OutputUnwritable  # noqa: E402
from jobdeck.agents.registry import Registry  # noqa: E402
from jobdeck.agents.validation import check_output  # noqa: E402
from jobdeck.state.cooldowns import cooldown_key  # noqa: E402
from jobdeck.state.errors import AgentError  # noqa: E402
from jobdeck.state.redact import Redactor  # noqa: E402
from tests.fixtures.attempts import Attempt, make_attempt, make_spec  # noqa: E402
from tests.fixtures.llm_server import (  # noqa: E402
    Cut, LLMServer, Reply, Stall, Step, bad_request, context_too_long, rate_limited, server_error, unauthorized,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:litellm.*")

CANARY = "sk-canary-" + secrets.token_hex(12)
KEY_VAR = "JOBDECK_TEST_API_KEY"


@pytest.fixture(scope="session")
def litellm_loaded() -> Any:
    """litellm imported once per test process (it takes seconds)."""
    from jobdeck.agents.llm_call import load_litellm

    return load_litellm()


@pytest.fixture(scope="module", autouse=True)
def canary_key() -> Iterator[str]:
    """Set the canary key; afterwards restore os.environ as it was.

    litellm adds TIKTOKEN_CACHE_DIR to os.environ on its first call; left there it
    would leak into later tests' runner subprocesses (whose redactor treats
    *TOKEN* names as secrets).
    """
    before = dict(os.environ)
    os.environ[KEY_VAR] = CANARY
    yield CANARY
    os.environ.clear()
    os.environ.update(before)


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("llm-deck")
    yield root
    leaks = [str(p) for p in root.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert not leaks, f"the canary API key reached: {leaks}"


@pytest.fixture(scope="module")
def server(litellm_loaded: Any) -> Iterator[LLMServer]:
    with LLMServer() as running:
        yield running


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A model-name prefix unique to the test, so scripts never cross tests."""
    full = request.node.name
    return f"{full.removeprefix('test_')[:32]}-{hashlib.sha1(full.encode()).hexdigest()[:6]}"


def local_agents(base_url: str, **options: Any) -> dict[str, Any]:
    return {"local": {"type": "llm", "api_base": base_url, "api_key": {"env": KEY_VAR},
                      "options": {"retry_delay": 0.01, **options}}}


def attempt(deck: Path, server_url: str, job_id: str, model: str, *, options: dict[str, Any] | None = None,
            idle: float | None = None, hard: float | None = None, **job: Any) -> Attempt:
    spec = {"id": job_id, "agent": "local", "model": f"openai/{model}", "prompt": "Say hello.", **job}
    return make_attempt(deck, spec, agents=local_agents(server_url, **(options or {})), idle=idle, hard=hard)


def run(record: Attempt, agent: LLMAgent | None = None) -> Outcome:
    try:
        return asyncio.run((agent or LLMAgent(Breaker())).run(record.ctx))
    finally:
        record.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition from the event loop (the output file is written by the same loop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


def test_tokens_stream_into_the_output_before_the_reply_ends(deck: Path, server: LLMServer, name: str) -> None:
    gate = threading.Event()
    first = "first token, long enough to pass the redaction hold-back " + "." * 40
    server.script(name, Reply([first, " second", " third"], gate=gate, gate_after=1))
    record = attempt(deck, server.base_url, name, name)

    async def scenario() -> Outcome:
        task = asyncio.create_task(LLMAgent(Breaker()).run(record.ctx))
        await wait_until(lambda: record.ctx.output.path.read_text().startswith("first token"))
        assert not task.done(), "the reply was still held by the server"
        gate.set()
        return await task

    outcome = asyncio.run(scenario())
    record.close()
    assert outcome.ok and outcome.model == f"openai/{name}"
    assert record.ctx.output.path.read_text() == first + " second third"
    assert outcome.usage is not None and outcome.usage["completion_tokens"] >= 1
    assert outcome.usage["calls"] == 1
    assert server.calls(name)[0].authorization == f"Bearer {CANARY}", "the key comes from the env reference"


def test_a_stall_ends_in_an_idle_timeout_and_keeps_the_partial_output(deck: Path, server: LLMServer,
                                                                      name: str) -> None:
    server.script(name, Stall(["partial ", "answer "]))
    record = attempt(deck, server.base_url, name, name, idle=0.3, hard=30)
    started = time.monotonic()
    outcome = run(record)
    assert time.monotonic() - started < 5
    assert (outcome.ok, outcome.reason, outcome.failure) == (False, "idle_timeout", Failure.TRANSIENT)
    assert record.ctx.output.path.read_text() == "partial answer "
    assert len(server.calls(name)) == 1, "a timeout ends the attempt; the runner decides on another"


def test_the_idle_timeout_counts_from_the_last_token_not_from_the_start(deck: Path, server: LLMServer,
                                                                       name: str) -> None:
    # six tokens over ~0.6 s (longer than the idle timeout), then nothing until the client gives up
    never = threading.Event()
    server.script(name, Reply([f"t{n} " for n in range(8)], delay=0.1, gate=never, gate_after=6))
    record = attempt(deck, server.base_url, name, name, idle=0.35, hard=30)
    outcome = run(record)
    never.set()
    assert (outcome.ok, outcome.reason) == (False, "idle_timeout")
    assert record.ctx.output.path.read_text() == "t0 t1 t2 t3 t4 t5 ", "every token before the stall is kept"


@pytest.mark.parametrize(("idle", "hard", "reason"), [(0.3, 30, "idle_timeout"), (30, 0.5, "hard_timeout")])
def test_timeouts_apply_before_the_first_token(deck: Path, server: LLMServer, name: str,
                                               idle: float, hard: float, reason: str) -> None:
    server.script(name, Reply(["late"], latency=5))
    record = attempt(deck, server.base_url, name, name, idle=idle, hard=hard)
    started = time.monotonic()
    outcome = run(record)
    assert (outcome.ok, outcome.reason) == (False, reason)
    assert time.monotonic() - started < 3, f"the {reason} runs before the first token too"


def test_a_busy_event_loop_does_not_count_as_an_idle_stream(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, Reply(["on ", "time"], latency=0.05))
    record = attempt(deck, server.base_url, name, name, idle=0.3, hard=30)

    async def scenario() -> Outcome:
        # the runner's loop blocked (a 10,000-job jobs.json reloading, say) while the reply arrives
        asyncio.get_running_loop().call_later(0.02, time.sleep, 0.8)
        return await LLMAgent(Breaker()).run(record.ctx)

    outcome = asyncio.run(scenario())
    record.close()
    assert outcome.ok, f"{outcome.reason}: {outcome.message}"
    assert record.ctx.output.path.read_text() == "on time"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_output_that_cannot_be_written_fails_the_attempt_not_the_model(deck: Path, server: LLMServer,
                                                                          name: str) -> None:
    """The deck's full disk says nothing about the model: no retry, no fallback, no cooldown for every job."""
    server.script(name, Reply(["a ", "b ", "c"]))
    record = attempt(deck, server.base_url, name, name, idle=5, hard=30, fallbacks=[f"openai/{name}-other"])
    record.ctx.output.close()
    # every write fails with ENOSPC (no redaction, so nothing is held back for close() to write)
    record.ctx.output = OutputSink(Path("/dev/full"), Redactor({}))
    breaker = Breaker(threshold=1)
    with pytest.raises(OutputUnwritable, match="could not write full: No space left on device") as raised:
        asyncio.run(LLMAgent(breaker).run(record.ctx))
    assert raised.value.reason == "runner_error" and not raised.value.transient
    assert raised.value.spent is not None and raised.value.spent["usage"]["calls"] == 1, \
        "the call made still counts in the attempt's usage and the day's spend"
    with pytest.raises(OutputUnwritable):  # the runner's close of the output reports it too, having closed the file
        record.close()
    assert len(server.calls(name)) == 1 and not server.calls(f"{name}-other")
    assert breaker.blocked_for(f"openai/{name}") == 0
    assert not record.progress("cooldown") and not record.progress("retry") and not record.progress("fallback")


def test_a_stream_repeating_one_chunk_fails_for_good_with_a_short_message(deck: Path, server: LLMServer,
                                                                         name: str) -> None:
    """litellm stops such a stream with an HTTP 500 of its own; asked again the model loops again."""
    server.script(name, Reply(["x" * 1000] * 150))
    record = attempt(deck, server.base_url, name, name, idle=5, hard=30)
    breaker = Breaker(threshold=1)
    outcome = run(record, LLMAgent(breaker))
    assert (outcome.reason, outcome.failure) == ("repeating", Failure.PERSISTENT), outcome.message
    assert "the model kept repeating 'xxxxxxxxxx" in (outcome.message or "") and len(outcome.message or "") < 400
    assert len(server.calls(name)) == 1 and not record.progress("retry")
    assert breaker.blocked_for(f"openai/{name}") == 0 and not record.progress("cooldown")


def test_a_reply_streaming_longer_than_the_idle_timeout_completes(deck: Path, server: LLMServer,
                                                                  name: str) -> None:
    server.script(name, Reply(["tick "] * 8, delay=0.1))
    record = attempt(deck, server.base_url, name, name, idle=0.35, hard=30)
    outcome = run(record)
    assert outcome.ok, outcome.message
    assert record.ctx.output.path.read_text() == "tick " * 8


def test_the_hard_timeout_bounds_the_whole_call(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, Reply(["tick "] * 100, delay=0.02))
    record = attempt(deck, server.base_url, name, name, idle=5, hard=0.5, retry={"on_timeout": False})
    outcome = run(record)
    assert (outcome.reason, outcome.failure) == ("hard_timeout", Failure.PERSISTENT)
    kept = record.ctx.output.path.read_text()
    assert kept.startswith("tick ") and len(kept) < len("tick ") * 100


def test_429_retry_after_is_honoured_within_the_attempt(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, rate_limited(retry_after=1))
    record = attempt(deck, server.base_url, name, name)
    outcome = run(record)
    assert outcome.ok
    first, second = server.calls(name)
    assert second.at - first.at >= 1.0
    [retry] = record.progress("retry")
    assert retry["reason"].startswith("rate_limit") and retry["delay"] >= 1.0
    assert not record.progress("cooldown"), "a wait the attempt sat out itself cools nothing down"


def test_a_retry_after_longer_than_the_attempt_waits_goes_to_the_runner_and_cools_the_model(
        deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, rate_limited(retry_after=120), rate_limited(retry_after=120))
    breaker = Breaker()  # threshold 3: one failure would not open it
    record = attempt(deck, server.base_url, name, name)
    outcome = run(record, LLMAgent(breaker))
    assert (outcome.ok, outcome.reason, outcome.failure) == (False, "rate_limit", Failure.TRANSIENT)
    assert outcome.retry_after is not None and outcome.retry_after >= 119
    assert len(server.calls(name)) == 1 and not record.progress("retry")
    [cooldown] = record.progress("cooldown")
    assert cooldown["reason"].endswith("; skipped for 120s (Retry-After 2m00s)") and cooldown["seconds"] == 120
    cooling = cooldown_key(f"openai/{name}", server.base_url, KEY_VAR)  # the model where this agent calls it
    assert 119 <= breaker.blocked_for(cooling) <= 120
    assert breaker.reason(cooling) == "rate_limit with Retry-After 2m00s"
    assert breaker.blocked_for(f"openai/{name}") == 0.0, "the provider's default endpoint cooled too"

    later = attempt(deck, server.base_url, f"{name}-b", name)  # another job on the model: skipped, not sent
    skipped = run(later, LLMAgent(breaker))  # (having called nothing, it costs that job no try)
    assert (skipped.reason, skipped.failure) == ("not_called", Failure.TRANSIENT) and len(server.calls(name)) == 1
    assert skipped.retry_after is not None and 118 <= skipped.retry_after <= 120


def test_a_long_retry_after_on_one_key_cools_the_model_for_that_key_only(
        deck: Path, server: LLMServer, name: str) -> None:
    """Two teams' agents share a proxy and a model, each with its own key variable: the 429 one team's key meets
    cools that team's calls, and the other team's job is still sent (and answered)."""
    other_key = f"{KEY_VAR}_OTHER_TEAM"
    server.script(name, rate_limited(retry_after=120))
    breaker = Breaker()
    record = attempt(deck, server.base_url, name, name)
    refused = run(record, LLMAgent(breaker))
    assert (refused.reason, len(server.calls(name))) == ("rate_limit", 1)

    spec = {"id": f"{name}-b", "agent": "team", "model": f"openai/{name}", "prompt": "Say hello."}
    team = {"team": {"type": "llm", "api_base": server.base_url, "api_key": {"env": other_key}}}
    other = make_attempt(deck, spec, agents={**local_agents(server.base_url), **team},
                         env={**os.environ, other_key: "sk-other-team"})
    answered = run(other, LLMAgent(breaker))
    assert answered.ok and len(server.calls(name)) == 2, "the other team's key was cooled by this one's refusal"
    assert not other.progress("cooldown")
    assert breaker.blocked_for(cooldown_key(f"openai/{name}", server.base_url, KEY_VAR)) > 100  # still the first's


def test_401_falls_back_to_the_next_model_without_retrying(deck: Path, server: LLMServer, name: str) -> None:
    # A provider echoing the whole key in its error is the worst case for leaks.
    server.script(f"{name}-primary", unauthorized(f"Incorrect API key provided: {CANARY}"))
    record = attempt(deck, server.base_url, name, f"{name}-primary", fallbacks=[f"openai/{name}-backup"])
    outcome = run(record)
    assert outcome.ok and outcome.model == f"openai/{name}-backup"
    assert len(server.calls(f"{name}-primary")) == 1 and len(server.calls(f"{name}-backup")) == 1
    assert not record.progress("retry")
    [fallback] = record.progress("fallback")
    assert fallback["from"] == f"openai/{name}-primary" and fallback["reason"].startswith("auth")
    assert CANARY not in json.dumps(record.events) and f"[REDACTED:{KEY_VAR}]" in fallback["reason"]


def test_503_is_retried_then_succeeds(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, server_error(503))
    record = attempt(deck, server.base_url, name, name)
    outcome = run(record)
    assert outcome.ok and len(server.calls(name)) == 2
    [retry] = record.progress("retry")
    assert retry["reason"].startswith("server_error") and retry["model"] == f"openai/{name}"
    assert record.ctx.output.path.read_text() == "Hello, world."


def test_context_length_switches_to_the_context_model(deck: Path, server: LLMServer, name: str) -> None:
    server.script(f"{name}-small", context_too_long())
    record = attempt(deck, server.base_url, name, f"{name}-small", context_model=f"openai/{name}-large")
    outcome = run(record)
    assert outcome.ok and outcome.model == f"openai/{name}-large"
    [switch] = record.progress("fallback")
    assert switch["reason"].startswith("context") and switch["model"] == f"openai/{name}-large"


def test_context_length_without_a_context_model_fails_as_context(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, context_too_long())
    outcome = run(attempt(deck, server.base_url, name, name))
    assert (outcome.reason, outcome.failure) == ("context", Failure.CONTEXT)


def test_a_bad_request_on_the_last_model_is_persistent(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, bad_request())
    outcome = run(attempt(deck, server.base_url, name, name))
    assert (outcome.reason, outcome.failure) == ("bad_request", Failure.PERSISTENT)
    assert outcome.message is not None and "temperature" in outcome.message
    assert len(server.calls(name)) == 1


def test_repeated_failures_cool_a_model_down_for_every_job(deck: Path, server: LLMServer, name: str) -> None:
    registry = Registry(Breaker(threshold=2, cooldown=60))
    flaky, steady = f"{name}-flaky", f"{name}-steady"
    server.script(flaky, server_error(503), server_error(503))
    records, outcomes = [], []
    for job_id in (f"{name}-a", f"{name}-b"):
        job = {"id": job_id, "agent": "local", "model": f"openai/{flaky}", "fallbacks": [f"openai/{steady}"],
               "prompt": "Say hello."}
        spec = make_spec(job, local_agents(server.base_url))
        agent, named = registry.agent_for(spec.jobs[0], spec)
        records.append(make_attempt(deck, job, agents=local_agents(server.base_url)))
        assert named is not None and named.type == "llm"
        outcomes.append(run(records[-1], agent))  # type: ignore[arg-type]
    assert all(outcome.ok and outcome.model == f"openai/{steady}" for outcome in outcomes)
    assert len(server.calls(flaky)) == 2, "the second job never called the cooling model"
    opened = records[0].progress("cooldown")
    assert opened and opened[0]["model"] == f"openai/{flaky}" and opened[0]["seconds"] >= 60
    skipped = records[1].progress("cooldown")
    assert skipped and skipped[0]["reason"].startswith("skipped")
    assert records[1].progress("fallback")[0]["model"] == f"openai/{steady}"


def test_a_refused_connection_says_the_provider_was_not_reached_not_http_500(deck: Path, server: LLMServer,
                                                                              name: str) -> None:
    """litellm reports a refused connection as an HTTP 500, like a provider's own error; the operator must not."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = f"http://127.0.0.1:{port}/v1"  # nothing listens there now: the connection is refused
    record = attempt(deck, closed, name, name, options={"retries": 1})
    outcome = run(record, LLMAgent(Breaker(threshold=2, cooldown=60)))
    unreached = f"could not reach the provider at {closed}: connection refused (network, DNS, proxy or api_base)"
    assert (outcome.ok, outcome.reason, outcome.failure) == (False, "connection", Failure.TRANSIENT)
    assert outcome.message == f"openai/{name}: {unreached}"
    [retry] = record.progress("retry")
    assert retry["reason"] == f"connection: {unreached}", "retried within the attempt, as any transient error"
    [cooldown] = record.progress("cooldown")
    assert cooldown["reason"] == f"connection: {unreached}; skipped for 60s"

    server.script(f"{name}-500", server_error(500))
    answered = run(attempt(deck, server.base_url, f"{name}-500", f"{name}-500", options={"retries": 0}))
    assert (answered.reason, answered.message) == (
        "server_error", f"openai/{name}-500: HTTP 500: The server had an error while processing your request.")


def test_a_stream_broken_after_tokens_ends_the_attempt_and_keeps_them(deck: Path, name: str,
                                                                        litellm_loaded: Any) -> None:
    token = "a partial answer that is longer than any redaction hold-back " * 2
    with LLMServer() as own:
        own.script(name, Stall([token]))
        record = attempt(deck, own.base_url, name, name)

        async def scenario() -> Outcome:
            task = asyncio.create_task(LLMAgent(Breaker()).run(record.ctx))
            await wait_until(lambda: record.ctx.output.path.read_text().startswith("a partial"))
            await asyncio.to_thread(own.stop)
            return await task

        outcome = asyncio.run(scenario())
        record.close()
        assert not outcome.ok and outcome.failure is Failure.TRANSIENT
        assert outcome.message is not None and "stream broke after" in outcome.message
        assert len(own.calls(name)) == 1, "no retry once tokens were written"
        assert record.ctx.output.path.read_text() == token


NO_FINISH = " (the stream ended without a finish_reason)"
NO_CONTENT: dict[str, tuple[Step, str]] = {
    "finish-stop": (Reply([]), ""),
    # litellm hands over a finish_reason "stop" of its own for these two: no chunk came to say otherwise
    "empty-stream": (Cut(role=False), ""),
    "only-done": (Cut(role=False, done=True), ""),
    "role-only": (Cut(), NO_FINISH),
    "role-then-done": (Cut(done=True), NO_FINISH),
}


@pytest.mark.parametrize(("shape", "detail"), NO_CONTENT.values(), ids=NO_CONTENT.keys())
def test_an_answer_with_no_content_is_a_transient_empty_answer_retried_like_a_5xx(
        deck: Path, server: LLMServer, name: str, shape: Step, detail: str) -> None:
    server.script(name, shape, shape)
    record = attempt(deck, server.base_url, name, name, options={"retries": 1})
    outcome = run(record)
    said = f"answered 200 with no content{detail}"
    assert (outcome.ok, outcome.reason, outcome.failure) == (False, "empty_answer", Failure.TRANSIENT)
    assert outcome.message == f"openai/{name}: {said}"
    assert len(server.calls(name)) == 2, "retried within the attempt, as a 5xx is"
    [retry] = record.progress("retry")
    assert retry["reason"] == f"empty_answer: {said}"
    assert record.ctx.output.path.read_text() == ""


SAYS_WHY = {
    "length": "it used up max_tokens before any text (a reasoning model can): raise the agent's max_tokens",
    "content_filter": "the provider's content filter withheld it: the prompt is the thing to change",
}


@pytest.mark.parametrize(("finish", "why"), SAYS_WHY.items(), ids=SAYS_WHY.keys())
def test_an_empty_answer_whose_model_says_why_it_stopped_is_not_retried_nor_cools_the_model(
        deck: Path, server: LLMServer, name: str, finish: str, why: str) -> None:
    """Asked again, it would answer the same: retrying bills every call, and counting it toward the breaker cooled
    the model for every job in the deck."""
    server.script(name, Reply([], finish_reason=finish), Reply([], finish_reason=finish), Reply([], finish_reason=finish))
    record = attempt(deck, server.base_url, name, name, fallbacks=[f"openai/{name}-backup"], options={"retries": 2})
    breaker = Breaker(threshold=1)
    outcome = run(record, LLMAgent(breaker))
    assert outcome.ok and outcome.model == f"openai/{name}-backup"  # the next model in the chain, at once
    assert len(server.calls(name)) == 1, "not retried: it would answer the same"
    [fallback] = record.progress("fallback")
    assert fallback["reason"] == f"empty_answer: answered 200 with no content (finish_reason {finish}): {why}"
    assert breaker.blocked_for(f"openai/{name}") == 0, "an answer's content is no sign of the model's health"
    assert not record.progress("cooldown")


def test_an_empty_answer_moves_on_to_the_next_model(deck: Path, server: LLMServer, name: str) -> None:
    server.script(f"{name}-empty", Reply([]))
    record = attempt(deck, server.base_url, name, f"{name}-empty", fallbacks=[f"openai/{name}-backup"],
                     options={"retries": 0})
    outcome = run(record)
    assert outcome.ok and outcome.model == f"openai/{name}-backup"
    assert record.ctx.output.path.read_text() == "Hello, world."
    [fallback] = record.progress("fallback")
    assert fallback["from"] == f"openai/{name}-empty"
    assert fallback["reason"] == "empty_answer: answered 200 with no content"


CUT_MID_ANSWER = {
    "ended": (Cut(["partial ", "answer "]), "the stream ended before its finish_reason: the answer was cut short"),
    "ended-after-done": (Cut(["partial ", "answer "], done=True),
                         "the stream ended before its finish_reason: the answer was cut short"),
    "dropped": (Cut(["partial ", "answer "], abrupt=True), "the connection to the provider at "),
}


@pytest.mark.parametrize(("shape", "said"), CUT_MID_ANSWER.values(), ids=CUT_MID_ANSWER.keys())
def test_a_stream_cut_mid_answer_without_a_finish_reason_is_a_broken_stream(
        deck: Path, server: LLMServer, name: str, shape: Step, said: str) -> None:
    server.script(name, shape)
    record = attempt(deck, server.base_url, name, name)
    outcome = run(record)
    assert (outcome.ok, outcome.reason, outcome.failure) == (False, "connection", Failure.TRANSIENT)
    assert outcome.message is not None
    assert outcome.message.startswith(f"stream broke after 15 bytes: openai/{name}: {said}")
    assert len(server.calls(name)) == 1, "no retry once tokens were written"
    assert record.ctx.output.path.read_text() == "partial answer "


def test_an_empty_answer_is_retried_not_repaired(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, Reply([]), Reply(['{"title": "t"}']))
    record = attempt(deck, server.base_url, name, name, output="json", repair=True,
                     validate={"required": ["title"]})
    outcome = run(record)
    assert outcome.ok and not record.progress("repair")
    first, second = server.calls(name)
    assert second.messages == first.messages, "the same question again, not a repair prompt"
    assert record.ctx.output.path.read_text() == '{"title": "t"}'


def test_an_empty_repair_answer_puts_the_first_answer_back(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, Reply(['{"wrong": true}']), Reply([]))
    record = attempt(deck, server.base_url, name, name, output="json", repair=True,
                     validate={"required": ["title"]}, options={"retries": 0})
    outcome = run(record)
    assert outcome.ok and len(server.calls(name)) == 2
    assert record.ctx.output.path.read_text() == '{"wrong": true}'
    assert record.progress("repair")[-1]["reason"] == (
        f"repair failed (empty_answer): openai/{name}: answered 200 with no content")


def test_an_empty_mock_response_is_an_empty_answer_that_cools_nothing(deck: Path, name: str,
                                                                      litellm_loaded: Any) -> None:
    breaker = Breaker(threshold=1)
    agents = {"demo": {"type": "llm", "model": "openai/gpt-4o-mini", "options": {"retry_delay": 0.01}}}
    job = {"id": name, "agent": "demo", "prompt": "Summarise.", "mock_response": ["", "second answer"]}
    first = run(make_attempt(deck, job, agents=agents, attempt=1), LLMAgent(breaker))
    assert (first.reason, first.failure) == ("empty_answer", Failure.TRANSIENT)
    assert first.message == "openai/gpt-4o-mini: answered with no content (mock_response is empty)"
    assert breaker.blocked_for("openai/gpt-4o-mini") == 0, "a stand-in's answer says nothing about the model"
    second = make_attempt(deck, job, agents=agents, attempt=2)
    assert run(second, LLMAgent(breaker)).ok and second.ctx.output.path.read_text() == "second answer"


def test_cancelling_the_attempt_stops_the_request_and_keeps_output(deck: Path, server: LLMServer,
                                                                   name: str) -> None:
    server.script(name, Stall(["kept " * 20]))
    record = attempt(deck, server.base_url, name, name)

    async def scenario() -> None:
        task = asyncio.create_task(LLMAgent(Breaker()).run(record.ctx))
        await wait_until(lambda: record.ctx.output.path.stat().st_size > 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    record.close()
    assert record.ctx.output.path.read_text() == "kept " * 20


def test_invalid_json_is_reported_with_reasons(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, Reply(["Sure! Here it is: {\"title\": 1}"]))
    record = attempt(deck, server.base_url, name, name, output="json",
                     validate={"required": ["title"]})
    outcome = run(record)
    assert outcome.ok, "without repair the agent succeeds; the runner's validation sends it to review"
    reasons = check_output(record.ctx.job, record.ctx.output.path, record.ctx.env)
    assert len(reasons) == 1 and reasons[0].startswith("output is not valid JSON")
    assert len(server.calls(name)) == 1


def test_repair_reasks_once_with_the_validation_errors(deck: Path, server: LLMServer, name: str) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    server.script(name, Reply(["```json\n{\"title\": 7}\n```"]), Reply(['{"title": "seven"}']))
    record = attempt(deck, server.base_url, name, name, output="json", repair=True,
                     validate={"json_schema": schema})
    outcome = run(record)
    assert outcome.ok and outcome.usage is not None and outcome.usage["calls"] == 2
    assert record.ctx.output.path.read_text() == '{"title": "seven"}'
    assert (record.ctx.attempt_dir / "output.invalid").read_text() == "```json\n{\"title\": 7}\n```"
    assert check_output(record.ctx.job, record.ctx.output.path, record.ctx.env) == []
    first, second = server.calls(name)
    assert second.messages[:-2] == first.messages
    assert second.messages[-2] == {"role": "assistant", "content": "```json\n{\"title\": 7}\n```"}
    assert "7 is not of type 'string'" in second.messages[-1]["content"]
    [repair] = record.progress("repair")
    assert "title" in repair["reason"]


def test_a_model_echoing_the_key_is_redacted_in_the_output(deck: Path, server: LLMServer, name: str) -> None:
    half = len(CANARY) // 2
    server.script(name, Reply(["the key is ", CANARY[:half], CANARY[half:], " ok"]))
    record = attempt(deck, server.base_url, name, name)
    assert run(record).ok
    assert record.ctx.output.path.read_text() == f"the key is [REDACTED:{KEY_VAR}] ok"


def test_mock_response_answers_offline_without_a_key(deck: Path, server: LLMServer, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    agents = {"demo": {"type": "llm", "model": "openai/gpt-4o-mini", "api_key": {"env": "OPENAI_API_KEY"}}}
    job = {"id": name, "agent": "demo", "prompt": "Summarise.", "mock_response": ["first answer", "second answer"]}
    before = len(server.calls())
    record = make_attempt(deck, job, agents=agents, attempt=2, env=env)
    outcome = run(record)
    assert outcome.ok and outcome.cost == 0.0
    assert record.ctx.output.path.read_text() == "second answer"
    assert len(server.calls()) == before


def test_mock_response_list_feeds_the_repair_reask(deck: Path, name: str, litellm_loaded: Any) -> None:
    job = {"id": name, "model": "openai/gpt-4o-mini", "prompt": "JSON please.", "output": "json",
           "repair": True, "mock_response": ["not json", '{"a": 1}']}
    record = make_attempt(deck, job)
    assert run(record).ok
    assert record.ctx.output.path.read_text() == '{"a": 1}'


def test_a_missing_key_variable_is_a_configuration_error(deck: Path, server: LLMServer, name: str) -> None:
    agents = {"local": {"type": "llm", "api_base": server.base_url, "api_key": {"env": "JOBDECK_TEST_UNSET_KEY"}}}
    record = make_attempt(deck, {"id": name, "agent": "local", "model": "openai/x", "prompt": "hi"}, agents=agents)
    with pytest.raises(AgentError, match="JOBDECK_TEST_UNSET_KEY"):
        run(record)


def test_a_failed_repair_puts_the_first_answer_back_for_review(deck: Path, server: LLMServer, name: str) -> None:
    server.script(name, Reply(['{"wrong": true}']), bad_request())
    record = attempt(deck, server.base_url, name, name, output="json", repair=True,
                     validate={"required": ["title"]})
    outcome = run(record)
    assert outcome.ok and len(server.calls(name)) == 2
    assert record.ctx.output.path.read_text() == '{"wrong": true}'
    assert check_output(record.ctx.job, record.ctx.output.path, record.ctx.env) == ["missing required field 'title'"]
    assert record.progress("repair")[-1]["reason"].startswith("repair failed (bad_request)")


def test_a_missing_api_key_is_an_auth_failure_that_names_the_variable(deck: Path, monkeypatch: Any,
                                                                      name: str) -> None:
    """No key, no api_base, no mock: one attempt, not retried, not cooled down, and no request sent."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    breaker = Breaker()
    record = make_attempt(deck, {"id": name, "model": "openai/gpt-4o-mini", "prompt": "hi"})
    outcome = run(record, LLMAgent(breaker))
    assert not outcome.ok and outcome.failure is Failure.PERSISTENT and outcome.reason == "auth"
    assert "OPENAI_API_KEY" in (outcome.message or "")
    assert breaker.blocked_for("openai/gpt-4o-mini") == 0
    assert outcome.usage is None or outcome.usage.get("calls", 0) == 0
