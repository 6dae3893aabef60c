"""A job that writes its result into $JOBDECK_OUTPUT itself (`jq ... > "$JOBDECK_OUTPUT"`, `mv result
"$JOBDECK_OUTPUT"`) bypasses the runner's stream redaction; the runner redacts the file when the attempt ends,
before the outcome is recorded, so no secret it references stays on disk or reaches a dependent."""

from __future__ import annotations

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
