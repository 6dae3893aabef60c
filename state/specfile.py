"""jobdeck's own writes of jobs.json (``add``, ``edit``): validated, locked, compare-and-swap.

People save jobs.json without our lock, so every write here re-reads the file
under the lock and installs the new bytes only if the file still holds exactly
the bytes the change was based on; otherwise EditConflict, and nothing is lost.

A jobs.json that is a symbolic link (to a file kept in a repository, say) is
followed on purpose: the regular file it leads to is rewritten, atomically, in
its own directory, and the link stays a link (``spec_file``).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobdeck.state.atomic import FILE_MODE, write_atomic
from jobdeck.state.deck import Deck
from jobdeck.state.errors import DeckAccessError, EditConflict, JobdeckError, SpecError, SpecErrors
from jobdeck.state.lightspec import accepted, mark_accepted, mark_valid, plainly_valid
from jobdeck.state.lock import DeckLock
from jobdeck.state.specbytes import MAX_SPEC_BYTES
from jobdeck.state.strictjson import StrictJSONError, loads

if TYPE_CHECKING:  # the loader (zoneinfo, difflib...) only for a change it must judge: `add` of a plain job needs none
    from jobdeck.state.loader import LoadedSpec


def spec_file(deck: Deck) -> Path:
    """The file jobdeck writes for jobs.json: jobs.json itself, or the regular file its link leads to.

    Writing the link's target in place of the link would turn the link into a
    file of its own, and the target (the file people edit) would never get the
    change. Only a regular file is written through a link; a link that leads
    nowhere, or to anything else, is a JobdeckError.
    """
    path = deck.spec_path
    if not path.is_symlink():
        return path
    try:
        target = path.resolve(strict=True)
        mode = target.stat().st_mode
    except (OSError, RuntimeError):  # dangling, a loop, or unreachable
        raise JobdeckError(f"{path} is a symbolic link to {os.readlink(path)}, which cannot be reached",
                           hint="point the link at the jobs.json file, or replace it with that file") from None
    if not stat.S_ISREG(mode):
        raise JobdeckError(f"{path} is a symbolic link to {target}, which is not a regular file",
                           hint="point the link at the jobs.json file, or replace it with that file")
    return target


def writable_spec_file(deck: Deck) -> Path:
    """``spec_file(deck)``, unless its mode says it is not to be changed (DeckAccessError).

    Its directory would let a rename replace it anyway; a read-only jobs.json is the
    operator saying no, and jobdeck does not go around it.
    """
    target = spec_file(deck)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target
    # root may write anything: for it, read-only is no write bit at all
    writable = bool(info.st_mode & 0o222) if os.geteuid() == 0 else os.access(target, os.W_OK)
    if not writable:
        mine = info.st_uid == os.geteuid()
        raise DeckAccessError(f"cannot change {target}: it is read-only" + ("" if mine else " for you"),
                              hint=f"make it writable to let jobdeck change it: chmod u+w {target}" if mine
                              else f"it belongs to uid {info.st_uid}: change it as that user, or let yours write it")
    return target


def install(deck: Deck, base: bytes, new: bytes, *, lock: DeckLock | None = None) -> LoadedSpec:
    """Validate ``new`` and replace jobs.json (or the file its link leads to) with it if it still holds ``base``."""
    from jobdeck.state.loader import parse_spec

    loaded = parse_spec(new, str(deck.spec_path))
    _install(deck, base, new, lock)
    mark_valid(deck, loaded)  # the commands after it need not validate it again
    return loaded


def _install(deck: Deck, base: bytes, new: bytes, lock: DeckLock | None) -> None:
    lock = lock or DeckLock(deck.lock_path)
    with lock:
        target = writable_spec_file(deck)
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            current = b""
        if current != base:
            raise EditConflict(
                f"{deck.spec_path} changed on disk while you were editing",
                hint="your version was not installed; re-apply your change to the new file",
            )
        try:  # the operator's file: its permissions stay as they are (0644 stays 0644); a new one is private
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = FILE_MODE
        write_atomic(target, new, mode=mode)


def add_jobs(deck: Deck, jobs: Iterable[Mapping[str, Any]], *, replace: bool = False,
             source: str = "the command line", source_text: str | None = None) -> list[str]:
    """Add ``jobs`` to jobs.json in one atomic, validated change; return their ids.

    With ``replace``, a job whose id exists is replaced instead of being an error.
    ``source`` (a file, "stdin") is where the jobs came from: what is wrong with
    one of them is told there, not at a line of a jobs.json that was never written,
    at its line and column when ``source_text`` (the source's text) is given.
    """
    base = deck.spec_path.read_bytes()
    try:
        text = base.decode("utf-8-sig")
        document = loads(text)
    except (StrictJSONError, UnicodeDecodeError):
        from jobdeck.state.loader import parse_spec

        parse_spec(base, str(deck.spec_path))  # raises the located error
        raise
    new_jobs = [dict(job) for job in jobs]
    for job in new_jobs:
        try:
            json.dumps(job, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # an argument whose bytes are not UTF-8 (Python keeps them as lone surrogates)
            raise SpecError(f"job {job.get('id')!a} has text that is not UTF-8",
                            hint="jobs.json is UTF-8: give the arguments as UTF-8 text") from None
    if not new_jobs:
        raise SpecError("no jobs to add", hint="give a command after --, --model with --prompt, or --from FILE")
    existing = document.setdefault("jobs", [])
    index = {job.get("id"): i for i, job in enumerate(existing) if isinstance(job, dict)}
    for job in new_jobs:
        position = index.get(job.get("id"))
        if position is not None and replace:
            existing[position] = job
        elif position is not None:
            raise SpecError(f"job '{job.get('id')}' already exists", job=str(job.get("id")), field="id",
                            hint="pick another id, or pass --replace")
        else:
            index[job.get("id")] = len(existing)
            existing.append(job)
    spliced = splice_jobs(text, new_jobs)
    if spliced is None or loads(spliced) != document:  # a layout the splice does not handle: write it anew
        spliced = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    raw = spliced.encode()
    declared = set(index) - {job.get("id") for job in new_jobs}
    if not replace and _plain_addition(deck, base, raw, new_jobs, known=declared):
        _install(deck, base, raw, None)  # what the loader would say is known: no need to build the models
        mark_accepted(deck, raw)
    else:
        try:
            install(deck, base, raw)
        except SpecErrors as exc:
            raise SpecErrors([_located(deck, error, new_jobs, source, source_text) for error in exc.errors]) from None
        except SpecError as exc:
            raise _located(deck, exc, new_jobs, source, source_text) from None
    return [str(job.get("id")) for job in new_jobs]


def remove_jobs(deck: Deck, ids: Sequence[str]) -> None:
    """Take the jobs ``ids`` out of jobs.json in one atomic, validated change; nothing else in the file moves.

    Refused (UnknownJob, IllegalTransition), with nothing changed, when an id names no job, when a job that
    stays depends on one that goes, or when one that goes is running: its attempt would run on with no
    job to settle into. What a removed job did stays in the chain of work and its workspace.
    """
    from jobdeck.state.board import open_store
    from jobdeck.state.errors import IllegalTransition, UnknownJob
    from jobdeck.state.loader import parse_spec

    base = deck.spec_path.read_bytes()
    spec = parse_spec(base, str(deck.spec_path)).spec  # (an invalid jobs.json: its located error)
    unknown = [job_id for job_id in ids if spec.job(job_id) is None]
    if unknown:
        raise UnknownJob.among(unknown, (job.id for job in spec.jobs), deck.spec_path, "; nothing was done")
    going = set(ids)
    for job in spec.jobs:
        needed = [dep for dep in job.depends_on if dep in going]
        if needed and job.id not in going:
            raise IllegalTransition(f"job '{job.id}' depends on '{needed[0]}'; nothing was done",
                                    hint=f"remove '{job.id}' too, or take '{needed[0]}' out of its depends_on first")
    text = base.decode("utf-8-sig")
    document = loads(text)
    document["jobs"] = [job for job in document["jobs"] if not (isinstance(job, dict) and job.get("id") in going)]
    kept = cut_jobs(text, going)
    if kept is None or loads(kept) != document:  # a layout the cut does not handle: write it anew
        kept = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    raw = ("\ufeff" if base.startswith(b"\xef\xbb\xbf") else "").encode() + kept.encode()
    with open_store(deck) as store, store.lock:
        store.refresh()  # under the lock: no runner can claim one of them between this look and the change
        running = [job_id for job_id in ids if store.board.state(job_id).status.value == "running"]
        if running:
            raise IllegalTransition(f"job '{running[0]}' is running; nothing was done",
                                    hint=f"cancel it first (jobdeck cancel {running[0]}), or wait for it to end")
        loaded = parse_spec(raw, str(deck.spec_path))
        _install(deck, base, raw, store.lock)
    mark_valid(deck, loaded)


def cut_jobs(text: str, ids: Collection[str]) -> str | None:
    """``text`` (a valid jobs.json) without the jobs ``ids``, each taken out with its separator and nothing
    else touched; None if the text has no "jobs" list."""
    span = _member(text, "jobs")
    if span is None or text[span[0]] != "[":
        return None
    start, end = span
    items = _items(text, start, end)
    gone = [isinstance(value, dict) and value.get("id") in ids for _, _, value in items]
    if all(gone):
        return text[:start] + "[]" + text[end:]
    pieces, done, n = [], 0, 0
    while n < len(items):
        if not gone[n]:
            n += 1
            continue
        last = n
        while last + 1 < len(items) and gone[last + 1]:
            last += 1
        # a run of items going: with the separator before it, or for a run at the start the one after it
        a, b = (items[n - 1][1], items[last][1]) if n else (items[0][0], items[last + 1][0])
        pieces.append(text[done:a])
        done, n = b, last + 1
    return "".join(pieces) + text[done:]


def _located(deck: Deck, error: SpecError, jobs: list[dict[str, Any]], source: str,
             source_text: str | None = None) -> SpecError:
    """``error``, found in the jobs.json an addition would make, told where the operator can see it: at the
    added job's source (its line and column there, given ``source_text``), or at jobs.json as a whole (its
    line numbers are those of a file not written)."""
    from jobdeck.state.loader import locate

    if error.path != str(deck.spec_path) or error.line is None:
        return error
    added = error.job is not None and any(job.get("id") == error.job for job in jobs)
    where = source if added else f"{deck.spec_path} with the added jobs"
    line, column = locate(source_text, error.job, error.field) if added and source_text is not None else (None, None)
    return SpecError(error.message, path=where, line=line, column=column, job=error.job, field=error.field,
                     hint=error.hint)


def _plain_addition(deck: Deck, base: bytes, raw: bytes, jobs: list[dict[str, Any]], known: set[Any]) -> bool:
    """Whether appending ``jobs`` to ``base`` gives a jobs.json the loader is sure to accept: ``base``
    was accepted, and each job is plainly valid on its own (state/lightspec.py)."""
    if len(raw) > MAX_SPEC_BYTES or not accepted(deck, base):
        return False
    for job in jobs:
        if not plainly_valid(job, known):
            return False
        known.add(job["id"])
    return True


_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


def splice_jobs(text: str, jobs: list[dict[str, Any]]) -> str | None:
    """``text`` (a valid jobs.json) with ``jobs`` put into its "jobs" list and nothing else touched.

    People write jobs.json by hand: their layout, key order and comments stay as
    they are, and a diff shows only the added lines. A job whose id is already
    there replaces that entry where it stands; the others go at the end, laid
    out like the entries before them. None if the text has no "jobs" list.
    """
    span = _member(text, "jobs")
    if span is None or text[span[0]] != "[":
        return None
    start, end = span
    items = _items(text, start, end)
    where = {value.get("id"): n for n, (_, _, value) in enumerate(items) if isinstance(value, dict)}
    outer, unit = _leading(text, start), _unit(text, items)
    if items and "\n" not in text[start:items[0][0]]:  # a list on one line stays on one line
        indent, separator = None, ", "
    else:
        indent = _leading(text, items[0][0]) if items else outer + unit
        separator = ",\n" + indent
    edits: list[tuple[int, int, str]] = []
    appended = []
    for job in jobs:
        rendered = _render(job, indent, unit)
        n = where.get(job.get("id"))
        if n is None:
            appended.append(rendered)
        else:
            edits.append((items[n][0], items[n][1], rendered))
    if appended and items:
        edits.append((items[-1][1], items[-1][1], separator + separator.join(appended)))
    elif appended:
        edits.append((start, end, "[" + ("" if indent is None else "\n" + indent) + separator.join(appended)
                      + ("" if indent is None else "\n" + outer) + "]"))
    pieces, done = [], 0
    for a, b, replacement in sorted(edits):
        pieces += [text[done:a], replacement]
        done = b
    return "".join(pieces) + text[done:]


def _render(job: dict[str, Any], indent: str | None, unit: str) -> str:
    """A job as a person would write it: a field per line, each short value on its field's line."""
    if indent is None:
        return json.dumps(job, ensure_ascii=False)
    lines = []
    for key, value in job.items():
        compact = json.dumps(value, ensure_ascii=False)
        if len(compact) > 80:
            compact = json.dumps(value, indent=len(unit), ensure_ascii=False).replace("\n", "\n" + indent + unit)
        lines.append(f"{indent}{unit}{json.dumps(key, ensure_ascii=False)}: {compact}")
    return "{\n" + ",\n".join(lines) + "\n" + indent + "}"


