"""Command palette: "open JOB" for every job, by id or title (Ctrl+P, then type)."""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

from jobdeck.cockpit.job_screen import JobScreen

MAX_HITS = 40
"""Hits offered per query: enough to pick from, few enough for a 10,000-job deck."""


class JobCommands(Provider):
    """Open a job's detail from the palette."""

    async def search(self, query: str) -> Hits:
        # The palette may be opened over a dialog: the cards come from the job screen beneath.
        screen = next((s for s in reversed(self.app.screen_stack) if isinstance(s, JobScreen)), None)
        if screen is None:
            return
        matcher = self.matcher(query)
        found = 0
        for card in list(screen.model.cards.values()):
            text = f"open {card.id}" + (f"  {card.title}" if card.title != card.id else "")
            score = matcher.match(text)
            if score > 0:
                open_detail = partial(self.app.post_message, JobScreen.OpenDetail(card.id))
                yield Hit(score, matcher.highlight(text), open_detail, text=text,
                          help=f"{card.column.value}: spec, attempts, output, chain of work")
                found += 1
                if found >= MAX_HITS:
                    return
