"""A job that writes its result into $JOBDECK_OUTPUT itself (`jq ... > "$JOBDECK_OUTPUT"`, `mv result
"$JOBDECK_OUTPUT"`) bypasses the runner's stream redaction; the runner redacts the file when the attempt ends,
before the outcome is recorded, so no secret it references stays on disk or reaches a dependent."""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.runner_kit import env_for, jobdeck, make_deck

TOKEN = "ghp_R3alisticT0kenValue1234567890abcdEF"
GH = {"GH": {"env": "GITHUB_TOKEN"}}


def test_what_a_job_writes_into_its_output_file_is_redacted_before_a_dependent_reads_it(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [
        {"id": "truncates", "command": 'echo "token=$GH" > "$JOBDECK_OUTPUT"; echo "printed $GH"', "shell": True,
         "env": GH},
        {"id": "replaces", "command": 'echo "moved $GH" > r.tmp && mv r.tmp "$JOBDECK_OUTPUT"', "shell": True,
         "env": GH},
        {"id": "split", "command": 'printf "%s" "${GH%????????}" >> "$JOBDECK_OUTPUT"; '
                                   'printf "%s\\n" "${GH#${GH%????????}}" >> "$JOBDECK_OUTPUT"',
         "shell": True, "env": GH},
        {"id": "plain", "command": ["echo", "nothing secret here"]},
        {"id": "reader", "command": ["sh", "-c", 'cat "$JOBDECK_INPUT_TRUNCATES" "$JOBDECK_INPUT_REPLACES"'],
         "depends_on": ["truncates", "replaces"]},
    ])
    jobdeck(deck, "run", "--once", "--quiet", env=env_for(deck, GITHUB_TOKEN=TOKEN), check=True)
    runs = deck / "workspaces" / "default" / "runs"
    said = {job: (runs / job / "1" / "output").read_text() for job in ("truncates", "replaces", "split", "plain")}
    assert said == {"truncates": "token=[REDACTED:GITHUB_TOKEN]\nprinted [REDACTED:GITHUB_TOKEN]\n",
                    "replaces": "moved [REDACTED:GITHUB_TOKEN]\n", "split": "[REDACTED:GITHUB_TOKEN]\n",
                    "plain": "nothing secret here\n"}
    assert (runs / "reader" / "1" / "output").read_text() == said["truncates"] + said["replaces"]
    left = [path for path in deck.rglob("*") if path.is_file() and TOKEN.encode() in path.read_bytes()]
    assert left == []
    assert not list(runs.rglob(".output.redacted")), "the rewrite leaves no temporary file"
    shown = jobdeck(deck, "logs", "replaces", env=env_for(deck, GITHUB_TOKEN=TOKEN), check=True)
    assert shown.stdout == "moved [REDACTED:GITHUB_TOKEN]\n"


def test_a_fifo_or_a_large_file_left_as_the_output_holds_up_nothing(tmp_path: Path) -> None:
    """The runner looks at the output file again by its name: a FIFO left there must not block it (never
    opened to wait for a writer), and a large file with no secret is read once, off the loop, not copied."""
    deck = make_deck(tmp_path, [
        {"id": "fifo", "command": 'rm -f "$JOBDECK_OUTPUT"; mkfifo "$JOBDECK_OUTPUT"', "shell": True, "env": GH},
        {"id": "big", "command": 'head -c 50000000 /dev/zero > r.tmp && mv r.tmp "$JOBDECK_OUTPUT"', "shell": True,
         "env": GH},
    ])
    done = jobdeck(deck, "run", "--once", "--quiet", env=env_for(deck, GITHUB_TOKEN=TOKEN), timeout=60)
    assert done.returncode == 0, done.stderr
    runs = deck / "workspaces" / "default" / "runs"
    assert (runs / "big" / "1" / "output").stat().st_size == 50_000_000
    assert not list(runs.rglob(".output.redacted")), "no copy of a file with no secret in it"
    result = json.loads((runs / "big" / "1" / "result.json").read_text())
    assert result["output_bytes"] == 50_000_000, "the size of what the job left, not of what it printed"
