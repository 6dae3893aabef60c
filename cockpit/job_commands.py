"""Command palette: "open JOB" for every job, by id or title (Ctrl+P, then type)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import Hit, Hits, Provider

if TYPE_CHECKING:
    from jobdeck.cockpit.app import CockpitApp

MAX_HITS = 40
"""Hits offered per query: enough to pick from, few enough for a 10,000-job deck."""


class JobCommands(Provider):
    """Open a job's detail from the palette."""

    async def search(self, query: str) -> Hits:
        app = cast("CockpitApp", self.app)
        matcher = self.matcher(query)
        found = 0
        for card in list(app.model.cards.values()):
            text = f"open {card.id}" + (f"  {card.title}" if card.title != card.id else "")
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(app.open_detail, card.id), text=text,
                          help=f"{card.column.value}: spec, attempts, output, chain of work")
                found += 1
                if found >= MAX_HITS:
                    return
