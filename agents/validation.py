"""Output validation: does an attempt's output pass the job's ``validate`` checks?

The runner calls ``check_output`` after a successful attempt; the llm agent calls
it too when a job opts into one repair re-ask. An empty list means valid; each
string is a reason a person can act on (the review queue shows them).

JSON output (``output: "json"``, ``validate.json_schema`` or ``validate.required``)
may be wrapped in one Markdown code fence (```` ```json ... ``` ````), because
models add one even when told not to; the fence is stripped before parsing, and
once the output has passed its checks the runner writes it back without the fence
(``fenced_json_body``), so a dependent reads JSON. Prose around the JSON is not
tolerated: it is what a repair re-ask is for.

The JSON and regex checks hold the output in memory, so they read at most
``MAX_CHECKED_BYTES``; a larger output fails them unread (a ``validate.command``
reads the file itself and has no such bound).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.state.redact import Redactor
from jobdeck.state.sizes import format_size

if TYPE_CHECKING:
    from jobdeck.state.spec import Job, Validate

REGEX_SECONDS = 10.0
"""The longest the regex checks of one output may take together: past it, the output fails (see ``_search``)."""
VALIDATOR_TIMEOUT = 60.0
"""Seconds a ``validate.command`` may run before it counts as a failure."""
MAX_REASONS = 20
MAX_REASON_CHARS = 2000
MAX_CHECKED_BYTES = 16 << 20
"""The largest output the JSON and regex checks read (16 MiB): parsed JSON takes several times its
size in memory, and every check runs in the runner's own process."""
_FENCE = re.compile(r"\A\s*```[A-Za-z0-9_-]*[ \t]*\r?\n(?P<body>.*?)\r?\n?```\s*\Z", re.DOTALL)


def strip_fences(text: str) -> str:
    """The text inside one Markdown code fence that wraps all of ``text``, else ``text``."""
    match = _FENCE.match(text)
    return match.group("body") if match else text


def parse_json_output(text: str) -> Any:
    """Parse model or tool output as JSON, tolerating one wrapping code fence.

    Raises:
        ValueError: with a one-line description of where parsing failed.
    """
    body = strip_fences(text)
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def fenced_json_body(data: bytes) -> bytes | None:
    """The JSON inside one Markdown code fence that wraps all of ``data``, else None (not fenced, or not JSON).

    The body is a slice of ``data`` (UTF-8 decodes and encodes back byte for byte),
    so removing the fence removes bytes only: nothing a redaction hid comes back.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = _FENCE.match(text)
    if match is None:
        return None
    body = match.group("body")
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return None
    return body.encode("utf-8")


def wants_json(job: Job) -> bool:
    """Whether the job's output must be JSON."""
    rules = job.validate_
    return job.output == "json" or bool(rules and (rules.json_schema is not None or rules.required))


def check_output(job: Job, output_path: Path, env: Mapping[str, str], redactor: Redactor | None = None,
                 cwd: Path | None = None) -> list[str]:
    """Reasons the output at ``output_path`` fails ``job``'s checks (empty: valid).

    Args:
        job: the job's spec (state.spec.Job); uses ``output`` and ``validate``.
        output_path: the attempt's output file.
        env: environment for a ``validate.command``.
        redactor: the attempt's redactor (default: the well-known credentials in ``env``).
        cwd: where a ``validate.command`` runs: the job's workspace, as its own command does (default: the
            output's directory), so that a relative path means the same in both.

    Returns:
        Human-readable reasons, at most ``MAX_REASONS``, secrets redacted.
    """
    rules = job.validate_
    reasons: list[str] = []
    regex = rules.regex if rules is not None else None
    deadline = time.monotonic() + REGEX_SECONDS  # for every pattern of the check together
    if wants_json(job) or regex is not None:
        try:
            data, size = _read_checked(Path(output_path))
        except OSError as exc:
            return [f"cannot read the output: {exc.strerror or exc}"]
        if data is None:
            checks = " and ".join(name for name, wanted in (("JSON", wants_json(job)), ("regex", regex is not None))
                                  if wanted)
            reasons.append(f"output is {format_size(size)}, more than the {format_size(MAX_CHECKED_BYTES)} "
                           f"the {checks} check reads; check a larger output with validate.command")
        else:
            if wants_json(job):
                reasons.extend(_json_reasons(data, rules, deadline))
            if regex is not None:
                found = _search(regex, data.decode("utf-8", "replace"), deadline)
                if not found:
                    reasons.append(_too_slow(regex) if found is None else f"output does not match the regex {regex!r}")
    if rules is not None and rules.command:
        reasons.extend(_command_reasons(list(rules.command), Path(output_path), env, cwd))
    redactor = redactor or Redactor.from_environ(env)
    return [_clip(redactor.text(reason)) for reason in reasons[:MAX_REASONS]]


