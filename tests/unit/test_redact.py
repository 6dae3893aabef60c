"""Secrets never reach disk: every occurrence of a known secret value is replaced."""

from __future__ import annotations

from jobdeck.state.redact import Redactor


def test_secret_looking_and_referenced_variables_are_secrets() -> None:
    environ = {"OPENAI_API_KEY": "sk-live-123456", "GITHUB_TOKEN": "ghp_abcdef", "DB_PASSWORD": "hunter22",
               "HOME": "/home/me", "PLAIN": "visible-value", "MY_CUSTOM": "custom-secret"}
    redactor = Redactor.from_environ(environ, referenced=["MY_CUSTOM"])
    text = "key sk-live-123456 token ghp_abcdef pw hunter22 home /home/me plain visible-value c custom-secret"
    assert redactor.text(text) == (
        "key [REDACTED:OPENAI_API_KEY] token [REDACTED:GITHUB_TOKEN] pw [REDACTED:DB_PASSWORD] "
        "home /home/me plain visible-value c [REDACTED:MY_CUSTOM]")


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
