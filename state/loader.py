"""The one way jobs.json is read: bytes in, a validated Spec or a located SpecError out.

Every check a hand-edited registry needs lives here, so the CLI, the runner and
the cockpit agree on what is valid. A missing, empty or half-written file is an
error, never "no jobs"; ``SpecSource`` keeps the last good spec for long-running
readers.
"""

from __future__ import annotations

import difflib
import gc
import json
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from jobdeck.state import strictjson
from jobdeck.state.commands import program_problem, template_problem
from jobdeck.state.digest import sha256_hex
from jobdeck.state.errors import SpecError, SpecErrors, SpecUnreadable
from jobdeck.state.graph import find_cycle
from jobdeck.state.ids import closest_id, env_suffix
from jobdeck.state.schedule import check_cron, zone
from jobdeck.state.specbytes import read_spec_file
from jobdeck.state.stamps import code_stamp, environment_stamp

if TYPE_CHECKING:  # pydantic is imported only when a spec is validated
    from collections.abc import Callable

    from jobdeck.state.deck import Deck
    from jobdeck.state.spec import AgentSpec, Job, Spec


# NamedTuples, not dataclasses: importing dataclasses (and inspect) costs the CLI ~7 ms at start.
class Fingerprint(NamedTuple):
    """Identity of one version of a file, cheap to compare without reading it."""

    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    """Also set by any write, and not settable (``touch -r`` and ``cp -p`` put an old mtime back)."""

    @classmethod
    def of(cls, path: Path) -> Fingerprint | None:
        """The file's identity, or None when it cannot be looked at (missing, or a directory on
        its path without search permission): then it is read, and the read says why."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class LoadedSpec(NamedTuple):
    """A valid spec with the exact bytes it came from (for compare-and-swap)."""

    spec: Spec
    raw: bytes
    digest: str


def load_spec(path: Path) -> LoadedSpec:
    """Read and validate ``path``; raise SpecError (or SpecErrors) on any problem."""
    return parse_spec(read_spec_file(path), str(path))


def kept_loaded(deck: Deck, problem: SpecError | None = None) -> LoadedSpec | None:
    """The last valid version of the deck's jobs.json (state/lightspec.py ``kept_bytes``: the newest version the
    loader accepted here, which running runners keep running), validated, for a reader while the file itself
    is invalid (``problem``); None if none is kept, or if the file cannot be read at all (then there is no
    "meanwhile" to speak of: the reader says why it cannot)."""
    from jobdeck.state.lightspec import kept_bytes

    if isinstance(problem, SpecUnreadable):
        return None
    raw = kept_bytes(deck)
    if raw is None:
        return None
    try:
        return parse_spec(raw, str(deck.spec_path))  # validated again: by this code, whichever accepted it before
    except SpecError:
        return None


def parse_spec(raw: bytes, where: str = "jobs.json") -> LoadedSpec:
    """Validate the bytes of a jobs.json; ``where`` names it in errors."""
    text = _decode(raw, where)
    if not text.strip():
        raise SpecError(
            "the file is empty", path=where, line=1, column=1,
            hint='a deck with no jobs is written {"jobs": []}; an empty file is never read as "no jobs"',
        )
    try:
        data = strictjson.loads(text)
    except strictjson.StrictJSONError as exc:
        raise SpecError(exc.message, path=where, line=exc.line, column=exc.column, hint=exc.hint) from None
    if not isinstance(data, dict):
        raise SpecError(
            f"the top level is {_kind(data)}, not an object", path=where, line=1, column=1,
            hint='jobs.json looks like {"jobs": [{"id": "hello", "command": ["echo", "hi"]}]}',
        )
    if "jobs" not in data:
        raise SpecError(
            "no 'jobs' list", path=where, line=1, column=1,
            hint='add "jobs": [] at the top level; a file without it is never read as "no jobs"',
        )
    nul = _nul_errors(data, text, where) if NUL_ESCAPE in text else []
    try:
        spec = _validate_schema(data, text, where)
        _check_semantics(spec, text, where)
    except SpecError as exc:
        if not nul:
            raise
        raise _with_nul(nul, exc.errors if isinstance(exc, SpecErrors) else [exc]) from None
    if nul:
        raise _with_nul(nul, [])
    return LoadedSpec(spec, raw, sha256_hex(raw))


NUL_ESCAPE = "\\u0000"
"""How a NUL is written in JSON text, the only way it can be: a file without it holds none."""
NUL_HINT = "remove the \\u0000: no argument, environment variable or file name can hold one"


def _nul_errors(data: dict[str, Any], text: str, where: str) -> list[SpecError]:
    """Each string of jobs.json, key or value, that holds a NUL: one in an argument, the environment or a path
    fails every start (``embedded null byte``), so none is accepted anywhere, but in notes ("//", "$comment")
    and in ``validate.json_schema``, a schema whose patterns may well match one."""
    errors: list[SpecError] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\0" in value:
                errors.append(_error_at(path, "contains a NUL byte", data, text, where, hint=NUL_HINT, nul=True))
        elif isinstance(value, list):
            stack.extend(((*path, n), item) for n, item in enumerate(value))
        elif isinstance(value, dict) and not (path[:1] == ("jobs",) and path[2:4] == ("validate", "json_schema")):
            for key, item in value.items():
                if key.startswith("//") or key == "$comment":
                    continue
                if "\0" in key:
                    errors.append(_error_at((*path, key), "the name contains a NUL byte", data, text, where,
                                            hint=NUL_HINT, nul=True, in_key=True))
                stack.append(((*path, key), item))
    return errors


def _with_nul(nul: list[SpecError], others: list[SpecError]) -> SpecError:
    """The NUL errors and the other problems, but those about the same field: a check of a value with a NUL in
    it says nothing the NUL error does not, and would print the NUL."""
    def same_field(error: SpecError, nul_error: SpecError) -> bool:
        field, flagged = _printable(error.field or ""), nul_error.field or ""
        return error.job == nul_error.job and (field == flagged or field.startswith(flagged + ".")
                                               or flagged.startswith(field + "."))

    kept = [error for error in others if not any(same_field(error, nul_error) for nul_error in nul)]
    errors = in_file_order([*nul, *kept])
    return errors[0] if len(errors) == 1 else SpecErrors(errors)


def _printable(text: str) -> str:
    """``text`` with each NUL written as JSON writes it, for a message."""
    return text.replace("\0", NUL_ESCAPE)


def _error_at(path: tuple[str | int, ...], message: str, data: dict[str, Any], text: str, where: str, *,
              hint: str | None = None, nul: bool = False, in_key: bool = False) -> SpecError:
    """A problem with the value at ``path`` (keys and indexes from the top of the file), located exactly: at its
    key in an object, at the item in a list; with ``nul``, at the first NUL of that string (of the key with
    ``in_key``)."""
    job_id, field = None, path
    if len(path) >= 2 and path[0] == "jobs" and isinstance(path[1], int):
        job_id, field = _job_name(data, path[1]), path[2:]
    place: _Place = {"line": None, "column": None}
    found = strictjson.locate(text, path)
    if found is not None:
        value_at, key_at = found
        at = value_at if key_at is None else key_at
        if nul:
            at = strictjson.nul_escape(text, key_at if in_key and key_at is not None else value_at) or at
        place = {"line": text.count("\n", 0, at) + 1, "column": at - text.rfind("\n", 0, at)}
    return SpecError(message, path=where, **place, job=job_id,
                     field=_printable(".".join(str(step) for step in field)) or None, hint=hint)


def _job_name(data: dict[str, Any], index: int) -> str:
    """How errors name the job at ``index`` of the jobs list: its id, or '#N' when that is no plain string."""
    jobs = data.get("jobs")
    entry = jobs[index] if isinstance(jobs, list) and index < len(jobs) else None
    raw_id = entry.get("id") if isinstance(entry, dict) else None
    return raw_id if isinstance(raw_id, str) and "\0" not in raw_id else f"#{index + 1}"


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        good = raw[: exc.start]
        line = good.count(b"\n") + 1
        column = len(good) - (good.rfind(b"\n") + 1) + 1
        raise SpecError(
            f"not UTF-8 (byte 0x{raw[exc.start]:02x})", path=where, line=line, column=column,
            hint="save the file as UTF-8",
        ) from None


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _validate_schema(data: dict[str, Any], text: str, where: str) -> Spec:
    from jobdeck.state.spec import Spec
    from pydantic import ValidationError

    # The collector's passes over the thousands of objects validation builds free nothing
    # and double its time on a 10,000-job file.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        found = _merge_union_errors(exc.errors(include_url=False))
        errors = [_from_pydantic(err, data, text, where) for err in found]
        errors += _raw_errors(data, text, where, {(e.job, e.field) for e in errors})
        errors += _unchecked_combinations(data, text, where, found)
        raise (errors[0] if len(errors) == 1 else SpecErrors(in_file_order(errors))) from None
    finally:
        if collecting:
            gc.enable()


def _raw_errors(data: dict[str, Any], text: str, where: str,
                flagged: set[tuple[str | None, str | None]]) -> list[SpecError]:
    """The problems the semantic checks would find in a file the models refused for other reasons, so that one
    `validate` lists them too: dependencies, agent names, time zones and schedules, read from the JSON as
    written, for each job whose id is a plain string and whose fields in question the models did not flag."""
    entries = [entry for entry in data.get("jobs", []) if isinstance(entry, dict)] \
        if isinstance(data.get("jobs"), list) else []
    declared = {entry["id"] for entry in entries if isinstance(entry.get("id"), str)}
    agents = data.get("agents", {})
    errors: list[SpecError] = []

    def err(message: str, job: str | None = None, field: str | None = None, hint: str | None = None) -> None:
        errors.append(SpecError(message, path=where, **_at(text, job, field), job=job, field=field, hint=hint))

    for entry in entries:
        job_id = entry.get("id")
        if not isinstance(job_id, str) or "\0" in job_id or (job_id, "id") in flagged:
            continue
        depends_on = entry.get("depends_on", [])
        if isinstance(depends_on, list) and all(isinstance(d, str) for d in depends_on) \
                and (job_id, "depends_on") not in flagged:
            _check_dependencies(job_id, depends_on, declared, err)
        agent = entry.get("agent")
        if isinstance(agent, str) and isinstance(agents, dict) and (job_id, "agent") not in flagged:
            _check_agent_name(job_id, agent, agents, err)
        timezone, schedule = entry.get("timezone", "UTC"), entry.get("schedule")
        if isinstance(timezone, str) and (schedule is None or isinstance(schedule, str)) \
                and (job_id, "timezone") not in flagged and (job_id, "schedule") not in flagged:
            _check_clock(job_id, timezone, schedule, err)
    return errors


def _unchecked_combinations(data: dict[str, Any], text: str, where: str,
                            found: list[dict[str, Any]]) -> list[SpecError]:
    """The checks of how fields go together (a job's way to run, an agent's shell command, a notify target,
    the targets rules send to, the scorer's agent) that the models could not make, asked of the JSON as written.

    A model makes them once its fields are valid, so one field error in it hid them until it was fixed. A
    check is skipped when a field it reads was refused, or when the object has an unknown field (maybe a
    misspelt one it reads): its verdict would be about a value that is not there.
    """
    from jobdeck.state.commands import shell_command_problem
    from jobdeck.state.spec import rules_problem, run_problem, scorer_problem, target_problem

    # Each object the models refused something in, by path: the fields refused, "?" for an unknown one.
    refused: dict[tuple[Any, ...], set[Any]] = {}
    for error in found:
        loc = tuple(error["loc"])
        if "[key]" in loc:  # a refused key: an error of the object holding it, not of the value under it
            loc = loc[:loc.index("[key]")]
        for depth in range(len(loc)):
            unknown = error["type"] == "extra_forbidden" and depth == len(loc) - 1
            refused.setdefault(loc[:depth], set()).add("?" if unknown else loc[depth])
    errors: list[SpecError] = []

    def unchecked(path: tuple[Any, ...], reads: set[str]) -> bool:
        """Whether the object at ``path`` was refused inside, so its own check never ran, and that check
        ``reads`` no refused field."""
        names = refused.get(path)
        return bool(names) and not names & {*reads, "?"}

    def err(path: tuple[Any, ...], problem: str | None) -> None:
        if problem is not None:
            errors.append(_error_at(path, problem, data, text, where))

    jobs, agents, notify, decide = (data.get(name) for name in ("jobs", "agents", "notify", "decide"))
    for n, job in enumerate(jobs if isinstance(jobs, list) else ()):
        if isinstance(job, dict) and unchecked(("jobs", n), {"command", "shell", "model", "prompt", "agent"}):
            run = run_problem(job.get("command"), job.get("shell", False), job.get("model"), job.get("prompt"),
                              job.get("agent"))
            if run is not None:
                err(("jobs", n) if run[0] is None else ("jobs", n, run[0]), run[1])
    for name, agent in agents.items() if isinstance(agents, dict) else ():
        if isinstance(agent, dict) and unchecked(("agents", name), {"command", "shell"}):
            err(("agents", name, "command"), shell_command_problem(agent.get("command"), agent.get("shell") is True))
    targets = notify.get("targets", {}) if isinstance(notify, dict) else None
    for name, target in targets.items() if isinstance(targets, dict) else ():
        if isinstance(target, dict) and unchecked(("notify", "targets", name), {"url", "command"}):
            err(("notify", "targets", name), target_problem(target.get("url"), target.get("command")))
    rules = notify.get("rules") if isinstance(notify, dict) else None
    if isinstance(targets, dict) and isinstance(rules, list) and unchecked(("notify",), set()):
        sends_to = [rule["to"] if isinstance(rule, dict) and isinstance(rule.get("to"), list)
                    and not refused.get(("notify", "rules", n), set()) & {"to", "?"} else []
                    for n, rule in enumerate(rules)]
        unknown = rules_problem(sends_to, targets)
        if unknown is not None:
            err(("notify", "rules", unknown[0], "to"), unknown[1])
    scorer = decide.get("scorer") if isinstance(decide, dict) else None
    if isinstance(scorer, dict) and isinstance(scorer.get("agent"), str) and isinstance(agents, dict) \
            and unchecked((), set()) and not refused.get(("decide",), set()) & {"scorer", "?"}:
        named = agents.get(scorer["agent"])
        if not isinstance(named, dict):
            err(("decide", "scorer"), scorer_problem(scorer["agent"], None))
        elif not refused.get(("agents", scorer["agent"]), set()) & {"type", "?"}:
            err(("decide", "scorer"), scorer_problem(scorer["agent"], named.get("type", "shell")))
    return errors


#: Union members pydantic names in an error's location, and how to say them.
_UNION_MEMBERS = {"str": "a string", "list[str]": "a list of strings", "EnvRef": 'an {"env": "NAME"} reference'}


def _merge_union_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One error per problem: a value that fits no member of a union is one error, not one per member.

    When the value got inside one member (a list with a bad item, an env reference with a bad
    name), that member's errors are the useful ones; otherwise say which kinds would do.
    """
    groups: dict[tuple[Any, ...], dict[str, list[dict[str, Any]]]] = {}
    order: list[Any] = []
    for err in errors:
        loc = tuple(err["loc"])
        at = next((i for i, p in enumerate(loc) if i and isinstance(p, str) and p in _UNION_MEMBERS), None)
        if at is None:
            order.append(err)
            continue
        prefix = loc[:at]
        if prefix not in groups:
            groups[prefix] = {}
            order.append(prefix)
        groups[prefix].setdefault(loc[at], []).append(err)
    merged: list[dict[str, Any]] = []
    for item in order:
        if isinstance(item, dict):
            merged.append(item)
            continue
        members = groups[item]
        if len(members) == 1:
            merged.extend(next(iter(members.values())))
            continue
        inside = [errs for errs in members.values()
                  if any(len(e["loc"]) > len(item) + 1 or not e["type"].endswith("_type") for e in errs)]
        if len(inside) == 1:
            merged.extend(inside[0])
            continue
        first = next(iter(members.values()))[0]
        kinds = " or ".join(_UNION_MEMBERS[name] for name in members)
        merged.append({"type": "union_type", "loc": item, "msg": f"must be {kinds}", "input": first.get("input")})
    return merged


def _from_pydantic(err: dict[str, Any], data: dict[str, Any], text: str, where: str) -> SpecError:
    loc = list(err["loc"])
    if err["type"] == "cross_field":  # a model's check of several fields: at the field it names
        within = (err["ctx"]["field"] or "").split(".")
        path = (*loc, *(int(step) if step.isdigit() else step for step in within if step))
        return _error_at(path, err["msg"], data, text, where)
    job_id = None
    field_path = loc
    if len(loc) >= 2 and loc[0] == "jobs" and isinstance(loc[1], int):
        job_id = _job_name(data, loc[1])
        field_path = loc[2:]
    # pydantic adds the union member / validator name to the path; drop those.
    field_path = [p for p in field_path if not (isinstance(p, str) and ("[" in p or p in ("str", "EnvRef", "list[str]", "function-after")))]
    field = ".".join(str(p) for p in field_path) or None
    message, hint = _describe(err, field_path, in_job=job_id is not None)
    return SpecError(message, path=where, **_at(text, job_id, field_path[-1] if field_path else None), job=job_id,
                     field=field, hint=hint)


def _model_at(parent_path: list[Any]) -> type[Any]:
    """The model an object at ``parent_path`` (e.g. ``jobs.3.retry``) is validated as, for "did you mean"."""
    from jobdeck.state import spec

    by_field = {"jobs": spec.Job, "agents": spec.AgentSpec, "timeout": spec.Timeout, "retry": spec.Retry,
                "validate": spec.Validate, "limits": spec.Limits, "decide": spec.Decide, "budget": spec.Budget,
                "scorer": spec.ScorerAgent, "env": spec.EnvRef, "api_key": spec.EnvRef, "notify": spec.Notify,
                "targets": spec.NotifyTarget, "rules": spec.NotifyRule, "metrics": spec.Metrics, "url": spec.EnvRef,
                "retention": spec.JobRetention if parent_path[:1] == ["jobs"] else spec.Retention}
    for name in reversed(parent_path):
        if isinstance(name, str) and name in by_field:
            return by_field[name]
    return spec.Spec


def _describe(err: dict[str, Any], field_path: list[Any], *, in_job: bool = False) -> tuple[str, str | None]:
    kind = err["type"]
    name = field_path[-1] if field_path else None
    if kind == "extra_forbidden":
        model = _model_at(["jobs", 0, *field_path[:-1]] if in_job else field_path[:-1])
        known = [f.alias or n for n, f in model.model_fields.items()]
        close = difflib.get_close_matches(str(name), known, n=1)
        return (f"unknown field '{name}'", f"did you mean '{close[0]}'?" if close else "remove it, or see `jobdeck schema`")
    if kind == "missing":
        return (f"missing required field '{name}'", None)
    if kind == "string_pattern_mismatch":
        from jobdeck.state.ids import ID_PATTERN
        from jobdeck.state.spec import ENV_NAME_PATTERN

        pattern = (err.get("ctx") or {}).get("pattern")
        if pattern == ID_PATTERN:
            return ("must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", None)
        if pattern == ENV_NAME_PATTERN:
            return ("must be an environment variable name: letters, digits and '_', not starting with a digit", None)
        return (f"must match the pattern {pattern}", None)
    message = _PLAIN.get(kind) or err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    elif message.startswith("Assertion failed, "):
        message = message[len("Assertion failed, "):]
    else:
        message = message[0].lower() + message[1:]
    if kind.endswith("_type") or kind == "literal_error":
        given = err.get("input")
        if not isinstance(given, dict) and ((field_path and field_path[-1] in SECRET_FIELDS)
                                            or (isinstance(given, str) and SECRET_FIELDS.intersection(
                                                step for step in field_path if isinstance(step, str)))):
            # a key written where its variable's name belongs: said without its value (it reaches logs, mail)
            shown = f"{len(given)} characters" if isinstance(given, str) else f"a JSON {_json_type(given)}"
            return (f'must name the environment variable that holds it, {{"env": "NAME"}}, not hold the '
                    f"value itself ({shown}, not shown)",
                    f'put the value in a variable (export {_variable_for(field_path)}=...) and write '
                    f'"{name}": {{"env": "{_variable_for(field_path)}"}}')
        message += f" (got {_short(given)})"
    return message, None


SECRET_FIELDS = frozenset({"api_key", "url", "ping"})
"""Fields that take a secret by reference ({"env": NAME}: an agent's key, a notify target's URL, its ping): a
string written there is most likely the secret itself, which an error message must not repeat."""


def _json_type(value: object) -> str:
    """What JSON calls ``value``'s type (for a message that must not show the value)."""
    if isinstance(value, bool) or value is None:
        return "true/false" if value is not None else "null"
    return {int: "number", float: "number", list: "list", str: "string"}.get(type(value), "value")


def _variable_for(field_path: list[Any]) -> str:
    """A variable name to suggest for the secret field at ``field_path`` (``agents.w.api_key``: W_API_KEY)."""
    import re

    named = [str(step) for step in field_path if isinstance(step, str) and step not in ("agents", "targets",
                                                                                       "notify")]
    return re.sub(r"[^A-Z0-9_]", "_", "_".join(named).upper()).lstrip("0123456789_") or "SECRET"


#: pydantic's wording for wrong JSON types, in terms of JSON.
_PLAIN = {
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Place(TypedDict):
    line: int | None
    column: int | None


def locate(text: str, job_id: str | None, field: str | None) -> tuple[int | None, int | None]:
    """(line, column) in ``text`` of job ``job_id``'s ``field`` (dotted: its last key is looked for), else of
    the job; (None, None) if the job is not found. For jobs read from elsewhere than jobs.json (`add --from`)."""
    keys = [step for step in (field or "").split(".") if step and not step.isdigit()]
    place = _at(text, job_id, keys[-1] if keys else None)
    return place["line"], place["column"]


def _at(text: str, job_id: str | None, field: Any, nth: int = 0) -> _Place:
    """Best-effort place of a job (its ``nth`` declaration) and a field within it, for errors: the ``line`` and
    ``column`` (1-based, in characters, as an editor counts them) of the field's key, else of the job's ``{``."""
    start = 0
    if job_id and not job_id.startswith("#"):
        pattern = re.compile(r'"id"\s*:\s*' + re.escape(strictjson.json_string(job_id)))
        match = next((m for i, m in enumerate(pattern.finditer(text)) if i == nth), None)
        if not match:
            return {"line": None, "column": None}
        start = match.start()
        obj_start = text.rfind("{", 0, start)
        start = obj_start if obj_start >= 0 else start
    if isinstance(field, str):
        match = re.compile(r'"' + re.escape(field) + r'"\s*:').search(text, start)
        if match:
            start = match.start()
    elif not job_id:
        return {"line": None, "column": None}
    return {"line": text.count("\n", 0, start) + 1, "column": start - text.rfind("\n", 0, start)}


def _check_semantics(spec: Spec, text: str, where: str) -> None:
    from jobdeck.state.spec import BUILTIN_AGENT_TYPES

    errors: list[SpecError] = []

    def err(message: str, job: str | None = None, field: str | None = None, hint: str | None = None,
            nth: int = 0) -> None:
        errors.append(SpecError(message, path=where, **_at(text, job, field, nth), job=job,
                                field=field, hint=hint))

    seen: dict[str, int] = {}
    for job in spec.jobs:
        if job.id in seen:
            err(f"duplicate job id '{job.id}'", job.id, "id", "job ids must be unique; rename one of them",
                nth=seen[job.id])
        seen[job.id] = seen.get(job.id, 0) + 1
    plugin_types: set[str] | None = None
    for name, agent in spec.agents.items():
        if agent.type not in BUILTIN_AGENT_TYPES:
            if plugin_types is None:
                plugin_types = _plugin_agent_types()
            if agent.type not in plugin_types:
                errors.append(SpecError(
                    f"agent '{name}' has unknown type '{agent.type}'", path=where,
                    **_at(text, None, "type"), field=f"agents.{name}.type",
                    hint=f"built-in types: {', '.join(sorted(BUILTIN_AGENT_TYPES))}",
                ))
    for name, agent in spec.agents.items():
        if agent.api_key is not None and not agent.api_key.secret:
            errors.append(SpecError(
                f"agent '{name}': an api_key is a secret whatever \"secret\" says", path=where,
                **_at(text, None, "secret"), field=f"agents.{name}.api_key.secret",
                hint="remove \"secret\": false; for a server that takes any key (ollama), leave api_key out: "
                     "the provider's SDK reads its variable itself, and a plain word there is not redacted"))
        if agent.executor is not None and agent.executor not in spec.executors and agent.executor != "local":
            errors.append(SpecError(f"agent '{name}' names unknown executor '{agent.executor}'", path=where,
                                    **_at(text, None, "executor"), field=f"agents.{name}.executor",
                                    hint=_executor_hint(spec, agent.executor)))
        if agent.type == "llm":
            errors += _llm_agent_problems(name, agent, text, where)
    for job in spec.jobs:
        _check_dependencies(job.id, job.depends_on, seen, err)
        if job.agent is not None:
            _check_agent_name(job.id, job.agent, spec.agents, err)
        _check_executor(spec, job, err)
        _check_clock(job.id, job.timezone, job.schedule, err)
        if job.trigger is not None and ("/" in job.trigger or job.trigger in ("", ".", "..")):
            err("a trigger is a file name pattern like '*.csv', not a path", job.id, "trigger")
        if job.timeout.idle and job.timeout.hard and job.timeout.idle > job.timeout.hard:
            err("the idle timeout is longer than the hard timeout, so it can never fire", job.id, "timeout")
        if job.retry.max_delay < job.retry.delay:
            err("retry.max_delay is shorter than retry.delay", job.id, "retry")
        _check_runnable(job, err)
        _check_templates(job, spec.agents.get(job.agent) if job.agent is not None else None, err)
    for name, agent in spec.agents.items():
        for bad in _bad_env_names(agent.env):
            errors.append(SpecError(f"agent '{name}': {bad}", path=where, **_at(text, None, "env"),
                                    field=f"agents.{name}.env", hint=ENV_NAME_HINT))
    _check_schemas(spec, err)
    if not errors:
        cycle = find_cycle(spec.dependencies)
        if cycle:
            err("dependency cycle: " + " -> ".join(cycle), cycle[0], "depends_on",
                "remove one of these dependencies")
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(in_file_order(errors))


def in_file_order(errors: list[SpecError]) -> list[SpecError]:
    """``errors`` by where they are in the file, as a compiler lists them (one without a line first)."""
    return sorted(errors, key=lambda error: (error.line or 0, error.column or 0))


def _check_dependencies(job_id: str, depends_on: list[str], declared: Collection[str],
                        err: Callable[..., None]) -> None:
    """Each of a job's dependencies is a job ``declared`` but itself, listed once, with a variable of its own."""
    suffixes: dict[str, str] = {}
    listed: set[str] = set()
    for dep in depends_on:
        if dep in listed:
            err(f"depends on '{dep}' twice", job_id, "depends_on", "list each dependency once")
            continue
        listed.add(dep)
        other = suffixes.setdefault(env_suffix(dep), dep)
        if other != dep:
            err(f"depends on both '{other}' and '{dep}', which share the variable "
                f"JOBDECK_INPUT_{env_suffix(dep)}", job_id, "depends_on",
                "rename one of them: ids that differ only in '-', '.', '_' or case collide")
        if dep == job_id:
            err("a job cannot depend on itself", job_id, "depends_on")
        elif dep not in declared:
            close = closest_id(dep, declared)
            err(f"depends on unknown job '{dep}'", job_id, "depends_on",
                f"did you mean '{close}'?" if close else "declare that job, or remove the dependency")


def _check_agent_name(job_id: str, agent: str, declared: Collection[str], err: Callable[..., None]) -> None:
    """The job's agent is one ``declared`` in the agents section, or a built-in one."""
    from jobdeck.state.spec import BUILTIN_AGENT_TYPES

    if agent not in declared and agent not in BUILTIN_AGENT_TYPES:
        close = difflib.get_close_matches(agent, [*declared, *sorted(BUILTIN_AGENT_TYPES)], n=1)
        err(f"unknown agent '{agent}'", job_id, "agent",
            f"did you mean '{close[0]}'?" if close else "declare it in the 'agents' section")


def _check_clock(job_id: str, timezone: str, schedule: str | None, err: Callable[..., None]) -> None:
    """The job's time zone exists and its schedule, read in it, is a cron expression that fires."""
    try:
        zone(timezone)
    except ValueError as exc:
        err(str(exc), job_id, "timezone")
        return
    if schedule is not None:
        try:
            check_cron(schedule, timezone)
        except ValueError as exc:
            err(str(exc), job_id, "schedule", "examples: \"0 2 * * *\" (02:00 daily), \"@hourly\"")


def _check_templates(job: Job, agent: AgentSpec | None, err: Callable[..., None]) -> None:
    """Each placeholder of the job's prompt and argv, and of its named agent's argv, can be filled by every attempt
    of this job (commands.template_problem): an agent's command is a template of each job that names it."""
    templates = [("prompt", job.prompt, False)] if job.prompt is not None else []
    if isinstance(job.command, list) and not job.shell:
        templates += [("command", part, job.prompt is not None) for part in job.command]
    if agent is not None and isinstance(agent.command, list) and not agent.shell:
        templates += [("agent", part, True) for part in agent.command]  # (an agent's argv is given the prompt)
    for field, template, prompt in templates:
        problem = template_problem(template, job.depends_on, job.inputs, inbox=job.trigger is not None, prompt=prompt)
        if problem is not None:
            said = problem[0] if field != "agent" else f"the command of its agent '{job.agent}': {problem[0]}"
            err(said, job.id, field, problem[1])
            return


ENV_NAME_HINT = "a variable's name is letters, digits and '_', not starting with a digit"


def _bad_env_names(env: Mapping[str, object]) -> list[str]:
    from jobdeck.state.spec import ENV_NAME_PATTERN

    return [f"'{name}' is not an environment variable's name" for name in env if not re.match(ENV_NAME_PATTERN, name)]


def _check_runnable(job: Job, err: Callable[..., None]) -> None:
    """What would make the job fail at every start, said now: an empty or space-joined program, a bad variable
    name, an exit code no process can have."""
    command = job.command
    if isinstance(command, list) and command and not job.shell:
        problem = program_problem(command[0])
        if problem is not None:
            words = [*command[0].split(), *command[1:]]
            err(problem, job.id, "command", f"write it as {json.dumps(words)}, or as one string with \"shell\": true"
                if len(words) > len(command) else None)
    for bad in _bad_env_names(job.env):
        err(bad, job.id, "env", ENV_NAME_HINT)
    for code in job.retry.retryable_exit_codes:
        if not 1 <= code <= 255:
            err(f"exit code {code} in retry.retryable_exit_codes is not one a process can exit with", job.id,
                "retry", "exit codes that mean failure are 1-255 (75 is EX_TEMPFAIL)")


def _check_schemas(spec: Spec, err: Callable[..., None]) -> None:
    """Each validate.json_schema is a JSON Schema, so a mistake in it is told now, not at the first output."""
    jobs = [job for job in spec.jobs if job.validate_ is not None and job.validate_.json_schema is not None]
    if not jobs:
        return
    import jsonschema  # (only a deck with a schema pays for it)

    for job in jobs:
        schema = job.validate_.json_schema  # type: ignore[union-attr]
        try:
            jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(schema)
        except jsonschema.SchemaError as exc:
            err(f"validate.json_schema is not a valid JSON Schema: {exc.message}", job.id, "validate")


def _check_executor(spec: Spec, job: Job, err: Callable[..., None]) -> None:
    """A job's executor exists, and runs something it can host (a command, not a call the runner makes)."""
    if job.executor is not None and job.executor not in spec.executors and job.executor != "local":
        err(f"unknown executor '{job.executor}'", job.id, "executor", _executor_hint(spec, job.executor))
        return
    placed = spec.executor_of(job)
    if placed is None:
        return
    agent = spec.agents.get(job.agent) if job.agent is not None else None
    kind = agent.type if agent is not None else (job.agent or ("llm" if job.model is not None else "shell"))
    if kind == "llm":
        err(f"executor '{placed[0]}' hosts processes, and an llm job is a call the runner makes itself",
            job.id, "executor", "run llm jobs on this machine: remove 'executor' (or the agent's)")


def _executor_hint(spec: Spec, name: str) -> str:
    close = difflib.get_close_matches(name, list(spec.executors), n=1)
    return f"did you mean '{close[0]}'?" if close else "declare it in the 'executors' section"


#: Options of an llm agent that jobdeck sets on each call itself, and what to write instead. A copy of
#: agents/llm.py RESERVED_OPTIONS (state/ may not import agents/), which Settings.for_attempt refuses at run time.
LLM_RESERVED_OPTIONS = {
    "model": "set the agent's 'model' field", "messages": "the job's 'prompt' is the message",
    "stream": "jobdeck always streams the answer", "api_key": "set the agent's 'api_key' field",
    "api_base": "set the agent's 'api_base' field", "base_url": "set the agent's 'api_base' field",
    "max_retries": "use the option 'retries' (jobdeck's own retries)",
    "num_retries": "use the option 'retries' (jobdeck's own retries)",
    "fallbacks": "set the agent's 'fallbacks' field",
    "context_window_fallback_dict": "set the agent's 'context_model' field",
    "mock_response": "set the job's 'mock_response' field",
    "timeout": "set the job's timeout.hard and timeout.idle, which bound each call",
}
#: Options jobdeck reads itself as numbers >= 0, and an example of each (agents/llm.py OWN_OPTIONS and _number).
LLM_NUMBER_OPTIONS = {"retries": 2, "retry_delay": 0.5, "max_retry_wait": 30}
API_BASE_HINT = "e.g. http://127.0.0.1:11434/v1"


def _llm_agent_problems(name: str, agent: AgentSpec, text: str, where: str) -> list[SpecError]:
    """What would fail every attempt of llm agent ``name`` before its first call, said now: an option jobdeck
    sets itself, a number option that is not a number >= 0, an api_base that is no http(s) URL."""
    problems: list[SpecError] = []

    def err(path: tuple[str, ...], message: str, hint: str) -> None:
        problems.append(_error_at(("agents", name, *path), f"agent '{name}': {message}", {}, text, where, hint=hint))

    for option, value in agent.options.items():
        if option in LLM_RESERVED_OPTIONS:
            err(("options", option), f"option '{option}' is set by jobdeck and cannot be overridden",
                LLM_RESERVED_OPTIONS[option])
        elif option in LLM_NUMBER_OPTIONS and (isinstance(value, bool) or not isinstance(value, int | float)
                                               or value < 0):
            quoted = ", without quotes" if isinstance(value, str) else ""
            err(("options", option), f"option '{option}' must be a number >= 0 (got {_short(value)})",
                f"e.g. \"{option}\": {LLM_NUMBER_OPTIONS[option]}{quoted}")
    if agent.api_base is not None and not _is_http_url(agent.api_base):
        err(("api_base",), f"api_base {_short(agent.api_base)} is not an http(s) URL", API_BASE_HINT)
    return problems


def _is_http_url(text: str) -> bool:
    """Whether ``text`` is an http or https URL with a host (and, if any, a valid port), and no spaces."""
    from urllib.parse import urlsplit

    if any(char.isspace() or not char.isprintable() for char in text):
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _plugin_agent_types() -> set[str]:
    from importlib.metadata import entry_points

    return {ep.name for ep in entry_points(group="jobdeck.agents")}


class SpecSource:
    """A long-running reader's view of jobs.json: reloads on change, keeps the last good spec.

    ``error`` holds the current problem (None when the file on disk is valid); ``current``
    is the newest valid spec ever read, so a bad save never empties the board. Given the
    ``deck``, a reader that starts while the file is invalid begins from the deck's last
    valid version (``kept_loaded``), as runners that were running keep it.
    """

    def __init__(self, path: Path, deck: Deck | None = None) -> None:
        self.path = path
        self.deck = deck
        self.current: LoadedSpec | None = None
        self.error: SpecError | None = None
        self._seen: Fingerprint | None = None

    def refresh(self) -> bool:
        """Reload if the file changed; True when ``current`` or ``error`` changed."""
        fingerprint = Fingerprint.of(self.path)
        if fingerprint is not None and fingerprint == self._seen:
            return False
        self._seen = fingerprint
        try:
            loaded = load_spec(self.path)
        except SpecError as exc:
            changed = str(exc) != str(self.error)
            self.error = exc
            if self.current is None and self.deck is not None:
                self.current = kept_loaded(self.deck, exc)
                changed = changed or self.current is not None
            return changed
        changed = self.error is not None or self.current is None or loaded.digest != self.current.digest
        self.current, self.error = loaded, None
        return changed


# Taken now, as this code is loaded, not when the first verdict is marked: a runner up for days marks
# what the code and environment it loaded decided, even once an upgrade has changed both on disk.
code_stamp(), environment_stamp()
