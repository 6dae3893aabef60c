"""decide/report.py: the claims live would have changed, spend per UTC day against the budget, and its
quantiles against the histogram `jobdeck stats` reads, on records written by hand."""

from __future__ import annotations

from typing import Any

import log_records
from jobdeck.decide.report import quantile, report
from jobdeck.state.history import History
from jobdeck.state.rollups import Histogram
from jobdeck.state.tally import dollars

DAY = 86400.0
MONDAY = 20_000 * DAY  # a UTC midnight


class Log(log_records.Log):
    """The hand-written log, with attempts as these tests write them."""

    def attempt(self, start: float, end: float, job: str, cost: float, **decided: Any) -> None:
        """A shadow claim of ``job`` with its verdict (``decided``), and its end at ``end`` costing ``cost``."""
        if decided:
            self.add(start, "decided", job, mode="shadow", policy="p", **decided)
        token = self.add(start, "claimed", job, attempt=1, runner="r")
        self.add(end, "succeeded", job, token=token, cost=cost)


def test_a_claim_held_for_the_budget_is_a_change_beside_those_another_job_would_have_gone_before() -> None:
    log = Log()
    log.attempt(MONDAY + 10, MONDAY + 11, "adhoc", 0.0, action="start", followed=False, advised=["fetch"],
                advised_why=["feeds report"])
    log.attempt(MONDAY + 20, MONDAY + 21, "ask", 0.03, action="hold", needs="budget", followed=False,
                reasons=["budget: $0.05 spent today > $0.06 a day"])
    log.attempt(MONDAY + 30, MONDAY + 31, "draft", 0.0, action="hold", needs="reviews", followed=False,
                reasons=["review queue 1 of capacity 1"])
    log.attempt(MONDAY + 40, MONDAY + 41, "fetch", 0.0, action="start", followed=True)
    found = report(log.records, now=MONDAY + 50)
    assert (found.compared, found.changed, found.differed, found.kept_back) == (4, 3, 1, 2)
    data = found.to_json()
    assert data["kept_back_for"] == {"budget": 1, "reviews": 1}
    assert [e["claimed"] for e in data["examples"]] == ["adhoc"]
    assert data["kept_back_examples"] == [
        {"ts": MONDAY + 20, "claimed": "ask", "action": "hold", "needs": "budget",
         "reasons": ["budget: $0.05 spent today > $0.06 a day"]},
        {"ts": MONDAY + 30, "claimed": "draft", "action": "hold", "needs": "reviews",
         "reasons": ["review queue 1 of capacity 1"]}]


def test_spend_is_set_against_the_budget_per_utc_day_counting_each_day_the_window_touches_whole() -> None:
    log = Log()
    log.attempt(MONDAY + 3600, MONDAY + 3601, "ask", 0.05)  # Monday, before the window
    log.attempt(MONDAY + 80_000, MONDAY + 80_001, "ask", 0.03, action="hold", needs="budget", followed=False)
    log.add(MONDAY + 80_100, "scored", None, cost=0.002, model="ranker")  # a scorer's call is spend too
    stale = log.add(MONDAY + DAY + 10, "claimed", "ask", attempt=2, runner="r")
    log.add(MONDAY + DAY + 20, "succeeded", "ask", token=stale - 1, cost=9.0)  # refused: another attempt's token
    log.add(MONDAY + DAY + 30, "interrupted", "ask", token=stale, cost=0.01)
    log.add(MONDAY + DAY + 40, "decided", "ask", mode="live", action="hold", needs="budget", policy="p")
    found = report(log.records, since=MONDAY + 79_000, now=MONDAY + DAY + 50, daily_budget=0.06)
    assert found.to_json()["budget"] == {"daily": 0.06, "days": [
        {"day": "2024-10-04", "spent": 0.082, "over": 0.022, "held": 0, "would_have_held": 1},
        {"day": "2024-10-05", "spent": 0.01, "over": 0.0, "held": 1, "would_have_held": 0}]}
    assert found.cost == 0.042  # the window's own: not Monday's morning
    history = History()
    history.fold(log.records)
    assert dollars(history.total["deck"].cost_pico) == 0.092 == round(0.05 + 0.042, 6)  # as `stats` counts it
    assert report(log.records, now=MONDAY + DAY + 50).to_json()["budget"]["days"][0]["over"] is None  # no budget


def test_a_quantile_is_the_one_statss_histogram_gives_to_within_its_bucket() -> None:
    for waits, histogram in log_records.random_waits(seed=7):
        for q in (0.5, 0.9, 0.95):
            exact, binned = quantile(waits, q), histogram.quantile(q)
            assert exact is not None and binned is not None
            low, high = Histogram.bounds(Histogram.bucket(exact))
            assert low - 1e-9 <= binned <= high + 1e-9, (sorted(waits), q, exact, binned)
    assert quantile([0, 0, 0, 0, 20, 33, 38, 78, 118, 118, 137, 147, 154, 214], 0.5) == 38  # the 7th of 14
    assert quantile([], 0.5) is None and quantile([5.0], 0.95) == 5.0


def test_a_long_window_within_the_budget_says_all_its_days_were(capsys) -> None:
    """Over more than DAYS_SHOWN days only those over the budget are listed; with none it read "and 35 days"."""
    from jobdeck.cli.deciding import DAYS_SHOWN, _print_budget

    day = {"day": "2026-11-01", "spent": 0.1, "over": 0.0, "held": 0, "would_have_held": 0}
    _print_budget({"daily": 0.5, "days": [day] * (DAYS_SHOWN + 21)})
    assert capsys.readouterr().out.splitlines()[1] == \
        f"  all {DAYS_SHOWN + 21} days within it, none held for it (--json lists each)"
