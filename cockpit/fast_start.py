"""Start from the last cards: paint the board before jobs.json is validated.

`jobdeck ls` and the cockpit (on quit) keep the board's cards in
``.jobdeck/cards.jsonl`` (state/cardcache.py). Reading them needs neither
pydantic nor a fold of the log: most of a second at 10,000 jobs. The cockpit
paints them at once, as long as they were computed from the jobs.json on disk,
even if events were appended since (the header says "reading the deck…"),
and reads the deck in a worker behind them; what changed since the cards were
saved is then applied like any other change. Without saved cards it paints a
preview of jobs.json over the folded log (`previewed_jobs`).
"""

from __future__ import annotations

import json

from jobdeck.state.card import Card
from jobdeck.state.cardcache import CARDS_FORMAT, cards_path, save_cards, spec_digest
from jobdeck.state.deck import Deck
from jobdeck.state.errors import SpecError
from jobdeck.state.lightspec import kept_spec, light_spec
from jobdeck.state.preview import JobPreview, preview_jobs


def last_cards(deck: Deck) -> list[Card] | None:
    """The last saved cards in jobs.json order, if they were computed from the jobs.json on disk.

    The cards may be behind the event log; they are a first picture, not the board.
    """
    try:
        data = cards_path(deck).read_bytes()
        raw_spec = deck.spec_path.read_bytes()
        header_end = data.index(b"\n")
        index_end = data.index(b"\n", header_end + 1)
        header = json.loads(data[:header_end])
        if not isinstance(header, dict) or header.get("format") != CARDS_FORMAT:
            return None
        if header.get("spec") != spec_digest(raw_spec):
            return None
        rows = data[index_end + 1:].decode().split("\n")[:-1]
        return [Card.from_json(row) for row in json.loads("[" + ",".join(rows) + "]")]  # one parse
    except (OSError, ValueError, KeyError, TypeError):
        return None


def previewed_jobs(deck: Deck) -> list[JobPreview] | None:
    """A preview of the jobs.json on disk (state/preview.py), if the preview can read it.

    The first frame then needs neither pydantic nor the models (~0.1 s on a small deck, about half
    a second at 10,000 jobs); the loader reads jobs.json in full behind it. The preview is exact for
    any file the loader accepts: when the loader has accepted these very bytes before
    (state/lightspec.py: `.jobdeck/spec.ok`) it comes from that record, with no second parse. A file
    the loader then refuses (an unknown field, say) is painted for as long as it takes to read it,
    under "reading the deck…", and then shows its banner over the deck's last valid version, as a
    validated start would; a file the preview cannot read (mid-edit) is painted as that version at once.
    """
    try:
        accepted = light_spec(deck)
        if accepted is not None:
            return accepted.jobs
        raw = deck.spec_path.read_bytes()
    except (OSError, SpecError):
        return None  # the loader says what is wrong
    previewed = preview_jobs(raw)
    if previewed is None:  # mid-edit: the version runners keep meanwhile, as the full read will show it
        kept = kept_spec(deck)
        return kept.jobs if kept is not None else None
    return previewed


def save_board(deck: Deck, cards: list[Card], *, spec: str, offset: int, last_hash: str,
               now: float) -> None:
    """Store the cards for the next start (and for `jobdeck ls --json`): they include those of jobs jobs.json
    no longer declares whose attempt is under way (``DeckModel.cards_in_order``)."""
    save_cards(deck, [card.to_json() for card in cards], spec=spec, offset=offset,
               last_hash=last_hash, now=now, undeclared=True)
