"""Secrets never reach disk: every occurrence of a known secret value is replaced."""

from __future__ import annotations

import pytest

from jobdeck.state.redact import Redactor


def test_referenced_and_well_known_variables_are_secrets_and_nothing_else() -> None:
    environ = {"OPENAI_API_KEY": "sk-live-123456", "GITHUB_TOKEN": "ghp_abcdef", "DB_PASSWORD": "hunter22",
               "HOME": "/home/me", "PLAIN": "visible-value", "MY_CUSTOM": "custom-secret",
               "GIT_AUTHOR_NAME": "Ada Lovelace", "MAX_TOKENS": "128000", "AUTH_PROVIDER": "github"}
    redactor = Redactor.from_environ(environ, referenced=["MY_CUSTOM"])
    text = ("key sk-live-123456 token ghp_abcdef pw hunter22 home /home/me plain visible-value c custom-secret "
            "by Ada Lovelace {\"context_window\": 128000} via github")
    assert redactor.text(text) == (
        "key [REDACTED:OPENAI_API_KEY] token [REDACTED:GITHUB_TOKEN] pw hunter22 "
        "home /home/me plain visible-value c [REDACTED:MY_CUSTOM] "
        "by Ada Lovelace {\"context_window\": 128000} via github")


def test_a_spec_references_its_secrets_through_env_and_api_key() -> None:
    from jobdeck.state.loader import parse_spec

    spec = parse_spec(b"""{"agents": {"w": {"type": "llm", "model": "openai/x", "api_key": {"env": "WRITER_KEY"},
                                           "env": {"A": {"env": "AGENT_VAR"}}}},
        "jobs": [{"id": "j", "command": ["true"], "env": {"T": {"env": "JOB_VAR"}, "LITERAL": "x"}}]}""").spec
    environ = {"WRITER_KEY": "writer-secret", "AGENT_VAR": "agent-secret", "JOB_VAR": "job-secret",
               "UNREFERENCED_TOKEN": "not-referenced"}
    redactor = Redactor.for_spec(spec, environ)
    assert redactor.text("writer-secret agent-secret job-secret not-referenced") == (
        "[REDACTED:WRITER_KEY] [REDACTED:AGENT_VAR] [REDACTED:JOB_VAR] not-referenced")


def test_identifiers_in_an_event_are_never_rewritten() -> None:
    redactor = Redactor({"AUTH_PROVIDER": "github"})
    event = {"type": "failed", "job": "github-sync", "workspace": "github", "runner": "github-1",
             "by": "me@github", "message": "push to github refused"}
    assert redactor.event(event) == {**event, "message": "push to [REDACTED:AUTH_PROVIDER] refused"}


def test_an_event_whose_ids_are_invalid_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid id"):
        Redactor({}).event({"type": "claimed", "job": "../escape"})


def test_short_and_empty_values_are_not_treated_as_secrets() -> None:
    """A 1-5 character 'secret' would redact half of every output."""
    redactor = Redactor({"A_KEY": "abc", "B_KEY": "", "C_KEY": "longer-secret"})
    assert redactor.text("abc longer-secret") == "abc [REDACTED:C_KEY]"
    assert Redactor({}).text("anything") == "anything"
    assert not Redactor({"X_KEY": "abc"})


def test_bytes_and_nested_values() -> None:
    redactor = Redactor({"API_KEY": "s3cr3t-value"})
    assert redactor.data(b"out: s3cr3t-value\n") == b"out: [REDACTED:API_KEY]\n"
    event = {"type": "failed", "reasons": ["401 for s3cr3t-value"], "usage": {"note": "s3cr3t-value"}, "n": 3}
    assert redactor.deep(event) == {"type": "failed", "reasons": ["401 for [REDACTED:API_KEY]"],
                                    "usage": {"note": "[REDACTED:API_KEY]"}, "n": 3}


def test_overlapping_secrets_redact_the_longest() -> None:
    redactor = Redactor({"SHORT_KEY": "abcdef", "LONG_KEY": "abcdef-ghijkl"})
    assert redactor.text("abcdef-ghijkl abcdef") == "[REDACTED:LONG_KEY] [REDACTED:SHORT_KEY]"


def test_values_with_regex_characters_are_matched_literally() -> None:
    redactor = Redactor({"WEIRD_SECRET": "a.b*c+(d)"})
    assert redactor.text("x a.b*c+(d) y aXbbc") == "x [REDACTED:WEIRD_SECRET] y aXbbc"


def test_a_secret_split_across_stream_chunks_is_not_cut() -> None:
    """Streaming writers hold back tail_keep() bytes; split() never cuts inside a secret."""
    redactor = Redactor({"API_KEY": "s3cr3t-value"})
    assert redactor.tail_keep() == len("s3cr3t-value") - 1
    data = b"prefix s3cr3t-value suffix"
    keep_into_secret = len(data) - (data.index(b"s3cr3t") + 3)
    assert redactor.split(data, keep_into_secret) == (b"prefix [REDACTED:API_KEY]", b" suffix")
    assert redactor.split(data, len(data) - 3) == (b"pre", data[3:])
    assert redactor.split(b"short", 10) == (b"", b"short")
    assert Redactor({}).split(b"no secrets", 3) == (b"no secr", b"ets")
