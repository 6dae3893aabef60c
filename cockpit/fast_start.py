"""Start from the card cache: paint the board before jobs.json is validated.

`jobdeck ls` keeps the board's cards in ``.jobdeck/cards.jsonl`` (state/cardcache.py)
together with what they were computed from. While jobs.json, the log and the
clock still match, those cards are the board, and reading them needs neither
pydantic nor a fold of the log: most of a second at 10,000 jobs. The cockpit
paints them at once and builds its full model in a worker behind them; it
saves the cache again on quit, so a restart on an idle deck is fast.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from state.cardcache import cached_cards, save_cards
from state.deck import Deck
from state.machine import Status
from state.views import Card


def card_from_json(data: Mapping[str, Any]) -> Card:
    """The Card that ``Card.to_json`` wrote."""
    return Card(**{**data, "column": Status(data["column"]), "labels": tuple(data["labels"]),
                   "flags": tuple(data["flags"])})


def cached_board(deck: Deck, now: float) -> list[Card] | None:
    """The cached cards in jobs.json order, if they still describe the deck at ``now``."""
    cached = cached_cards(deck, now)
    if cached is None:
        return None
    try:
        return [card_from_json(row) for row in json.loads(cached.to_json())]  # one parse, not 10,000
    except (ValueError, KeyError, TypeError):
        return None


def save_board(deck: Deck, cards: list[Card], *, spec_digest: str, offset: int, last_hash: str,
               now: float) -> None:
    """Store the cards for the next start (and for `jobdeck ls --json`)."""
    save_cards(deck, [card.to_json() for card in cards], spec=spec_digest, offset=offset,
               last_hash=last_hash, now=now)
