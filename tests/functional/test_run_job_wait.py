"""`run --job ID --wait` on a path that waits for the operator says so, once each, then runs when given it.

It printed only "runner ... started" and waited in silence: a pause waited forever
with no hint, and an approval looked like a hang.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.functional.runner_kit import env_for, jobdeck, make_deck, status, wait_for


@contextmanager
def _run_job_wait(deck: Path, job: str, said: Path) -> Iterator[subprocess.Popen[str]]:
    """`jobdeck run --job JOB --wait` in the background, its stderr in ``said``; killed if still running after."""
    with open(said, "w") as sink:
        run = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--job", job, "--wait"], cwd=deck,
                               env=env_for(deck), stdout=subprocess.DEVNULL, stderr=sink, text=True)
    try:
        yield run
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def test_run_job_wait_names_what_waits_for_the_operator_and_runs_once_given(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "up", "command": ["true"], "risk": "high"},
                                {"id": "pub", "command": ["echo", "hi"], "depends_on": ["up"], "paused": True}])
    said = tmp_path / "stderr.txt"
    with _run_job_wait(deck, "pub", said) as run:
        paused = "jobdeck run: job 'pub' waits for you: pub is paused (`jobdeck resume pub`)"
        approval = ("jobdeck run: job 'pub' waits for you: up is high-risk and waits for approval "
                    "(`jobdeck approve up`)")
        wait_for(lambda: paused in said.read_text() and approval in said.read_text(), timeout=30,
                 what="the waits to be said")
        jobdeck(deck, "approve", "up", check=True)
        wait_for(lambda: status(deck, "up") == "done", timeout=30, what="up to run")
        jobdeck(deck, "resume", "pub", check=True)
        assert run.wait(30) == 0
    text = said.read_text()
    assert text.count(paused) == 1 and text.count(approval) == 1, text  # each once, however long it waited


def test_run_job_on_a_job_in_review_leaves_its_review_to_the_operator(tmp_path: Path) -> None:
    """It retried the job: the output waiting for review was thrown away, and the job ran again on each call."""
    from tests.functional.runner_kit import events

    deck = make_deck(tmp_path, [{"id": "draft", "command": ["echo", "hi"], "review": "always"}])
    jobdeck(deck, "run", "--once", "--quiet")
    assert status(deck, "draft") == "review"
    told = jobdeck(deck, "run", "--job", "draft")
    assert told.returncode == 1 and "jobdeck run: job 'draft' is in review" in told.stderr, told.stderr
    said = tmp_path / "stderr.txt"
    with _run_job_wait(deck, "draft", said) as run:
        wait_for(lambda: "draft waits for review of its output" in said.read_text(), timeout=30,
                 what="the review to be said")
        jobdeck(deck, "approve", "draft", check=True)
        assert run.wait(30) == 0
    assert [e["type"] for e in events(deck) if e["type"] in ("claimed", "retried")] == ["claimed"]  # one run
