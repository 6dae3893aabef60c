"""The shared cooldowns file: which models are cooling down, until when, and why.

The LLM agent's circuit breaker (agents/breaker.py) writes it when a cooldown opens
or closes; the decision service reads it to defer jobs whose model is cooling
down. One home for its name and format, so the two never disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

COOLDOWN_FILE = "cooldowns.json"
"""In the deck's state directory: ``{"model": {"until": epoch seconds, "reason": "..."}}``."""


def read_cooldowns(path: Path) -> dict[str, tuple[float, str]]:
    """Each model's (until, reason); an unreadable or malformed file is no cooldowns (the file is advisory)."""
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
