"""The board filter: free text, ``label:NAME``, ``ws:NAME`` (or ``workspace:NAME``), ``status:NAME``."""

from __future__ import annotations

from jobdeck.state.card import Card


def matches(card: Card, query: str) -> bool:
    """Whether the card passes every whitespace-separated term of ``query`` (case-insensitive)."""
    for term in query.lower().split():
        key, sep, value = term.partition(":")
        if sep and key in ("label", "l"):
            if not any(value in label.lower() for label in card.labels):
                return False
        elif sep and key in ("ws", "workspace"):
            if value not in card.workspace.lower():
                return False
        elif sep and key == "status":
            if not card.column.value.startswith(value):
                return False
        else:
            haystack = " ".join((card.id, card.title, card.agent, card.workspace, *card.labels)).lower()
            if term not in haystack:
                return False
    return True
