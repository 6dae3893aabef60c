"""`status --check` judges a cluster job's hard timeout from when it started running there, not from its claim."""

from __future__ import annotations

import json
import time
from pathlib import Path

from jobdeck.state.board import open_store
from jobdeck.state.deck import init_deck
from jobdeck.state.health import job_problems
from jobdeck.state.loader import load_spec
from jobdeck.state.machine import EventType

SPEC = b"""{"executors": {"gpu": {"type": "slurm"}},
 "jobs": [{"id": "train", "command": ["./train.sh"], "executor": "gpu", "timeout": {"hard": "1m"}},
          {"id": "here", "command": ["./here.sh"], "timeout": {"hard": "1m"}}]}"""


def test_time_in_the_clusters_queue_is_not_running_time(tmp_path: Path) -> None:
    deck = init_deck(tmp_path / "deck", SPEC)
    claimed = time.time() - 3600  # both claimed an hour ago
    with open_store(deck) as store:
        for job in ("train", "here"):
            store.commit([{"type": EventType.CLAIMED, "job": job, "attempt": 1, "runner": "r", "workspace": "default"}],
                         now=claimed)
    for job in ("train", "here"):
        deck.attempt_dir("default", job, 1).mkdir(parents=True)
    record = deck.attempt_dir("default", "train", 1) / "remote.json"
    spec = load_spec(deck.spec_path).spec

    def overruns() -> list[str]:
        with open_store(deck) as store:
            return sorted(p.job or "" for p in job_problems(spec, store.board, time.time(), waiting_age=None,
                                                            deck=deck) if p.kind == "overrun")

    record.write_text(json.dumps({"executor": "gpu", "name": "jobdeck.x.train.1.1", "id": "7"}))
    assert overruns() == ["here"], "queued for an hour: not an overrun"
    record.write_text(json.dumps({"executor": "gpu", "name": "jobdeck.x.train.1.1", "id": "7",
                                  "running_since": time.time() - 30}))
    assert overruns() == ["here"], "30 s into a 1 min limit"
    record.write_text(json.dumps({"executor": "gpu", "name": "jobdeck.x.train.1.1", "id": "7",
                                  "running_since": time.time() - 600}))
    assert overruns() == ["here", "train"]
