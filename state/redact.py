"""Keep secrets out of everything jobdeck writes: events, logs, outputs.

A secret is the value of an environment variable that jobs.json references
(``{"env": NAME}`` in a job's or agent's ``env``, an agent's ``api_key``, a notify target or ping) or of a
well-known credential variable (``WELL_KNOWN``: provider API keys, cloud and forge
tokens, which the providers' SDKs read without being told). Exact occurrences of
those values are replaced by ``[REDACTED:NAME]`` before a byte reaches disk;
encoded forms (base64, URL-encoding) are not.

A name that merely looks secret is not enough: ``GIT_AUTHOR_NAME`` or
``MAX_TOKENS=128000`` are everyday values, and redacting them rewrote people's
names and turned valid JSON output into invalid JSON. Nor is a well-known name
holding a plain word (``is_plain_word``): ``OPENAI_API_KEY=ollama``, ``lm-studio``,
``sk-no-key-required`` or ``GITLAB_TOKEN=default`` are what local servers and
tools are set up with, and redacting them rewrote that word in every job's
output. A plain word is at most ``PLAIN_WORD_LENGTH`` (20) characters of ASCII
letters, in one or more parts joined by ``-`` or ``_``, each part lowercase,
UPPERCASE or Capitalized; a digit, any other character, mixed case inside a part
or one character more, and it is a key. ``CHOSEN_BY_PEOPLE`` (a password, a
proxy's master key) are secrets whatever they hold, and so is every referenced
variable: referencing it is the deck saying so (the runner names those holding
a plain word, ``plain_words`` and, for the agents' API keys, ``plain_api_keys``,
and the well-known ones it left alone, ``plain_well_known``, never their values).

Identifiers (event type, job, workspace, runner) are never rewritten: a job called
``github-sync`` stays ``github-sync`` whatever ``AUTH_PROVIDER`` holds."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jobdeck.state.ids import ID_RE

if TYPE_CHECKING:
    from pathlib import Path

    from jobdeck.state.spec import AgentSpec, Job, Spec

MIN_SECRET_LENGTH = 6

WELL_KNOWN = frozenset({
    # LLM providers (the variables litellm and the providers' own SDKs read)
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "AZURE_API_KEY",
    "AZURE_OPENAI_API_KEY", "MISTRAL_API_KEY", "COHERE_API_KEY", "CO_API_KEY", "GROQ_API_KEY",
    "DEEPSEEK_API_KEY", "OPENROUTER_API_KEY", "TOGETHER_API_KEY", "TOGETHERAI_API_KEY", "XAI_API_KEY",
    "FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY",
    "REPLICATE_API_KEY", "REPLICATE_API_TOKEN", "HF_TOKEN", "HUGGINGFACE_API_KEY", "HUGGING_FACE_HUB_TOKEN",
    "VOYAGE_API_KEY", "CEREBRAS_API_KEY", "NVIDIA_NIM_API_KEY", "DATABRICKS_TOKEN", "WATSONX_APIKEY",
    "LITELLM_API_KEY", "LITELLM_MASTER_KEY",
    # clouds and forges
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET", "GITHUB_TOKEN", "GH_TOKEN",
    "GITLAB_TOKEN", "GITLAB_PRIVATE_TOKEN", "BITBUCKET_TOKEN", "NPM_TOKEN", "PYPI_TOKEN", "TWINE_PASSWORD",
    "SLACK_BOT_TOKEN", "SLACK_TOKEN", "DISCORD_TOKEN", "TELEGRAM_BOT_TOKEN",
})
"""Credential variables redacted whenever they are set, referenced or not, unless they hold a plain word."""

CHOSEN_BY_PEOPLE = frozenset({"TWINE_PASSWORD", "LITELLM_MASTER_KEY", "LITELLM_API_KEY"})
"""Well-known variables whose value a person makes up (a password, a proxy's master key): a word is no sign of
a setting there, so they are redacted whatever they hold."""

IDENTIFIER_FIELDS = frozenset({"type", "job", "workspace", "runner", "by", "via", "seq", "ts", "prev", "hash"})
"""Event fields that name things: never rewritten, so a log never holds an id no reader accepts."""

ID_FIELDS = ("job", "workspace")
"""Event fields that must hold a valid id (they become paths)."""


class Redactor:
    """Replaces known secret values in text and bytes."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        values = {v: k for k, v in secrets.items() if v and len(v) >= MIN_SECRET_LENGTH}
        self._names = values
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
            if values else None
        )
        self._bytes_pattern = (
            re.compile(b"|".join(re.escape(v.encode()) for v in sorted(values, key=len, reverse=True)))
            if values else None
        )
        self._bytes_marks = {v.encode(): f"[REDACTED:{k}]".encode() for v, k in values.items()}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None,
                     referenced: Iterable[str] = ()) -> Redactor:
        """Secrets from the environment: the ``referenced`` names, and the ``WELL_KNOWN`` ones holding no plain word."""
        environ = os.environ if environ is None else environ
        referenced = set(referenced)
        wanted = WELL_KNOWN.difference(plain_well_known(environ, referenced)).union(referenced)
        return cls({name: environ[name] for name in sorted(wanted) if environ.get(name)})

    @classmethod
    def for_spec(cls, spec: Spec | None, environ: Mapping[str, str] | None = None) -> Redactor:
        """The redactor for a deck running ``spec``: what it references, and the well-known names."""
        return cls.from_environ(environ, referenced_env(spec) if spec is not None else ())

    def exposed_in(self, environ: Mapping[str, str]) -> bool:
        """Whether any known secret is visible in ``environ`` (so a child could print it)."""
        if self._pattern is None:
            return False
        return any(self._pattern.search(value) for value in environ.values())

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: f"[REDACTED:{self._names[m.group(0)]}]", value)

    def data(self, value: bytes) -> bytes:
        if self._bytes_pattern is None:
            return value
        return self._bytes_pattern.sub(lambda m: self._bytes_marks[m.group(0)], value)

    def tail_keep(self) -> int:
        """Bytes to hold back at a chunk boundary so a secret split across chunks is caught."""
        return max((len(v.encode()) for v in self._names), default=1) - 1

    def split(self, data: bytes, keep: int) -> tuple[bytes, bytes]:
        """``data`` but its last ``keep`` bytes, redacted; and those bytes as they are.

        For a stream: the held-back tail is prepended to the next chunk, so a secret
        split across chunks is still caught. The split never falls inside a secret:
        one that crosses it is redacted whole. One pass over ``data``.
        """
        cut = max(len(data) - keep, 0)
        pieces: list[bytes] = []
        done = 0
        if self._bytes_pattern is not None:
            for match in self._bytes_pattern.finditer(data):
                start, end = match.span()
                if start >= cut:
                    break
                pieces += (data[done:start], self._bytes_marks[match.group(0)])
                done = end
        if not pieces:
            return data[:cut], data[cut:]
        cut = max(cut, done)
        pieces.append(data[done:cut])
        return b"".join(pieces), data[cut:]

    def event(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """An event body with its values redacted, its identifier fields untouched.

        Raises ValueError when the redacted body no longer holds valid ids, so a
        record no reader accepts is refused before it reaches the log.
        """
        redacted = {key: value if key in IDENTIFIER_FIELDS else self.deep(value) for key, value in body.items()}
        for key in ID_FIELDS:
            value = redacted.get(key)
            if value is not None and not (isinstance(value, str) and ID_RE.fullmatch(value)):
                raise ValueError(f"event field {key!r} is not a valid id: {value!r}")
        return redacted

    def deep(self, value: object) -> object:
        """Redact every string inside a JSON-like value."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        return value


def referenced_env(spec: Spec) -> set[str]:
    """Names of the environment variables ``spec`` reads its values from (``{"env": NAME}``)."""
    names: set[str] = set()
    holders: list[Job | AgentSpec] = [*spec.jobs, *spec.agents.values()]
    for holder in holders:
        names.update(value.env for value in holder.env.values() if not isinstance(value, str) and value.secret)
    names.update(api_key_names(spec))
    names.update(spec.notify.referenced_env())
    return names


def referenced_in(document: Any) -> set[str]:
    """Names of the environment variables a jobs.json document (as parsed, not validated) reads as secrets:
    every ``{"env": NAME}`` object not marked ``"secret": false``, wherever it is. What ``referenced_env``
    finds in the validated spec, for a process that writes to the deck without loading it (a CLI action)."""
    names: set[str] = set()
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("env"), str) and value.get("secret", True) is not False:
                names.add(value["env"])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return names


def for_deck(spec_path: Path, environ: Mapping[str, str] | None = None) -> Redactor:
    """The redactor for a write to the deck of ``spec_path`` by a process that has not loaded its spec (the
    CLI's and the cockpit's actions: a trigger's inputs, an approval's reason): the secrets jobs.json references,
    read from its bytes, and the well-known names. An unreadable jobs.json leaves the well-known names."""
    import json

    from jobdeck.state.errors import JobdeckError
    from jobdeck.state.specbytes import read_spec_file

    try:  # (as every reader of jobs.json reads it: a regular file, of a sane size, never a FIFO to wait on)
        referenced = referenced_in(json.loads(read_spec_file(spec_path)))
    except (OSError, ValueError, RecursionError, JobdeckError):
        referenced = set()
    return Redactor.from_environ(environ, referenced)


def api_key_names(spec: Spec) -> set[str]:
    """Names of the variables the agents take their API keys from (secrets whatever ``secret`` says)."""
    return {agent.api_key.env for agent in spec.agents.values() if agent.api_key is not None}


PLAIN_WORD_LENGTH = 20
"""The longest value that reads as a plain word ("github", "sk-no-key-required"); one character more is a key."""

_PART = r"(?:[a-z]+|[A-Z]+|[A-Z][a-z]+)"
PLAIN_WORD = rf"{_PART}(?:[-_]{_PART})*"
"""Letters in parts joined by '-' or '_', each part lowercase, UPPERCASE or Capitalized (a key mixes cases).
(Compiled at its first use, by ``re``'s cache: every command imports this module, few ask.)"""


def is_plain_word(value: str) -> bool:
    """Whether ``value`` reads as a setting ("ollama", "lm-studio", "EMPTY"), not as a key."""
    return len(value) <= PLAIN_WORD_LENGTH and re.fullmatch(PLAIN_WORD, value) is not None


def _holds_plain_word(environ: Mapping[str, str], name: str) -> bool:
    """Whether ``name`` holds a plain word long enough to be redacted (a shorter value never is)."""
    value = environ.get(name, "")
    return len(value) >= MIN_SECRET_LENGTH and is_plain_word(value)


def plain_words(spec: Spec, environ: Mapping[str, str] | None = None) -> list[str]:
    """The referenced variables, but API keys (``plain_api_keys``) and those ``CHOSEN_BY_PEOPLE`` (a password),
    whose value is a plain word.

    Redacted like any secret, such a value is cut out of every output that contains it
    ("[REDACTED:AUTH_PROVIDER].com"): likely a setting referenced without ``"secret": false``.
    """
    environ = os.environ if environ is None else environ
    return sorted(name for name in referenced_env(spec) - api_key_names(spec) - CHOSEN_BY_PEOPLE
                  if _holds_plain_word(environ, name))


def plain_api_keys(spec: Spec, environ: Mapping[str, str] | None = None) -> list[str]:
    """The agents' API key variables whose value is a plain word ("ollama": a local server that takes any key).

    An API key is a secret whatever it holds, so the word is cut out of every output; an agent for such a
    server needs no ``api_key``: the provider's SDK reads its variable itself, and a well-known one holding
    a plain word is left alone.
    """
    environ = os.environ if environ is None else environ
    return sorted(name for name in api_key_names(spec) - CHOSEN_BY_PEOPLE if _holds_plain_word(environ, name))


def plain_well_known(environ: Mapping[str, str] | None = None, referenced: Iterable[str] = ()) -> list[str]:
    """The well-known credential variables left unredacted: not referenced, and holding a plain word, not a key."""
    environ = os.environ if environ is None else environ
    return sorted(name for name in WELL_KNOWN - CHOSEN_BY_PEOPLE - set(referenced)
                  if _holds_plain_word(environ, name))
