"""How one card looks in a board column: three lines laid out at render time.

A ``CardCell`` is the single cell of a board row. It is a Rich renderable that
fits itself to the column's width when drawn, so a resize needs no rebuild, and
it carries the card's sort key so a column can keep its order.

    publish        1/3 4m      id, attempt n/max, age
    Publish the summary        title (or agent)
    awaiting approval          flags / reason (or agent); in advise mode, the decision's reason
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip

from jobdeck.state.card import Card
from jobdeck.state.machine import Status

from jobdeck.state.terminal import inert_line
from jobdeck.cockpit.advice import Advised
from jobdeck.cockpit.timefmt import age

HEIGHT = 3
STRIPS_KEPT = 24
"""Drawn lines kept per card: its three lines in either stripe, with and without the cursor, and more."""
ID_KEPT = 8
"""The fewest cells an id is cut to so its attempt and age still show: seven characters and "…"."""

#: The operator's own overrides as a card says them (state/views.override_text), and the word each
#: is said in when the whole line has no room: the operator's word is never the part cut away.
OVERRIDES = (("held by the operator", "held"), ("pinned to start next", "pinned"))
OVERRIDE_PREFIXES = tuple(said for said, _ in OVERRIDES)

#: Style of a flag, by its first word(s).
FLAG_STYLES = (
    ("awaiting approval", "bold magenta"),
    ("interrupted", "bold yellow"),
    ("blocked by", "yellow"),
    ("retry", "yellow"),
    ("paused", "italic"),
    ("fires", "cyan"),
    ("waiting for", "cyan"),
)
REASON_STYLES = {
    Status.REVIEW: "magenta",
    Status.FAILED: "red",
    Status.CANCELLED: "dim",
}


def sort_key(card: Card, position: int, advised: Advised | None = None) -> tuple[Any, ...]:
    """Order within a column: backlog by priority, then jobs.json order (or as advised); elsewhere oldest first.

    Oldest first means a job arriving in a column lands at the bottom, where the
    DataTable appends it without re-sorting (a re-sort of thousands of done
    jobs per change would cost more than the rest of the update).
    """
    if card.column == Status.BACKLOG:
        return advised.order if advised is not None else (-card.priority, position)
    return (card.since or 0.0, position)


def flag_texts(card: Card, now: float) -> list[str]:
    """The card's derived state in words, with clock-relative times filled in."""
    out: list[str] = []
    for flag in card.flags:
        if flag == "retrying" and card.retry_at is not None:
            out.append(f"retry in {age(card.retry_at - now)}")
        elif flag == "waiting for schedule" and card.next_fire is not None:
            out.append(f"fires in {age(card.next_fire - now)}")
        else:
            out.append(flag)
    return out


def status_line(card: Card, now: float, width: int | None = None) -> Text:
    """The third line: flags, else the reason it needs someone, else agent / next fire.

    The operator's override (held, pinned) comes first among the flags; when they are wider than
    ``width``, it is said in its one word so the rest ("blocked by ...") keeps what room is left.
    """
    flags = flag_texts(card, now)
    if flags:
        flags.sort(key=lambda flag: not flag.startswith(OVERRIDE_PREFIXES))  # (stable: the rest keep their order)
        if width is not None and len(flags) > 1 and cell_len(", ".join(flags)) > width:
            flags = [short_override(flag) for flag in flags]
        text = Text()
        for i, flag in enumerate(flags):
            if i:
                text.append(", ", "dim")
            style = next((s for prefix, s in FLAG_STYLES if flag.startswith(prefix)), "")
            text.append(inert_line(flag), style)
        return text
    if card.reason and card.column in REASON_STYLES:
        reason = "needs review" if card.reason == "review" else card.reason
        return Text(inert_line(reason), REASON_STYLES[card.column])
    if card.next_fire is not None and card.column != Status.RUNNING:
        return Text(f"next in {age(card.next_fire - now)}", "cyan")
    return Text(inert_line(card.agent), "dim")


def short_override(flag: str) -> str:
    """"held by the operator: site down" as "held: site down"; any other flag as it is."""
    for said, word in OVERRIDES:
        if flag.startswith(said):
            return word + flag[len(said):]
    return flag


def age_text(card: Card, now: float, *, always_attempt: bool = False) -> str:
    """'1/3 4m': attempt and time in the column (elapsed, if running).

    '1/1' says little, so a single-attempt job shows only its age unless ``always_attempt``.
    """
    parts = []
    if card.attempt and (always_attempt or card.max_attempts > 1 or card.attempt > 1 or not card.declared):
        parts.append(f"{card.attempt}/{card.max_attempts if card.declared else '?'}")  # (?: no longer in jobs.json)
    if card.since is not None:
        parts.append(age(now - card.since))
    return " ".join(parts)