def _unit(text: str, items: list[tuple[int, int, Any]]) -> str:
    """The indentation step of the fields of the first job written over several lines ("  " if none)."""
    for a, b, _ in items:
        first_break = text.find("\n", a, b)
        if first_break >= 0:
            second_end = text.find("\n", first_break + 1, b)
            outer, inner = _leading(text, a), _leading(text, b if second_end < 0 else second_end)
            if inner.startswith(outer) and len(inner) > len(outer):
                return inner[len(outer):]
            break
    return "  "


def _leading(text: str, pos: int) -> str:
    """The white space that starts the line ``pos`` is on."""
    line = text[text.rfind("\n", 0, pos) + 1:pos]
    return line[:len(line) - len(line.lstrip(" \t"))]


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _member(text: str, name: str) -> tuple[int, int] | None:
    """Where the value of the top-level object's member ``name`` starts and ends in ``text``."""
    pos = _skip(text, 0)
    if text[pos:pos + 1] != "{":
        return None
    pos = _skip(text, pos + 1)
    while text[pos:pos + 1] == '"':
        key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        pos = _skip(text, _skip(text, pos) + 1)  # past the ':'
        _, end = _DECODER.raw_decode(text, pos)
        if key == name:
            return pos, end
        pos = _skip(text, end)
        pos = _skip(text, pos + 1) if text[pos:pos + 1] == "," else pos
    return None


