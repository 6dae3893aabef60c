"""A hold or deferral quoted later (`release`, `ls`) counts its "in ..." from now, not from when it was said."""

from __future__ import annotations

from jobdeck.state.board import Board, KeptBack
from jobdeck.state.machine import JobState
from jobdeck.state.views import kept_back_now

NOW = 1_800_000_000.0


def test_a_deferrals_countdown_is_counted_from_now() -> None:
    said = KeptBack("defer", "window", NOW + 3 * 3600, "⏱ window 02:00",
                    "window 02:00-03:00 (UTC) opens at 02:00, in 3h00m")
    board = Board({"w": JobState("w")}, kept_back={"w": said})
    later = kept_back_now(board, "w", NOW + 3600)
    assert later is not None and later.reason == "window 02:00-03:00 (UTC) opens at 02:00, in 2h00m"
    held = KeptBack("hold", "budget", NOW + 600, "⏸ budget", "budget: $0.06 spent today > $0.05 a day")
    board = Board({"b": JobState("b")}, kept_back={"b": held})
    assert kept_back_now(board, "b", NOW).reason == held.reason  # no countdown in it: as said
