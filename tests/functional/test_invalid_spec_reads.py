"""While jobs.json is invalid (an operator halfway through an edit), runners keep its last valid version:
the read commands, and the actions that stop or keep back work, use that same version and say so, instead of
refusing (a runaway job can be paused mid-edit).

What deletes (`gc`) or lets work start (`run`, `approve`, `trigger`, `retry`, `resume`, `pin`, `release`) still
refuses: it judges the file as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.runner_kit import jobdeck, make_deck

BROKEN = '{"jobs": [{"id": "a", "command": ["echo", "hi"],}]}\n'  # a trailing comma, mid-edit


def _said_kept(stderr: str) -> None:
    assert stderr.count("\n") == 1 and "jobs.json:1:49: " in stderr and "trailing comma" in stderr, stderr
    assert "using the last valid jobs.json meanwhile, as running runners do" in stderr, stderr


def test_reads_and_actions_use_the_last_valid_version_while_jobs_json_is_invalid(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "a", "command": ["echo", "hi"]},
                                {"id": "b", "command": ["true"], "risk": "high"}])
    jobdeck(deck, "run", "--once", check=True)
    jobdeck(deck, "add", "--id", "c", "--", "true", check=True)  # (accepted without the models: kept all the same)
    (deck / "jobs.json").write_text(BROKEN)

    listed = jobdeck(deck, "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {card["id"]: card["column"] for card in json.loads(listed.stdout)} == \
        {"a": "done", "b": "backlog", "c": "backlog"}
    _said_kept(listed.stderr)

    logs = jobdeck(deck, "logs", "a")
    assert (logs.returncode, logs.stdout) == (0, "hi\n")
    _said_kept(logs.stderr)
    shown = jobdeck(deck, "show", "c", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["spec"]["command"] == ["true"], shown.stderr

    for action in (("pause", "c"), ("hold", "b")):
        done = jobdeck(deck, *action)
        assert done.returncode == 0, done.stderr
        _said_kept(done.stderr)
    for command in ("pause", "show", "logs", "why"):  # ids are still checked, against that version, which is named
        unknown = jobdeck(deck, command, "zz")
        assert unknown.returncode == 1, (command, unknown.stderr)
        assert f"no job 'zz' in the last valid version of {deck / 'jobs.json'}" in unknown.stderr, unknown.stderr

    for refused in (("gc", "--dry-run"), ("run", "--once")):
        result = jobdeck(deck, *refused)
        assert result.returncode == 1 and "trailing comma" in result.stderr, (refused, result.stderr)
        assert "last valid" not in result.stderr


def test_a_deck_never_valid_or_whose_kept_version_this_jobdeck_refuses_refuses(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "a", "command": ["echo", "hi"]}])
    (deck / "jobs.json").write_text(BROKEN)
    never = jobdeck(deck, "ls")
    assert never.returncode == 1 and "trailing comma" in never.stderr and "last valid" not in never.stderr

    (deck / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["echo", "hi"]}]}\n')
    jobdeck(deck, "ls", check=True)
    (deck / ".jobdeck" / "spec.ok").unlink()  # (the verdict gone: another jobdeck, another environment)
    (deck / "jobs.json").write_text(BROKEN)
    judged_again = jobdeck(deck, "ls", "--json")  # this jobdeck validates the kept version itself, and accepts it
    assert judged_again.returncode == 0 and [card["id"] for card in json.loads(judged_again.stdout)] == ["a"]
    _said_kept(judged_again.stderr)

    kept = deck / ".jobdeck" / "spec.kept.json"
    kept.write_text('{"jobs": [{"id": "a", "comand": ["echo", "hi"]}]}\n')  # one this jobdeck refuses
    refused = jobdeck(deck, "logs", "a")
    assert refused.returncode == 1 and "trailing comma" in refused.stderr and "last valid" not in refused.stderr


def test_the_version_kept_is_the_last_one_seen_valid_even_one_accepted_before(tmp_path: Path) -> None:
    """A: accepted; B (with a job b): accepted; back to A (accepted before: read without validating); then broken.
    The version used meanwhile is A, the last the deck was at, not B, the last one validated."""
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}])
    first = (deck / "jobs.json").read_text()
    jobdeck(deck, "ls", check=True)
    jobdeck(deck, "add", "--id", "b", "--", "true", check=True)
    jobdeck(deck, "ls", check=True)
    for seen_by in ("ls", "status"):  # (any command that reads jobs.json whole)
        (deck / "jobs.json").write_text(first)
        jobdeck(deck, seen_by, check=True)
        (deck / "jobs.json").write_text(BROKEN)
        listed = jobdeck(deck, "ls", "--json")
        assert listed.returncode == 0 and [card["id"] for card in json.loads(listed.stdout)] == ["a"], \
            (seen_by, listed.stdout)
        (deck / "jobs.json").write_text(first.replace('"jobs": [', '"jobs": [{"id": "b", "command": ["true"]}, ', 1))
        jobdeck(deck, "ls", check=True)  # (B again: the newest)


def test_an_action_that_lets_work_start_waits_for_jobs_json_to_be_valid(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [{"id": "a", "command": ["true"]}, {"id": "risky", "command": ["true"], "risk": "high"}])
    jobdeck(deck, "ls", check=True)
    (deck / "jobs.json").write_text(BROKEN)
    for action in (("approve", "risky"), ("trigger", "a"), ("retry", "a"), ("resume", "a"), ("pin", "a"),
                   ("release", "a")):
        refused = jobdeck(deck, *action)
        assert refused.returncode == 1, (action, refused.stderr)
        assert refused.stderr.startswith(f"jobdeck: {action[0]} waits for jobs.json to be valid, as it lets work "
                                         f"start: {deck / 'jobs.json'}:1:49: "), refused.stderr
        assert refused.stderr.endswith("(hint: remove the trailing comma; JSON does not allow one; pause, cancel, "
                                       "hold and reject act meanwhile)\n"), refused.stderr
    for action in (("pause", "a"), ("hold", "a"), ("cancel", "a"), ("hold",)):
        done = jobdeck(deck, *action)
        assert done.returncode == 0, (action, done.stderr)
    refused = jobdeck(deck, "release")  # the deck's: lets every job start again
    assert refused.returncode == 1 and refused.stderr.startswith("jobdeck: release waits for jobs.json to be valid")
