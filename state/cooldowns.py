"""The shared cooldowns file: which models are cooling down, where, until when, and why.

The LLM agent's circuit breaker (agents/breaker.py) writes it when a cooldown opens
or closes; the decision service reads it to defer jobs whose model is cooling
down. One home for its name, its format and its keys, so the two never disagree.

A cooldown belongs to the endpoint and key that failed, not to the model's name:
an agent with its own ``api_base`` or ``api_key`` cools only what it calls with them
(``cooldown_key``; ``key_name_for``: which of its chain's models its key goes with),
and a call on the provider's default endpoint and key keeps the plain model name,
as every entry did before keys had more to them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

COOLDOWN_FILE = "cooldowns.json"
"""In the deck's state directory: ``{"<cooldown_key>": {"until": epoch seconds, "reason": "..."}}``."""


def cooldown_key(model: str, api_base: str | None = None, api_key_name: str | None = None) -> str:
    """What a call to ``model`` cools when it fails: ``model``, ``model@api_base``, either + ``#<key tag>``.

    The tag is a digest of the key's variable *name* (never its value), so two teams' keys on one model cool
    apart. ``api_key_name`` is the variable the call is sent with: ``key_name_for`` says which, in an agent's chain.
    """
    key = model if not api_base else f"{model}@{_endpoint(api_base)}"
    if api_key_name:
        key += "#" + hashlib.sha256(api_key_name.encode()).hexdigest()[:8]
    return key


def key_name_for(model: str, first: str, api_base: str | None, api_key_name: str | None) -> str | None:
    """The agent's api_key variable a call to ``model`` goes with, in a chain the agent (or job) wrote ``first``
    first; None when it goes with its provider's default key, and so cools with it.

    At the agent's ``api_base`` every call carries the agent's key; at the providers' own endpoints the key is
    ``first``'s provider's, and goes only to a model known to be of that provider (``provider_named``): any other
    goes with its provider's default key (litellm reads that provider's variable), and cools with it. The llm
    agent sends the key by this same answer (``Settings.key_for``), so a call cools with the key it carried.
    """
    if not api_key_name or api_base or model == first:
        return api_key_name
    provider = provider_named(model)
    return api_key_name if provider is not None and provider == provider_named(first) else None


FAMILIES = (("gpt-", "openai"), ("chatgpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
            ("text-embedding-", "openai"), ("claude-", "anthropic"))
"""Model names written without a provider whose provider is plain (``gpt-4o``: openai), by their beginning."""


def provider_named(model: str) -> str | None:
    """The provider ``model`` names before its first ``/`` (``openai/gpt-4o``: openai), or whose family it is of
    (``gpt-4o``, ``claude-3-haiku-...``: FAMILIES); None if neither tells."""
    provider, slash, _ = model.partition("/")
    if slash:
        return provider or None
    return next((family for start, family in FAMILIES if model.startswith(start)), None)


def cooldown_label(model: str, api_base: str | None = None, api_key_name: str | None = None) -> str:
    """``model`` as people name it, with the endpoint and key variable that are not the default's."""
    return (model + (f" at {_endpoint(api_base)}" if api_base else "")
            + (f" with ${api_key_name}" if api_key_name else ""))


def _endpoint(api_base: str) -> str:
    """``api_base`` without a user:password, query or fragment (the file and messages are not secret)."""
    parts = urlsplit(api_base.strip())
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def read_cooldowns(path: Path) -> dict[str, tuple[float, str]]:
    """Each cooldown key's (until, reason); an unreadable or malformed file is no cooldowns (the file is advisory)."""
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    entries: dict[str, tuple[float, str]] = {}
    for model, value in raw.items():
        if isinstance(value, dict) and isinstance(value.get("until"), int | float):
            entries[str(model)] = (float(value["until"]), str(value.get("reason", "")))
    return entries


def cooldowns_data(entries: dict[str, tuple[float, str]]) -> bytes:
    """The file's bytes for these entries."""
    data = {m: {"until": until, "reason": reason} for m, (until, reason) in sorted(entries.items())}
    return json.dumps(data, indent=1).encode() + b"\n"
