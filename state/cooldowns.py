"""The shared cooldowns file: which models are cooling down, where, until when, and why.

The LLM agent's circuit breaker (agents/breaker.py) writes it when a cooldown opens
or closes; the decision service reads it to defer jobs whose model is cooling
down. One home for its name, its format and its keys, so the two never disagree.

A cooldown belongs to the endpoint and key that failed, not to the model's name:
an agent with its own ``api_base`` or ``api_key`` cools only what it calls
(``cooldown_key``), and one on the provider's default endpoint and key keeps the
plain model name, as every entry did before keys had more to them.
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
    apart. An agent's own key tags every model of its chain, even a fallback litellm sends with that provider's
    default key: a cooldown kept apart costs at most a failed call, one shared by mistake defers healthy jobs.
    """
    key = model if not api_base else f"{model}@{_endpoint(api_base)}"
    if api_key_name:
        key += "#" + hashlib.sha256(api_key_name.encode()).hexdigest()[:8]
    return key


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
