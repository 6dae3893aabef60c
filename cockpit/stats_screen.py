"""`s`: the deck's last 24 hours at a glance — runs, failures and cost per hour, from the rollups.

The rollups keep per-hour totals as the log is folded (state/rollups.py), so this
screen reads 24 small records, never the log. It is a snapshot as of when `s`
was pressed; `s` again after closing it takes a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Sparkline, Static

from jobdeck.state.money import format_cost as money
from jobdeck.state.rollups import HourRollup, Rollups

from jobdeck.cockpit.timefmt import stamp

HOURS = 24


@dataclass(frozen=True, slots=True)
class Day:
    """The last ``HOURS`` hours, oldest first: what the screen draws."""

    succeeded: list[int]
    failed: list[int]
    cost: list[float]
    by_model: dict[str, float]

    @classmethod
    def of(cls, rollups: Rollups, now: float) -> Day:
        last = int(now // 3600)
        hours: Mapping[int, HourRollup] = rollups.hours
        window = [hours.get(key, HourRollup()) for key in range(last - HOURS + 1, last + 1)]
        by_model: dict[str, float] = {}
        for hour in window:
            for model, cost in hour.by_model.items():
                by_model[model] = by_model.get(model, 0.0) + cost
        return cls([h.succeeded for h in window], [h.failed for h in window], [h.cost for h in window], by_model)


class StatsScreen(ModalScreen[None]):
    """Runs, failures and cost per hour over the last day; Esc, s or q closes it."""

    BINDINGS = [Binding("escape,s,q", "close", "close")]

    def __init__(self, rollups: Rollups, now: float) -> None:
        super().__init__(classes="dialog-screen")
        self.day = Day.of(rollups, now)
        self.now = now

    def compose(self) -> ComposeResult:
        day = self.day
        ended = sum(day.succeeded) + sum(day.failed)
        rate = f", {sum(day.failed) / ended:.0%} failed" if ended else ""
        with VerticalScroll(id="stats", classes="dialog"):
            yield Static(Text(f"the last {HOURS} hours, as of {stamp(self.now)}  (Esc closes)", "bold"),
                         classes="dialog-title")
            yield Static(f"done: {sum(day.succeeded)} in {HOURS}h, most in an hour {max(day.succeeded)}",
                         id="stats-done")
            yield Sparkline(day.succeeded, id="spark-done")
            yield Static(f"failed: {sum(day.failed)}{rate}, most in an hour {max(day.failed)}", id="stats-failed")
            yield Sparkline(day.failed, id="spark-failed")
            yield Static(f"cost: {money(sum(day.cost))}, most in an hour {money(max(day.cost))}", id="stats-cost")
            yield Sparkline(day.cost, id="spark-cost")
            models = ", ".join(f"{model} {money(cost)}" for model, cost in sorted(day.by_model.items(),
                                                                                key=lambda kv: -kv[1]))
            yield Static(Text(f"by model: {models or 'nothing spent'}", "dim"), id="stats-models")
            yield Static(Text("each bar is one hour, oldest left; `jobdeck stats` for per-job numbers", "dim"))

    def action_close(self) -> None:
        self.dismiss()