def clock_text(card: Card, now: float) -> str:
    """Every clock-dependent text of a card; a tick redraws only cards where it changed."""
    text = age_text(card, now)
    if card.retry_at is not None:
        text += f"|{age(card.retry_at - now)}"
    if card.next_fire is not None:
        text += f"|{age(card.next_fire - now)}"
    return text


class CardCell:
    """A card rendered as a three-line DataTable cell."""

    __slots__ = ("card", "position", "advised", "order", "_now", "_clock", "_lines", "_drawn", "_strips")

    def __init__(self, card: Card, now: float, position: int, advised: Advised | None = None) -> None:
        self.card = card
        self.position = position
        self.advised = advised
        """The decision service's place and reason for a backlog card (advise and live modes)."""
        self.order = sort_key(card, position, advised)
        self._now = now
        self._clock: str | None = None
        self._lines: tuple[Text, Text] | None = None
        self._drawn: tuple[int, list[Segment]] | None = None
        self._strips: dict[tuple[object, ...], Strip] | None = None

    @property
    def corner(self) -> str:
        """Attempt and age, top right."""
        return age_text(self.card, self._now)

    @property
    def clock(self) -> str:
        """The card's clock-dependent texts (computed on first use: most cards past LIMIT never are)."""
        if self._clock is None:
            self._clock = clock_text(self.card, self._now)
        return self._clock

    @property
    def lines(self) -> tuple[Text, Text]:
        """Lines two and three, built on first use: only cards scrolled into view pay for them."""
        if self._lines is None:
            card = self.card
            second = Text(inert_line(card.title)) if card.title != card.id else Text(inert_line(card.agent), "dim")
            advised = self.advised
            if advised is not None and advised.line is not None:
                third = Text(inert_line(advised.line), advised.style)
            else:
                third = status_line(card, self._now)
            if card.title == card.id and third.plain == card.agent:
                third = Text("")
            self._lines = (second, third)
        return self._lines

    @property
    def _overridden(self) -> bool:
        """Whether the third line says the card's flags, the operator's override among them (not an advice)."""
        advised = self.advised
        return ((advised is None or advised.line is None)
                and any(flag.startswith(OVERRIDE_PREFIXES) for flag in self.card.flags))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # DataTable drops its cell cache on every change to the table, so a card is
        # redrawn far more often than it changes: keep its segments per width.
        width = max(1, options.max_width)
        if self._drawn is None or self._drawn[0] != width:
            segments: list[Segment] = []
            for line in self._layout(width):
                segments.extend(console.render(line, options))
            self._drawn = (width, segments)
        return self._drawn[1]

    def _layout(self, width: int) -> list[Text]:
        # The whole id (what an operator types elsewhere) with the attempt and age beside it, '1/1'
        # included, if they fit; else the id is cut, down to ID_KEPT cells, for the attempt (if it
        # says more than '1/1') and the age: the footer shows the selected card's whole id. Only
        # narrower than that does the age go alone, then the corner altogether.
        card = self.card
        first = Text(card.id, "bold", no_wrap=True, overflow="ellipsis")
        whole, kept = first.cell_len, min(first.cell_len, ID_KEPT)
        bare = age(self._now - card.since) if card.since is not None else ""
        corner = ""
        for candidate, id_cells in ((age_text(card, self._now, always_attempt=True), whole), (self.corner, whole),
                                    (self.corner, kept), (bare, kept)):
            if candidate and id_cells + 1 + len(candidate) <= width:
                corner = candidate
                break
        first.truncate(width - (len(corner) + 1 if corner else 0), overflow="ellipsis")
        if corner:
            first.pad_right(width - first.cell_len - len(corner))
            first.append(corner, "dim")
        lines = [first]
        second, third = self.lines
        if third.cell_len > width and self._overridden:  # the operator's word kept short, the rest after it
            third = status_line(card, self._now, width)
        for line in (second, third):
            line = line.copy()
            line.no_wrap, line.overflow = True, "ellipsis"
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        return lines

    def strip(self, look: tuple[object, ...]) -> Strip | None:
        """A line of this card as the table drew it for ``look`` (see textual_private.HeaderlessTable)."""
        return self._strips.get(look) if self._strips is not None else None

    def keep_strip(self, look: tuple[object, ...], strip: Strip) -> None:
        if self._strips is None or len(self._strips) >= STRIPS_KEPT:
            self._strips = {}
        self._strips[look] = strip

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, CardCell) and self.card == other.card and self.position == other.position
                and self.advised == other.advised and self.clock == other.clock)

    __hash__ = None  # type: ignore[assignment]
