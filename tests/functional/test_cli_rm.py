"""`jobdeck rm`: jobs leave jobs.json in one validated change, the rest of the file as written; never a
job that runs or that a staying job needs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.functional.runner_kit import jobdeck, make_deck, start_runner, status, wait_for

HAND_WRITTEN = """\
{
  "//": "kept as written",
  "jobs": [
    {"id": "fetch", "command": ["true"]},
    {
      "id": "clean",
      "command": ["true"],
      "depends_on": ["fetch"]
    },
    {"id": "slow", "command": ["sh", "-c", "read line < ./go"], "shell": false},
    {"id": "tidy", "command": ["true"]}
  ],
  "limits": {"parallel": 2}
}
"""


def hand_written_deck(tmp_path: Path) -> Path:
    deck = make_deck(tmp_path, [])
    (deck / "jobs.json").write_text(HAND_WRITTEN)
    return deck


def test_rm_takes_out_only_the_jobs_lines_and_says_what_it_removed(tmp_path: Path) -> None:
    deck = hand_written_deck(tmp_path)
    done = jobdeck(deck, "rm", "clean", "fetch", "--json", check=True)
    assert json.loads(done.stdout) == {"removed": ["clean", "fetch"]}
    assert (deck / "jobs.json").read_text() == HAND_WRITTEN.replace(
        '    {"id": "fetch", "command": ["true"]},\n    {\n      "id": "clean",\n      "command": ["true"],\n'
        '      "depends_on": ["fetch"]\n    },\n', "")
    assert jobdeck(deck, "validate").returncode == 0
    last = jobdeck(deck, "rm", "tidy", check=True)
    assert last.stdout == "removed 1 job: tidy\n"
    assert '"slow", "command": ["sh", "-c", "read line < ./go"], "shell": false}\n  ],' in (deck / "jobs.json").read_text()


def test_rm_refuses_a_job_another_needs_or_an_unknown_id_and_changes_nothing(tmp_path: Path) -> None:
    deck = hand_written_deck(tmp_path)
    needed = jobdeck(deck, "rm", "fetch")
    assert needed.returncode == 1
    assert needed.stderr == ("jobdeck: job 'clean' depends on 'fetch'; nothing was done (hint: remove 'clean' too, "
                             "or take 'fetch' out of its depends_on first)\n")
    unknown = jobdeck(deck, "rm", "tidy", "nope")
    assert unknown.returncode == 1 and "no job 'nope'" in unknown.stderr
    assert (deck / "jobs.json").read_text() == HAND_WRITTEN


def test_rm_refuses_a_running_job_until_it_ends(tmp_path: Path) -> None:
    deck = hand_written_deck(tmp_path)
    (deck / "jobs.json").write_text(HAND_WRITTEN.replace("./go", str(tmp_path / "go")))
    before = (deck / "jobs.json").read_text()
    subprocess.run(["mkfifo", str(tmp_path / "go")], check=True)
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "slow") == "running", what="slow to run")
        refused = jobdeck(deck, "rm", "slow")
        assert refused.returncode == 1
        assert refused.stderr == ("jobdeck: job 'slow' is running; nothing was done "
                                  "(hint: cancel it first (jobdeck cancel slow), or wait for it to end)\n")
        assert (deck / "jobs.json").read_text() == before
        (tmp_path / "go").write_text("go\n")  # the job reads its line and ends
        wait_for(lambda: status(deck, "slow") == "done", what="slow to end")
        assert jobdeck(deck, "rm", "slow", check=True).returncode == 0
        assert '"slow"' not in (deck / "jobs.json").read_text()
    finally:
        runner.terminate()
        runner.wait(timeout=30)
