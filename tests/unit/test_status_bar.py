"""The header keeps the hour's failures and the day's cost on a busy board at 80 columns."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from jobdeck.cockpit.model import BoardStats
from jobdeck.cockpit.status_bar import StatusBar
from jobdeck.state.heartbeat import Heartbeat
from jobdeck.state.machine import Status

pytestmark = pytest.mark.anyio


class Header(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar("big")


async def test_a_busy_board_keeps_failures_and_cost_before_the_folded_columns_words() -> None:
    """Dropped first were the failures and the cost ("big B157 R8 V6 D113 F16 │ ● runner up │ DF folded"): they
    went exactly when failures piled up."""
    counts = {Status.BACKLOG: 157, Status.RUNNING: 8, Status.REVIEW: 6, Status.DONE: 113, Status.FAILED: 16}
    runner = Heartbeat(runner="r1", pid=1, host="vm", at=0.0, parallel=8)
    app = Header()
    async with app.run_test(size=(80, 3)) as pilot:
        bar = app.query_one(StatusBar)
        bar.stats = BoardStats({**{s: 0 for s in Status}, **counts}, 8, 8, 16, 1.234, (runner,))
        bar.folded = (Status.DONE, Status.FAILED)
        await pilot.pause()
        line = bar.render().plain
        assert "16✗/1h" in line and "$1.23" in line and "R8/8" in line and "DF ←/→" in line, line
        assert len(line) <= 80
