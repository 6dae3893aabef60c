"""pause and resume change a flag: asked to change nothing, they refuse and record nothing, as pin/hold/release."""

from __future__ import annotations

from pathlib import Path

from tests.functional.runner_kit import events, jobdeck, make_deck


def test_pause_of_a_paused_job_and_resume_of_a_running_one_are_refused_and_record_nothing(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "sync", "command": ["true"]},
                                {"id": "nightly", "command": ["true"], "paused": True}])  # paused by jobs.json
    assert jobdeck(deck, "resume", "sync").returncode == 1
    assert jobdeck(deck, "pause", "nightly").returncode == 1  # jobs.json pauses it already
    assert events(deck) == []
    assert jobdeck(deck, "pause", "sync", check=True).stdout.startswith("paused sync")
    again = jobdeck(deck, "pause", "sync")
    assert (again.returncode, again.stderr) == (1, "jobdeck: cannot pause job 'sync': it is already paused\n")
    assert jobdeck(deck, "resume", "sync", check=True).returncode == 0
    assert jobdeck(deck, "resume", "nightly", check=True).returncode == 0
    refused = jobdeck(deck, "resume", "nightly")
    assert (refused.returncode, refused.stderr) == (1, "jobdeck: cannot resume job 'nightly': it is not paused\n")
    assert [(e["type"], e["job"]) for e in events(deck)] == [("paused", "sync"), ("resumed", "sync"),
                                                             ("resumed", "nightly")]