def _search(pattern: str, text: str, deadline: float) -> bool | None:
    """Whether ``pattern`` matches in ``text``; None if the match ran past ``deadline`` (``time.monotonic()``).

    The text is the job's output (an LLM's, an agent's): a pattern that backtracks
    on it ("(a|aa)+$" on "aaaa…!") could run for hours. ``re`` holds the GIL while
    it matches, and no signal stops it, so the runner would freeze (no heartbeat,
    deaf to SIGTERM). The ``regex`` module matches with the GIL released and stops
    at a timeout; its default (V0) syntax is ``re``'s, which jobs.json's check
    compiles with.
    """
    import regex

    try:
        return regex.search(pattern, text, timeout=max(deadline - time.monotonic(), 0.001)) is not None
    except TimeoutError:
        return None


def _too_slow(pattern: str) -> str:
    return (f"the regex {pattern!r} took more than {REGEX_SECONDS:g}s on this output (a pattern that backtracks, "
            "such as a nested repeat?): simplify it, or check with validate.command")


def _read_checked(path: Path) -> tuple[bytes | None, int]:
    """The output's bytes (None if it is larger than MAX_CHECKED_BYTES: then it is not read), and its size."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_CHECKED_BYTES:
            return None, size
        data = f.read(MAX_CHECKED_BYTES + 1)
    return (data if len(data) <= MAX_CHECKED_BYTES else None), max(size, len(data))


def _json_reasons(data: bytes, rules: Validate | None, deadline: float) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"output is not valid UTF-8 (byte {exc.start})"]
    try:
        value = parse_json_output(text)
    except ValueError as exc:
        return [f"output is not valid JSON: {exc}" if text.strip() else "output is empty; expected JSON"]
    reasons: list[str] = []
    if rules is not None and rules.required:
        if not isinstance(value, dict):
            reasons.append(f"output is a JSON {_json_type(value)}, expected an object with fields "
                           + ", ".join(repr(name) for name in rules.required))
        else:
            reasons.extend(f"missing required field {name!r}" for name in rules.required if name not in value)
    if rules is not None and rules.json_schema is not None:
        reasons.extend(_schema_reasons(value, rules.json_schema, deadline))
    return reasons


def _schema_reasons(value: Any, schema: dict[str, Any], deadline: float) -> list[str]:
    import jsonschema  # lazily: only jobs with a schema pay for it

    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"validate.json_schema is not a valid JSON Schema: {exc.message}"]

    def pattern(validator: Any, wanted: str, instance: Any, _: Any) -> Iterator[Any]:
        """``pattern`` as jsonschema checks it, by ``_search`` (jsonschema's own uses ``re``)."""
        if validator.is_type(instance, "string"):
            found = _search(wanted, instance, deadline)
            if not found:
                yield jsonschema.ValidationError(_too_slow(wanted) if found is None
                                                 else f"{instance!r} does not match {wanted!r}")

    bounded = jsonschema.validators.extend(validator_class, {"pattern": pattern})
    errors = sorted(bounded(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"at {_json_path(error.absolute_path)}: {error.message}" for error in errors[:MAX_REASONS]]


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def _command_reasons(command: list[str], output_path: Path, env: Mapping[str, str],
                     cwd: Path | None = None) -> list[str]:
    argv = [*command, os.path.abspath(output_path)]
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            cwd=cwd or output_path.parent, env=dict(env), start_new_session=True,
        )
    except FileNotFoundError:
        return [f"validator command not found: {command[0]}"]
    except PermissionError:
        return [f"validator command not executable: {command[0]}"]
    try:
        _, stderr = proc.communicate(timeout=VALIDATOR_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate()
        return [f"validator {command[0]} did not finish within {VALIDATOR_TIMEOUT:g}s"]
    if proc.returncode == 0:
        return []
    message = stderr.decode("utf-8", "replace").strip()
    if proc.returncode < 0:
        return [f"validator {command[0]} was killed by signal {-proc.returncode}" + (f": {message}" if message else "")]
    return [message or f"validator {command[0]} exited with code {proc.returncode}"]


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _clip(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"
