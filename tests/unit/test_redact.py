"""Secrets never reach disk: every occurrence of a known secret value is replaced."""

from __future__ import annotations

import pytest

from jobdeck.state.redact import Redactor


def test_referenced_and_well_known_variables_are_secrets_and_nothing_else() -> None:
    environ = {"OPENAI_API_KEY": "sk-live-123456", "GITHUB_TOKEN": "ghp_abcdef12", "DB_PASSWORD": "hunter22",
               "HOME": "/home/me", "PLAIN": "visible-value", "MY_CUSTOM": "custom-secret",
               "GIT_AUTHOR_NAME": "Ada Lovelace", "MAX_TOKENS": "128000", "AUTH_PROVIDER": "github"}
    redactor = Redactor.from_environ(environ, referenced=["MY_CUSTOM"])
    text = ("key sk-live-123456 token ghp_abcdef12 pw hunter22 home /home/me plain visible-value c custom-secret "
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


PLAIN_SETTINGS = ["ollama", "lm-studio", "not-needed", "sk-no-key-required", "EMPTY", "default", "disabled",
                  "Ollama", "NOT_USED", "your-api-key-here"]
REAL_KEYS = ["sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56", "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
             "glpat-xYz4AbCdEfGhIjKlMnOp", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
             "c2VjcmV0LXRva2VuLXdpdGgtbm8tZGlnaXRz", "sk-abc123", "xoxb-not-a-real-token-but-long-enough",
             "qwErTyUiOpAsDfGhJkLz", "abcdefghijklmnopqrstu"]


@pytest.mark.parametrize("value", PLAIN_SETTINGS)
def test_a_well_known_variable_holding_a_plain_word_is_no_secret(value: str) -> None:
    """`OPENAI_API_KEY=ollama` is a local server's setting, not a key: the word stays in every output."""
    from jobdeck.state.redact import plain_well_known

    environ = {"OPENAI_API_KEY": value, "GITLAB_TOKEN": "glpat-xYz4AbCdEfGhIjKlMnOp"}
    redactor = Redactor.from_environ(environ)
    assert redactor.text(f'{{"backend": "{value}"}} glpat-xYz4AbCdEfGhIjKlMnOp') == (
        f'{{"backend": "{value}"}} [REDACTED:GITLAB_TOKEN]')
    assert plain_well_known(environ) == (["OPENAI_API_KEY"] if len(value) >= 6 else [])


@pytest.mark.parametrize("value", REAL_KEYS)
def test_a_well_known_variable_holding_anything_but_a_plain_word_is_redacted(value: str) -> None:
    """A digit, a character other than a letter, '-' or '_', mixed case inside a word, or more than 20
    characters: a key, redacted."""
    from jobdeck.state.redact import plain_well_known

    redactor = Redactor.from_environ({"GH_TOKEN": value})
    assert redactor.text(f"token {value} used") == "token [REDACTED:GH_TOKEN] used"
    assert plain_well_known({"GH_TOKEN": value}) == []


def test_a_password_people_choose_is_redacted_even_when_it_is_a_word() -> None:
    from jobdeck.state.redact import plain_well_known

    environ = {"TWINE_PASSWORD": "horsebattery", "LITELLM_MASTER_KEY": "sk-my-proxy",
               "LITELLM_API_KEY": "sk-teamsecret"}  # (the proxy's client side of the master key)
    assert Redactor.from_environ(environ).text("horsebattery sk-my-proxy sk-teamsecret") == (
        "[REDACTED:TWINE_PASSWORD] [REDACTED:LITELLM_MASTER_KEY] [REDACTED:LITELLM_API_KEY]")
    assert plain_well_known(environ) == []


def test_a_referenced_variable_holding_a_plain_word_is_still_redacted() -> None:
    """Referenced, well known or not, a value is a secret: the deck said so."""
    from jobdeck.state.loader import parse_spec
    from jobdeck.state.redact import plain_well_known, plain_words

    spec = parse_spec(b"""{"agents": {"w": {"type": "llm", "model": "openai/x", "api_key": {"env": "OPENAI_API_KEY"}}},
        "jobs": [{"id": "j", "command": ["true"], "env": {"P": {"env": "AUTH_PROVIDER"}}}]}""").spec
    environ = {"OPENAI_API_KEY": "ollama", "AUTH_PROVIDER": "github", "GITLAB_TOKEN": "default"}
    redactor = Redactor.for_spec(spec, environ)
    assert redactor.text("ollama github default") == "[REDACTED:OPENAI_API_KEY] [REDACTED:AUTH_PROVIDER] default"
    assert plain_words(spec, environ) == ["AUTH_PROVIDER"]  # the warning names the referenced setting
    assert plain_well_known(environ, referenced=["OPENAI_API_KEY", "AUTH_PROVIDER"]) == ["GITLAB_TOKEN"]
