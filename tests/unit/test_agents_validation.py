"""check_output: every validate rule, the JSON fence, and the validator command's contract."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from jobdeck.agents.validation import check_output, fenced_json_body, parse_json_output, strip_fences
from jobdeck.state.redact import Redactor
from jobdeck.state.spec import Job


def job(**fields: Any) -> Job:
    return Job.model_validate({"id": "j", "command": ["true"], **fields})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "output"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text", ['```json\n{"a": 1}\n```', '```\n{"a": 1}\n```\n', '  ```JSON\r\n{"a": 1}```  '])
def test_one_wrapping_fence_is_stripped(text: str) -> None:
    assert parse_json_output(text) == {"a": 1}


def test_prose_around_a_fence_is_not_json() -> None:
    assert strip_fences('Here:\n```json\n{"a": 1}\n```') == 'Here:\n```json\n{"a": 1}\n```'
    with pytest.raises(ValueError, match="line 1"):
        parse_json_output('Here:\n```json\n{"a": 1}\n```')


def test_text_output_without_rules_is_always_valid(tmp_path: Path) -> None:
    assert check_output(job(), write(tmp_path, "anything"), {}) == []


def test_json_output_must_parse(tmp_path: Path) -> None:
    assert check_output(job(output="json"), write(tmp_path, '```json\n[1, 2]\n```'), {}) == []
    [reason] = check_output(job(output="json"), write(tmp_path, '{"a": '), {})
    assert reason.startswith("output is not valid JSON") and "line 1" in reason
    assert check_output(job(output="json"), write(tmp_path, "  \n"), {}) == ["output is empty; expected JSON"]


def test_required_fields(tmp_path: Path) -> None:
    rules = job(validate={"required": ["title", "body"]})
    assert check_output(rules, write(tmp_path, '{"title": "t"}'), {}) == ["missing required field 'body'"]
    [reason] = check_output(rules, write(tmp_path, "[1]"), {})
    assert "JSON array, expected an object" in reason


def test_json_schema_reasons_name_the_path(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "integer"}}},
              "required": ["items"]}
    rules = job(validate={"json_schema": schema})
    assert check_output(rules, write(tmp_path, '{"items": [1, 2]}'), {}) == []
    assert check_output(rules, write(tmp_path, '{"items": [1, "x"]}'), {}) == ["at $.items[1]: 'x' is not of type 'integer'"]


def test_an_invalid_schema_is_reported_not_raised(tmp_path: Path) -> None:
    [reason] = check_output(job(validate={"json_schema": {"type": "nonsense"}}), write(tmp_path, "{}"), {})
    assert reason.startswith("validate.json_schema is not a valid JSON Schema")


def test_regex(tmp_path: Path) -> None:
    rules = job(validate={"regex": r"^DONE$"})
    assert check_output(rules, write(tmp_path, "step\nDONE"), {}) == ["output does not match the regex '^DONE$'"]
    assert check_output(job(validate={"regex": r"(?m)^DONE$"}), write(tmp_path, "step\nDONE\n"), {}) == []


def test_a_regex_that_backtracks_fails_the_output_in_bounded_time_and_lets_other_threads_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Untrusted output against a nested repeat: ``re`` would match for hours holding the GIL (the runner's
    heartbeat and signal handling with it)."""
    import threading
    import time

    from jobdeck.agents import validation

    monkeypatch.setattr(validation, "REGEX_SECONDS", 0.5)
    ticks: list[float] = []
    done = threading.Event()

    def tick() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    ticker = threading.Thread(target=tick)
    ticker.start()
    started = time.monotonic()
    try:
        reasons = check_output(job(validate={"regex": "(a|aa)+$"}), write(tmp_path, "a" * 60 + "!"), {})
    finally:
        done.set()
        ticker.join()
    took = time.monotonic() - started
    assert reasons == ["the regex '(a|aa)+$' took more than 0.5s on this output (a pattern that backtracks, such "
                       "as a nested repeat?): simplify it, or check with validate.command"]
    assert 0.5 <= took < 5.0
    assert len([t for t in ticks if started < t < started + took]) >= 10  # the match let the other thread run
    # a schema's pattern is bounded the same way (jsonschema's own check uses re), and still checks
    schema = {"type": "object", "properties": {"id": {"type": "string", "pattern": "(a|aa)+$"}}}
    reasons = check_output(job(output="json", validate={"json_schema": schema}),
                           write(tmp_path, json.dumps({"id": "a" * 60 + "!"})), {})
    assert len(reasons) == 1 and reasons[0].startswith("at $.id: the regex '(a|aa)+$' took more than 0.5s"), reasons
    assert check_output(job(output="json", validate={"json_schema": schema}),
                        write(tmp_path, json.dumps({"id": "b"})), {}) == ["at $.id: 'b' does not match '(a|aa)+$'"]


