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


def test_pausing_a_running_job_says_it_runs_on_and_its_card_says_after_this_run(tmp_path: Path) -> None:
    """A pause stops no process: the card read "paused" in the Running column while the job ran to its end."""
    import json
    import os

    from tests.functional.runner_kit import start_runner, status, wait_for

    fifo = tmp_path / "hold.fifo"
    os.mkfifo(fifo)
    deck = make_deck(tmp_path, [{"id": "busy", "command": ["cat", str(fifo)]}])
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "busy") == "running", what="busy to run")
        paused = jobdeck(deck, "pause", "busy", check=True)
        assert paused.stderr == ("jobdeck: busy: it runs on to the end of this attempt, then starts no new one until "
                                 "resumed (`jobdeck cancel busy` stops it now)\n")
        [card] = json.loads(jobdeck(deck, "ls", "--json", check=True).stdout)
        assert (card["column"], card["flags"]) == ("running", ["paused after this run"])
        os.close(os.open(fifo, os.O_WRONLY))  # ends the cat
        wait_for(lambda: status(deck, "busy") == "done", what="busy to end")
        [card] = json.loads(jobdeck(deck, "ls", "--json", "--all", check=True).stdout)
        assert "paused" in card["flags"]
    finally:
        runner.terminate()
        runner.communicate(timeout=60)
