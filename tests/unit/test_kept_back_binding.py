"""A job several gates hold is told as the one that holds it longest, wherever a person reads it."""

from __future__ import annotations

import io

from jobdeck.cli.report import Reporter
from jobdeck.state.board import Board, Store
from jobdeck.state.deck import init_deck

NOW = 1_800_000_000.0
WINDOW = "window 18:00-19:00 (UTC) opens at 18:00, in 1h00m"
REVIEWS = "review queue 4 of capacity 4, and its output goes to review"
RECORD = {"type": "decided", "job": "all", "mode": "live", "policy": "p", "action": "defer", "needs": "window",
          "until": NOW + 3600, "note": "⏸ reviews", "reasons": [WINDOW, REVIEWS],
          "gates": [{"action": "defer", "until": NOW + 3600, "needs": "window", "reason": WINDOW},
                    {"action": "hold", "needs": "reviews", "reason": REVIEWS}],
          "seq": 3, "ts": NOW}


def test_run_job_and_the_runner_say_the_longest_gate_not_the_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The window would let the job start at 18:00, the review queue not before a review: `run --job` said
    "deferred: window ... opens at 18:00", promising a start then, where `why` and the card said reviews."""
    board = Board()
    board.apply(RECORD)
    kept = board.kept_back["all"]
    assert (kept.action, kept.needs, kept.until) == ("defer", "window", NOW + 3600)  # the runner asks again then
    assert kept.said() == ("hold", "reviews") and kept.reason == REVIEWS
    stream = io.StringIO()
    Reporter(stream=stream)(RECORD)  # the runner's own line
    assert stream.getvalue().split(" ", 1)[1].rstrip("\n") == (
        f"all held by the decision service: {REVIEWS} (hint: `jobdeck pin all` starts it now anyway)")

    deck = init_deck(tmp_path / "deck", b'{"jobs": [{"id": "all", "command": ["true"]}]}')
    with Store(deck) as store:  # and board.json keeps it
        store.board.kept_back["all"] = kept
        store.write_snapshot()
    with Store(deck) as store:
        assert store.board.kept_back["all"] == kept