def _items(text: str, start: int, end: int) -> list[tuple[int, int, Any]]:
    """(start, end, value) of each item of the list text[start:end]."""
    items = []
    pos = _skip(text, start + 1)
    while pos < end - 1:
        value, stop = _DECODER.raw_decode(text, pos)
        items.append((pos, stop, value))
        pos = _skip(text, _skip(text, stop) + 1)  # past the ','
    return items


def editor_argv() -> list[str]:
    """The user's editor command ($VISUAL, $EDITOR, else vi), split like a shell would."""
    import shlex

    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def run_editor(path: Path) -> None:
    """Run the user's editor on ``path`` (a private copy of jobs.json) in this terminal.

    Raises JobdeckError if the editor cannot start or exits non-zero, DeckAccessError if the copy
    cannot be read once it is done (removed meanwhile, say). Each says what went wrong and no more:
    the caller, which knows whether the copy holds an edit, says what became of it.
    """
    import subprocess

    from jobdeck.state.errors import deck_access_error

    argv = [*editor_argv(), str(path)]
    try:
        code = subprocess.call(argv)
    except FileNotFoundError:
        raise JobdeckError(f"editor not found: {argv[0]}", hint="set $EDITOR, e.g. EDITOR=nano") from None
    if code != 0:
        raise JobdeckError(f"the editor exited with code {code}")
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise DeckAccessError(f"your copy of jobs.json was removed while you edited it: {path}",
                              hint="jobs.json is as it was: edit it again") from None
    except OSError as exc:
        raise deck_access_error(exc, "read your edited copy of jobs.json", path) from None
