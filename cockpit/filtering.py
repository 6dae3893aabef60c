"""The board filter: free text, ``label:NAME``, ``ws:NAME`` (or ``workspace:NAME``), ``status:NAME[,NAME]``.

A status is a column's name or its start (``status:rev``); several, comma-separated, as `jobdeck ls --status`
takes them, match any of them.
"""

from __future__ import annotations

from jobdeck.state.card import Card
from jobdeck.state.machine import Status

COLUMN_NAMES = tuple(status.value for status in Status)


def statuses(query: str) -> list[str]:
    """The status values a query asks for (``status:review,failed`` gives both), as typed."""
    asked: list[str] = []
    for term in query.lower().split():
        key, sep, value = term.partition(":")
        if sep and key == "status":
            asked += [part for part in value.split(",") if part]
    return asked


def problems(query: str) -> list[str]:
    """What in ``query`` matches no card whatever the board holds: a status no column is named by."""
    unknown = [value for value in statuses(query) if not any(name.startswith(value) for name in COLUMN_NAMES)]
    return [f"no status '{value}': {', '.join(COLUMN_NAMES)}" for value in unknown]


def asks_cancelled(query: str) -> bool:
    """Whether the query asks for the Cancelled column by name (which is otherwise folded away until `c`)."""
    return any(len(value) >= 2 and "cancelled".startswith(value) for value in statuses(query))


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
            if not any(card.column.value.startswith(part) for part in value.split(",") if part):
                return False
        else:
            haystack = " ".join((card.id, card.title, card.agent, card.workspace, *card.labels)).lower()
            if term not in haystack:
                return False
    return True
