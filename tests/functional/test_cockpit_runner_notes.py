"""A running job's card says what its runner says of it (e.g. "queued on gpu (PD: Resources)")."""

from __future__ import annotations

import time
from pathlib import Path

from jobdeck.cockpit.model import DeckModel
from jobdeck.state.board import open_store
from jobdeck.state.deck import Deck, init_deck
from jobdeck.state.heartbeat import STALE_AFTER, Heartbeat, write_heartbeat
from jobdeck.state.machine import EventType


def test_a_runner_note_is_on_the_running_jobs_card_while_its_runner_lives(tmp_path: Path) -> None:
    deck = init_deck(tmp_path / "deck", b'{"jobs": [{"id": "train", "command": ["true"]}, '
                                         b'{"id": "idle", "command": ["true"]}]}')
    store = open_store(deck)
    store.commit([{"type": EventType.CLAIMED, "job": "train", "attempt": 1, "runner": "r1", "workspace": "default"}])
    store.close()
    deck.runners_dir.mkdir(parents=True, exist_ok=True)

    def beat(notes: dict[str, str], at: float | None = None) -> None:
        write_heartbeat(deck.runners_dir, Heartbeat("r1", 1, "host", time.time() if at is None else at, 4,
                                                    ("train",), notes))

    beat({"train": "queued on gpu (PD: Resources)", "idle": "not running: shown nowhere"})
    model = DeckModel(Deck(deck.root), time.time)
    model.load()
    model.read_heartbeats()
    assert model.cards["train"].flags[0] == "queued on gpu (PD: Resources)"
    assert "not running: shown nowhere" not in model.cards["idle"].flags

    beat({"train": "running on gpu (node7)"})
    delta = model.refresh()
    model.read_heartbeats(delta)
    assert delta.changed["train"].flags[0] == "running on gpu (node7)"

    beat({"train": "queued on gpu (PD: Priority)"}, at=time.time() - STALE_AFTER - 1)  # its runner is gone
    delta = model.refresh()
    model.read_heartbeats(delta)
    assert "train" in delta.changed and not any("gpu" in flag for flag in model.cards["train"].flags)


def test_a_deferrals_note_leaves_the_card_when_its_time_comes(tmp_path: Path) -> None:
    """The cockpit re-derives clock-dependent cards each full tick (`retime`): a window's note goes once it opens."""
    deck = init_deck(tmp_path / "deck", b'{"jobs": [{"id": "night", "command": ["true"]}]}')
    now = [time.time()]
    with open_store(deck) as store:
        store.commit([{"type": EventType.DECIDED, "job": "night", "action": "defer", "mode": "live", "needs": "window",
                       "until": now[0] + 60, "note": "⏱ window 22:00", "reasons": ["window opens at 22:00"]}])
    model = DeckModel(Deck(deck.root), lambda: now[0])
    model.load()
    assert model.cards["night"].flags == ("⏱ window 22:00",)
    assert not model.retime()  # nothing changed yet
    now[0] += 61
    assert model.retime().changed["night"].flags == ()


def test_a_hold_on_the_review_queue_leaves_the_card_when_a_review_ends(tmp_path: Path) -> None:
    """Approving another job's output re-derives the held card: the queue has room, so "⏸ reviews" goes."""
    deck = init_deck(tmp_path / "deck", b'{"jobs": [{"id": "draft", "command": ["true"], "risk": "medium"}, '
                                         b'{"id": "next", "command": ["true"], "risk": "medium"}]}')
    with open_store(deck) as store:
        store.commit([{"type": EventType.CLAIMED, "job": "draft", "attempt": 1, "runner": "r1"}])
        store.commit([{"type": EventType.SUCCEEDED, "job": "draft", "token": store.board.state("draft").token,
                       "review": True}])
        store.commit([{"type": EventType.DECIDED, "job": "next", "action": "hold", "mode": "live", "needs": "reviews",
                       "note": "⏸ reviews", "reasons": ["review queue 1 of capacity 1"], "capacity": 1}])
    model = DeckModel(Deck(deck.root), time.time)
    model.load()
    assert model.cards["next"].flags == ("⏸ reviews",)
    with open_store(deck) as store:
        store.commit([{"type": EventType.APPROVED, "job": "draft", "by": "op"}])
    assert model.refresh().changed["next"].flags == ()