def validator(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "validator.py"
    script.write_text(body)
    return [sys.executable, str(script)]


def test_validator_command_gets_the_output_path_last_and_its_stderr_is_the_reason(tmp_path: Path) -> None:
    command = validator(tmp_path, (
        "import sys, json\n"
        "data = json.load(open(sys.argv[-1]))\n"
        "if data.get('ok') is not True:\n"
        "    sys.exit(print('field ok must be true', file=sys.stderr) or 3)\n"
    ))
    rules = job(validate={"command": command})
    assert check_output(rules, write(tmp_path, json.dumps({"ok": True})), {}) == []
    assert check_output(rules, write(tmp_path, json.dumps({"ok": False})), {}) == ["field ok must be true"]


def test_validator_without_stderr_reports_its_exit_code(tmp_path: Path) -> None:
    rules = job(validate={"command": validator(tmp_path, "raise SystemExit(4)\n")})
    [reason] = check_output(rules, write(tmp_path, "x"), {})
    assert reason.endswith("exited with code 4")


def test_validator_runs_without_a_shell(tmp_path: Path) -> None:
    rules = job(validate={"command": [sys.executable, "-c", "import sys; sys.exit(sys.argv[1] != '$(id)')", "$(id)"]})
    assert check_output(rules, write(tmp_path, "x"), {}) == []


def test_missing_validator_and_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = job(validate={"command": ["/nonexistent/validator"]})
    assert check_output(missing, write(tmp_path, "x"), {}) == ["validator command not found: /nonexistent/validator"]
    monkeypatch.setattr("jobdeck.agents.validation.VALIDATOR_TIMEOUT", 0.2)
    slow = job(validate={"command": validator(tmp_path, "import time\ntime.sleep(30)\n")})
    [reason] = check_output(slow, write(tmp_path, "x"), {})
    assert "did not finish within 0.2s" in reason


def test_secrets_in_reasons_are_redacted(tmp_path: Path) -> None:
    """The attempt's redactor (what the spec references) and the well-known credentials."""
    env = {"SERVICE_TOKEN": "tok-secret-123456", "OPENAI_API_KEY": "sk-well-known-9"}
    printed = "import sys\nsys.exit(print('bad tok-secret-123456 sk-well-known-9', file=sys.stderr) or 1)\n"
    rules = job(validate={"command": validator(tmp_path, printed)})
    attempt_redactor = Redactor.from_environ(env, referenced=["SERVICE_TOKEN"])
    assert check_output(rules, write(tmp_path, "x"), env, attempt_redactor) == [
        "bad [REDACTED:SERVICE_TOKEN] [REDACTED:OPENAI_API_KEY]"]
    assert check_output(rules, write(tmp_path, "x"), env) == ["bad tok-secret-123456 [REDACTED:OPENAI_API_KEY]"]


def test_several_rules_report_together(tmp_path: Path) -> None:
    rules = job(output="json", validate={"required": ["a"], "regex": "zzz"})
    assert check_output(rules, write(tmp_path, "{}"), {}) == [
        "missing required field 'a'", "output does not match the regex 'zzz'",
    ]


@pytest.mark.parametrize(("rules", "check"), [
    ({"output": "json"}, "JSON"), ({"validate": {"regex": "ok"}}, "regex"),
    ({"output": "json", "validate": {"regex": "ok"}}, "JSON and regex"),
])
def test_output_larger_than_the_in_memory_checks_read_fails_them_unread(
        tmp_path: Path, rules: dict[str, Any], check: str) -> None:
    from jobdeck.agents.validation import MAX_CHECKED_BYTES

    path = tmp_path / "output"
    with path.open("wb") as f:  # sparse: as big as it says, without the bytes on disk
        f.truncate(MAX_CHECKED_BYTES + (4 << 20))
    reasons = check_output(job(**rules), path, {})
    assert reasons == [f"output is 20 MiB, more than the 16 MiB the {check} check reads; "
                       "check a larger output with validate.command"]
    path.write_bytes(b'"ok' + b"k" * (MAX_CHECKED_BYTES - 4) + b'"')
    assert check_output(job(**rules), path, {}) == [], "up to the bound, the output is read and checked"


def test_a_validator_command_alone_never_reads_the_output_in_the_runner(tmp_path: Path) -> None:
    path = tmp_path / "output"
    with path.open("wb") as f:
        f.truncate(1 << 40)  # 1 TiB, sparse: reading it would never end
    assert check_output(job(validate={"command": ["test", "-s"]}), path, {}) == []


@pytest.mark.parametrize(("data", "body"), [
    (b'```json\n{"a": 1}\n```\n', b'{"a": 1}'),
    (b'  ```JSON\r\n["\xc3\xa9"]```  ', b'["\xc3\xa9"]'),
    (b'```\n{\n  "a": [1,\n 2]\n}\n```', b'{\n  "a": [1,\n 2]\n}'),
])
def test_the_json_in_one_wrapping_fence_is_a_slice_of_the_output(data: bytes, body: bytes) -> None:
    assert fenced_json_body(data) == body
    assert body in data


@pytest.mark.parametrize("data", [
    b'{"a": 1}',                                  # not fenced: kept as written
    b'Here:\n```json\n{"a": 1}\n```',            # prose around the fence
    b'```json\nnot json\n```',                    # fenced, but not JSON
    b'```\n```json\n{"a": 1}\n```\n```',          # a fence in a fence is not JSON
    b'```json\n{"a": "\xff"}\n```',               # not UTF-8
])
def test_anything_but_one_fenced_json_document_is_not_unwrapped(data: bytes) -> None:
    assert fenced_json_body(data) is None
