"""One function per command: find the deck, call state/ (or runner/, cockpit/), print."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from jobdeck.state.deck import Deck, find_deck, init_deck
from jobdeck.state.errors import (DeckAccessError, JobdeckError, SpecError, SpecErrors, SpecUnreadable,
                                  deck_access_error)
from jobdeck.state.terminal import one_line

T = TypeVar("T")

if TYPE_CHECKING:  # each command imports what it uses: `--help` and the cached `ls` load no pydantic
    from jobdeck.state.board import Store
    from jobdeck.state.card import Card
    from jobdeck.state.lightspec import LightSpec
    from jobdeck.state.loader import LoadedSpec
    from jobdeck.state.preview import JobPreview
    from jobdeck.state.spec import Job, Spec


def _deck(args: argparse.Namespace) -> Deck:
    return find_deck(args.deck)


def _spec(deck: Deck, *, kept: bool = True) -> Spec:
    """jobs.json validated in full (pydantic); marks it valid for the light read paths. While it is
    invalid, its last valid version (``kept_validated``), unless ``kept`` is False (a command that deletes)."""
    return _validated(deck, kept=kept)[0]


def _validated(deck: Deck, *, kept: bool = True) -> tuple[Spec, str]:
    from jobdeck.state.lightspec import mark_valid
    from jobdeck.state.loader import load_spec

    try:
        loaded = load_spec(deck.spec_path)
    except SpecError as exc:
        last = kept_validated(deck, exc) if kept else None
        if last is None:
            raise
        _say_kept(exc)
        return last.spec, last.digest
    mark_valid(deck, loaded, create=True)  # these commands make .jobdeck/ anyway
    return loaded.spec, loaded.digest


def _read_spec(deck: Deck, *, quiet: bool = False, kept: bool = True) -> tuple[Spec | LightSpec, str]:
    """jobs.json and its digest for a command that reads ids, workspaces and card fields (or acts on a job).

    Without pydantic when the loader has accepted these bytes before (state/lightspec.py). While
    jobs.json is invalid, its last valid version (``kept_light``; validated again if this jobdeck did not
    accept it itself, after an upgrade say; ``quiet``: without saying so, for a Tab), unless ``kept`` is False
    (an action that lets work start).
    """
    from jobdeck.state.lightspec import light_spec

    found = light_spec(deck)
    if found is not None:
        return found, found.digest
    try:
        return _validated(deck, kept=False)
    except SpecError as exc:
        if not kept:
            raise
        light = kept_light(deck, exc)
        last = (light, light.digest) if light is not None else None
        if last is None and (full := kept_validated(deck, exc)) is not None:
            last = full.spec, full.digest
        if last is None:
            raise
        _say_kept(exc, quiet=quiet)
        return last


def kept_light(deck: Deck, problem: SpecError) -> LightSpec | None:
    """The last valid version of jobs.json (state/lightspec.py ``kept_spec``: the newest version the loader
    accepted here, which runners keep running) while ``problem`` makes the file itself invalid; None if none
    is kept, or the file cannot be read at all."""
    from jobdeck.state.lightspec import kept_spec

    return None if isinstance(problem, SpecUnreadable) else kept_spec(deck)


def kept_validated(deck: Deck, problem: SpecError) -> LoadedSpec | None:
    """The last valid version of jobs.json validated in full (pydantic) by this jobdeck, whichever accepted it
    before (state/loader.py ``kept_loaded``); None if none is kept, this jobdeck refuses it, or the file
    cannot be read at all."""
    from jobdeck.state.loader import kept_loaded

    return kept_loaded(deck, problem)


def _first_problem(problem: SpecError) -> str:
    """What is wrong with jobs.json, in one line: the first of its problems."""
    return one_line(str(problem.errors[0] if isinstance(problem, SpecErrors) else problem))


_said_kept = False
_kept_in_use = False


def spec_place(deck: Deck) -> str:
    """Where this command looked for job ids: jobs.json, or its last valid version while the file is invalid
    (an id just added to the broken file is not there yet)."""
    return f"the last valid version of {deck.spec_path}" if _kept_in_use else str(deck.spec_path)


def _say_kept(problem: SpecError, *, quiet: bool = False) -> None:
    """Say, once per command, what is wrong with jobs.json and that its last valid version is read meanwhile
    (``quiet``: only note it, for ``spec_place``)."""
    global _said_kept, _kept_in_use
    _kept_in_use = True
    if not _said_kept and not quiet:
        _said_kept = True
        print(f"jobdeck: {_first_problem(problem)}; using the last valid jobs.json meanwhile, as running runners do",
              file=sys.stderr)


def _store(deck: Deck) -> Store:
    from jobdeck.state.board import open_store

    return open_store(deck)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# -- deck and spec -------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    import shlex
    from importlib import resources

    if args.dir and args.deck and Path(args.dir).resolve() != Path(args.deck).resolve():
        raise JobdeckError(f"two places for the new deck: --deck {args.deck} and {args.dir}",
                           hint="give one of them")
    where = args.dir or args.deck or "."
    root = Path(where)
    example = resources.files("jobdeck.cli").joinpath("examples/starter.json").read_bytes()
    try:
        deck = init_deck(root, example)
    except (FileExistsError, NotADirectoryError) as exc:  # a file on the way: mkdir says "File exists"
        raise JobdeckError(f"cannot create the deck: {exc.filename} is a file, not a directory",
                           hint="put the deck in a directory, or move the file") from None
    except OSError as exc:
        raise deck_access_error(exc, "create the deck", root) from None
    if args.json:
        _print_json({"deck": str(deck.root), "jobs_json": str(deck.spec_path)})
        return 0
    print(f"created deck {deck.root}")
    print("  jobs.json      the registry: edit it, or `jobdeck add` / `jobdeck edit`")
    print("  workspaces/    where jobs run and keep every attempt's output")
    print("  .jobdeck/      the chain of work (events.jsonl) and the lock")
    print(f"next: cd {shlex.quote(where)} && jobdeck validate && jobdeck run --once && jobdeck ls")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from jobdeck.state.lightspec import light_spec, mark_valid

    deck = _deck(args) if not args.file else None
    path = deck.spec_path if deck is not None else Path(args.file)
    if deck is None:  # a path mistyped: no problem in a file to report (exit 2)
        try:
            is_dir = path.is_dir()
        except OSError:  # (a directory on the way that cannot be entered: the read says so, with a hint)
            is_dir = False
        else:
            if not is_dir and not os.path.lexists(path):
                raise JobdeckError(f"{path}: no such file", hint="check the path; without FILE, validate checks "
                                                                  "the jobs.json of the deck")
        if is_dir:
            raise JobdeckError(f"{path}: is a directory, not a file",
                               hint=f"give the path of a jobs.json file, e.g. {path / 'jobs.json'}; without FILE, "
                                    f"validate checks the jobs.json of the deck")
    accepted = light_spec(deck) if deck is not None else None
    if accepted is not None:  # these very bytes passed this very loader before: the verdict stands
        document = json.loads(accepted.raw.decode("utf-8-sig"))  # the bytes judged, not a second read
        _say_valid(args, path, len(accepted.jobs), len(document.get("agents") or {}),
                   len(document.get("executors") or {}))
        return 0
    from jobdeck.state.loader import load_spec  # (zoneinfo, difflib...: only for bytes not judged before)

    try:
        loaded = load_spec(path)
    except SpecUnreadable:
        raise  # not a problem in the file: one line, exit 2
    except SpecError as exc:
        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        if args.json:
            _print_json([{"path": e.path, "line": e.line, "column": e.column, "job": e.job,
                          "field": e.field, "message": e.message, "hint": e.hint} for e in errors])
        else:
            for error in errors:
                print(one_line(str(error)), file=sys.stderr)  # an id in it is the file's: inert
            print(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in {path}", file=sys.stderr)
        return 1
    if deck is not None:  # so the everyday commands after it need no models
        mark_valid(deck, loaded)
    spec = loaded.spec
    _say_valid(args, path, len(spec.jobs), len(spec.agents), len(spec.executors))
    return 0


def _say_valid(args: argparse.Namespace, path: Path, jobs: int, agents: int, executors: int) -> None:
    if args.json:
        _print_json([])
        return
    counted = f"{jobs} job{'s' if jobs != 1 else ''}, {agents} agent{'s' if agents != 1 else ''}"
    if executors:  # (said only where there are any: most decks run everything here)
        counted += f", {executors} executor{'s' if executors != 1 else ''}"
    print(f"{path}: valid ({counted})")


def cmd_schema(args: argparse.Namespace) -> int:
    from jobdeck.state.spec import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}; add \"$schema\": \"{args.output}\" to jobs.json for editor completion")
    else:
        sys.stdout.write(text)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from jobdeck.state.specfile import add_jobs

    deck = _deck(args)
    jobs, text = _jobs_from_source(args.source) if args.source else ([], None)
    if args.id or args.argv or args.model:
        jobs.append(_job_from_flags(args))
    source = ("stdin" if args.source == "-" else args.source) if args.source else "the command line"
    declared: set[str] = set()
    if args.replace:  # (without it every id added is new: one already declared is refused)
        try:
            declared = {job.id for job in _read_spec(deck, kept=False)[0].jobs}
        except SpecError:
            pass  # (add_jobs says what is wrong)
    ids = add_jobs(deck, jobs, replace=args.replace, source=source, source_text=text)
    history = _histories(deck, [job_id for job_id in ids if job_id not in declared])  # (not a job --replace edits)
    if args.json:
        _print_json({"added": ids, "history": {job_id: {"status": status, "attempts": attempts}
                                               for job_id, (status, attempts) in history.items()}})
        return 0
    print(f"added {len(ids)} job{'s' if len(ids) != 1 else ''}: {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}")
    for job_id, (status, cycle_runs) in history.items():
        print(f"jobdeck: {job_id}: takes up the history of the job once declared under its id ({status}, "
              f"{cycle_runs} attempt{'s' if cycle_runs != 1 else ''}), and dependents read its last output; "
              f"`jobdeck retry {job_id}` runs it anew", file=sys.stderr)
    return 0


def _histories(deck: Deck, added: list[str]) -> dict[str, tuple[str, int]]:
    """The jobs among ``added`` that had a past in the chain of work (removed, then added again under their id):
    their status and attempts, which carry over (a done job stays done; its output is what dependents read).

    Only ids with attempt directories in some workspace are looked up in the board: a fresh id (the usual
    `add`) costs a few stats, not a read of the board (~15 ms). A past without attempts (never ran) is not
    told: it has no output for dependents to read."""
    from jobdeck.state.attempts import RUNS

    try:
        workspaces = [entry for entry in deck.workspaces_dir.iterdir() if entry.is_dir()]
    except OSError:
        return {}
    ran = [job_id for job_id in added if any((workspace / RUNS / job_id).is_dir() for workspace in workspaces)]
    if not ran or not deck.events_path.exists():
        return {}
    with _store(deck) as store:
        states = {job_id: store.board.jobs.get(job_id) for job_id in ran}
    return {job_id: (state.status.value, state.next_attempt - 1) for job_id, state in states.items()
            if state is not None and state.next_attempt > 1}


def cmd_rm(args: argparse.Namespace) -> int:
    from jobdeck.state.specfile import remove_jobs

    ids = list(dict.fromkeys(args.id))
    remove_jobs(_deck(args), ids)
    if args.json:
        _print_json({"removed": ids})
    else:
        print(f"removed {len(ids)} job{'s' if len(ids) != 1 else ''}: {', '.join(ids)}")
    return 0


def _job_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    if not args.id:
        raise JobdeckError("--id is required", hint="jobdeck add --id hello -- echo hi")
    job: dict[str, Any] = {"id": args.id}
    if args.argv:
        job["command"] = " ".join(args.argv) if args.shell else list(args.argv)
        if args.shell:
            job["shell"] = True
    for flag, key in (("title", "title"), ("model", "model"), ("prompt", "prompt"), ("agent", "agent"),
                      ("workspace", "workspace"), ("risk", "risk"), ("schedule", "schedule"),
                      ("timezone", "timezone"), ("trigger", "trigger"), ("priority", "priority"),
                      ("deadline", "deadline"), ("max_wait", "max_wait"), ("window", "window")):
        value = getattr(args, flag)
        if value is not None:
            job[key] = value
    if args.idempotent:
        job["idempotent"] = True
    if args.depends_on:
        job["depends_on"] = args.depends_on
    if args.label:
        job["labels"] = args.label
    if args.input:
        job["inputs"] = _inputs(args.input)
    if args.max_attempts is not None or args.retry_exit:
        attempts = args.max_attempts if args.max_attempts is not None else 3  # (--retry-exit alone: 3 in all)
        job["retry"] = {"max_attempts": attempts,
                        **({"retryable_exit_codes": sorted(set(args.retry_exit))} if args.retry_exit else {})}
    if job.get("max_wait") is not None:
        job["max_wait"] = _seconds_if_bare(job["max_wait"])
    timeout = {k: _seconds_if_bare(v) for k, v in (("idle", args.idle_timeout), ("hard", args.hard_timeout)) if v}
    if timeout:
        job["timeout"] = timeout
    return job


def _seconds_if_bare(duration: str) -> str | int | float:
    """A duration flag as jobs.json takes it: a bare number ("90") is seconds, written as a number (90)."""
    text = duration.strip()
    if not (text.isascii() and text.replace(".", "", 1).isdigit() and text[0].isdigit() and text[-1].isdigit()):
        return duration  # "90s", "2h": as written (the loader judges it)
    return int(text) if text.isdigit() else float(text)


def _jobs_from_source(source: str) -> tuple[list[dict[str, Any]], str]:
    """The jobs `add --from` reads (a JSON list, {"jobs": [...]}, one object, or JSONL), and the text read."""
    from jobdeck.state.strictjson import StrictJSONError, loads

    where = "stdin" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JobdeckError(f"cannot read {where}: {exc}") from None
    stripped = text.strip()
    try:
        if stripped.startswith(("[", "{")) and "\n{" not in stripped:
            value = loads(stripped)
            items = value.get("jobs", [value]) if isinstance(value, dict) and "id" not in value else value
            items = items if isinstance(items, list) else [items]
        else:  # JSONL: each line on its own, its errors told at its own line
            items = []
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        items.append(loads(line))
                    except StrictJSONError as exc:
                        raise SpecError(exc.message, path=where, line=number, column=exc.column,
                                        hint=exc.hint) from None
    except StrictJSONError as exc:
        raise SpecError(exc.message, path=where, line=exc.line, column=exc.column, hint=exc.hint) from None
    if not items:
        raise SpecError("no jobs given", path=where,
                        hint='give a job per line (JSONL), a JSON list, or {"jobs": [...]}')
    if not all(isinstance(item, dict) for item in items):
        raise SpecError("every job must be a JSON object", path=where)
    return items, text


def cmd_edit(args: argparse.Namespace) -> int:
    from jobdeck.cli.edit import edit

    return edit(_deck(args))


# -- reading state -------------------------------------------------------------------


def cmd_ls(args: argparse.Namespace) -> int:
    from jobdeck.state.cardcache import board_stamp, cached_cards

    deck = _deck(args)
    board = board_stamp(deck)
    cached = cached_cards(deck, time.time())
    # jobs.json and the log unchanged since the cards were computed, by a writer that listed the jobs taken out
    # of jobs.json whose attempt is under way (an older jobdeck's cards do not); the table also needs the same
    # board.json, for the chain warning the fold would give
    if cached is not None and cached.undeclared and (args.json or cached.board == board):
        if cached.warning:  # as the fold below prints it, --json or not
            print(f"jobdeck: warning: {one_line(cached.warning)}", file=sys.stderr)  # (a hold reason: inert)
        keep = _keep(cached.index, args)
        notes = _runner_notes(deck, cached.index)
        if args.json and not notes:
            sys.stdout.write(cached.to_json(keep) + "\n")
            return 0
        from jobdeck.state.card import Card

        rows = json.loads("[" + ",".join(row for row, shown in zip(cached.rows, keep) if shown) + "]")
        shown_cards = _noted([Card.from_json(row) for row in rows], notes)
        if args.json:
            sys.stdout.write(json.dumps([c.to_json() for c in shown_cards]) + "\n")
        else:
            from jobdeck.cli import render

            render.cards_table(shown_cards, time.time(), deck_empty=not cached.index)
            _say_hidden(cached.index, args)
        return 0
    from jobdeck.state.cardcache import known_fires, save_cards
    from jobdeck.state.views import cards

    # (main() keeps the collector off: building ~10 objects per job, its passes cost ~20% of a large ls)
    spec, digest = _read_spec(deck)
    now = time.time()
    with _store(deck) as store:
        found = cards(spec, store.board, now, known_fires(deck, digest, now))
        offset, last_hash, warning = store.log.offset, store.log.last_hash, store.chain_warning
        if store.board.held is not None:
            from jobdeck.state.actions import deck_hold_text

            notice = f"the deck is {deck_hold_text(store.board.held)}; no new starts (`jobdeck release`)"
            warning = f"{warning}; {notice}" if warning else notice
        if warning:
            print(f"jobdeck: warning: {one_line(warning)}", file=sys.stderr)
    encoded = save_cards(deck, [c.to_json() for c in found], spec=digest, offset=offset,
                         last_hash=last_hash, now=now, board=board, warning=warning, undeclared=True)
    keep = _keep(encoded.index, args)
    notes = _runner_notes(deck, encoded.index)
    if args.json and not notes:
        sys.stdout.write(encoded.to_json(keep) + "\n")
    elif args.json:
        sys.stdout.write(json.dumps([c.to_json() for c in _noted(
            [c for c, shown in zip(found, keep) if shown], notes)]) + "\n")
    else:
        from jobdeck.cli import render

        render.cards_table(_noted([c for c, shown in zip(found, keep) if shown], notes), time.time(),
                           deck_empty=not found)
        _say_hidden(encoded.index, args)
    return 0


def _runner_notes(deck: Deck, index: list[tuple[str, str, list[str]]]) -> dict[str, str]:
    """What live runners say of their attempts (e.g. "queued on gpu (PD: Resources)"), when any job runs."""
    if not any(column == "running" for column, _, _ in index):
        return {}
    from jobdeck.state.heartbeat import live_notes, read_heartbeats

    return live_notes(read_heartbeats(deck.runners_dir), time.time())


def _noted(shown: list[Card], notes: dict[str, str]) -> list[Card]:
    """The cards, a running job's note from its runner first among its flags."""
    from jobdeck.state.views import noted

    return [noted(card, notes.get(card.id)) for card in shown] if notes else shown


def _keep(index: list[tuple[str, str, list[str]]], args: argparse.Namespace) -> list[bool]:
    """Which cards `ls` shows, given each card's (column, workspace, labels) and the filters."""
    return [_listed({"column": c, "workspace": w, "labels": ls}, args) for c, w, ls in index]


def _say_hidden(index: list[tuple[str, str, list[str]]], args: argparse.Namespace) -> None:
    """Under the table: how many cancelled jobs it left out, and how to see them."""
    if args.status or args.all:
        return
    hidden = sum(1 for column, workspace, labels in index if column == "cancelled"
                 and _listed({"column": "backlog", "workspace": workspace, "labels": labels}, args))
    if hidden:
        print(f"{hidden} cancelled not shown (--all)", file=sys.stderr)  # (stdout is the table a script reads)


def _listed(row: dict[str, Any], args: argparse.Namespace) -> bool:
    """Whether `ls` shows this card (a JSON row) under --status, --label, --workspace and --all."""
    if args.status:
        if row["column"] not in args.status:
            return False
    elif not args.json and not args.all and row["column"] == "cancelled":
        return False
    if args.label and args.label not in row["labels"]:
        return False
    return not args.workspace or row["workspace"] == args.workspace


def _job_and_state(deck: Deck, job_id: str, *, light: bool = False, undeclared: bool = False
                   ) -> tuple[Spec | LightSpec, Job | JobPreview, Store]:
    """The spec, the job and an open store; ``light``: the job may be a preview (no pydantic). With
    ``undeclared``, a job taken out of jobs.json whose attempt is still under way is found too, as a preview of
    what the board knows of it (its id and workspace); without, it is refused with what can be done about it."""
    from jobdeck.state.errors import UnknownJob

    spec = _read_spec(deck)[0] if light else _spec(deck)
    job = spec.job(job_id)
    if job is not None:
        return spec, job, _store(deck)
    store = _store(deck)
    try:
        from jobdeck.state.views import holds_claim

        state = store.board.state(job_id)
        if job_id in store.board.jobs and holds_claim(state) and state.attempt is not None:
            if undeclared:
                from jobdeck.state.preview import RetryPreview, JobPreview

                return spec, JobPreview(job_id, None, None, None, None, (), state.attempt.workspace, None, "UTC",
                                        None, "low", 0, (), False, RetryPreview()), store
            raise UnknownJob(f"job '{job_id}' is no longer in {spec_place(deck)}; its attempt "
                             f"{state.attempt.n} is still under way",
                             hint=f"`jobdeck logs {job_id}` shows its output, `jobdeck cancel {job_id}` stops it")
    except BaseException:
        store.close()
        raise
    store.close()
    raise UnknownJob.among([job_id], (j.id for j in spec.jobs), spec_place(deck))


def cmd_show(args: argparse.Namespace) -> int:
    from jobdeck.cli import render
    from jobdeck.state.views import card

    deck = _deck(args)
    spec, job, store = _job_and_state(deck, args.id, light=True)
    job, spec_json, idempotent = _as_validated(deck, spec, job)
    with store:
        state = store.board.state(job.id)
        job_card = card(job, state, store.board, time.time())
    if args.chain > 0:  # read back from the end of the log: the cost of the job's recent past only
        from jobdeck.state.segments import recent_records

        chain, older = _reading(deck, lambda: recent_records(deck.events_path, job.id, args.chain))
    else:
        from jobdeck.state.segments import job_records

        chain, older = _reading(deck, lambda: job_records(deck.events_path, job.id)), False
    if args.json:
        _print_json({
            "spec": spec_json,
            "card": job_card.to_json(),
            "state": state.to_json(),
            "chain": chain,
            "chain_complete": not older,
        })
        return 0
    render.job_detail(deck, job, state, job_card, chain, spec_json=spec_json, idempotent=idempotent)
    if older:
        print(f"(older records of {job.id}: `jobdeck events {job.id}`, or `jobdeck show {job.id} --chain 0`)")
    return 0


def _as_validated(deck: Deck, spec: Spec | LightSpec, job: Job | JobPreview
                  ) -> tuple[Job | JobPreview, dict[str, Any], bool]:
    """The job with its spec as validated and whether it is idempotent, for `show`: from the form kept
    when jobs.json was marked valid, else validated now (which keeps it for the next time)."""
    from jobdeck.state.errors import UnknownJob
    from jobdeck.state.lightspec import LightSpec, validated_job

    kept = validated_job(deck, spec.digest, job.id) if isinstance(spec, LightSpec) else None
    if kept is not None:
        return job, *kept
    validated = (_spec(deck) if isinstance(spec, LightSpec) else spec).job(job.id)
    if validated is None:  # jobs.json changed meanwhile
        raise UnknownJob(f"no job '{job.id}' in {deck.spec_path}", hint="see `jobdeck ls` for the ids")
    return validated, validated.model_dump(mode="json", by_alias=True, exclude_defaults=True), validated.idempotent


def _reading(deck: Deck, read: Callable[[], T]) -> T:
    """``read()`` of the log, its OSError made one line."""
    try:
        return read()
    except OSError as exc:
        raise deck_access_error(exc, "read the chain of work", deck.events_path) from None


def _each_record(deck: Deck) -> Iterator[dict[str, Any]]:
    """The log's records in order, read a chunk at a time: a pass over months of history (a report) holds
    one chunk of them, not the whole log."""
    for records in _chunks(deck):
        yield from records


def cmd_events(args: argparse.Namespace) -> int:
    from jobdeck.cli import render

    from jobdeck.state.segments import job_records, recent_records

    deck = _deck(args)
    if args.id:  # only the job's lines are parsed: memory is its history, not the log's
        if args.limit:
            records = _reading(deck, lambda: recent_records(deck.events_path, args.id, args.limit)[0])
        else:
            records = _reading(deck, lambda: job_records(deck.events_path, args.id))
        if not records:
            _no_lost_history(deck)
        if not records and _read_spec(deck)[0].job(args.id) is None:  # a removed job's history is still shown
            from jobdeck.state.errors import UnknownJob

            raise UnknownJob.among([args.id], (j.id for j in _read_spec(deck)[0].jobs), spec_place(deck),
                                   " or its chain of work")
        chunks: Iterable[list[dict[str, Any]]] = [records]
    elif args.limit:  # read backwards: the newest records cost what they hold, not the log
        chunks = [_reading(deck, lambda: recent_records(deck.events_path, None, args.limit)[0])]
    else:  # a chunk at a time: months of history are never held at once
        chunks = _chunks(deck)
    printed = False
    for chunk in chunks:
        printed = printed or bool(chunk)
        if args.json:
            sys.stdout.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in chunk))
        else:
            render.events(chunk)
    if not printed:
        _no_lost_history(deck)
    return 0


def _chunks(deck: Deck, chunk: int = 8 << 20) -> Iterator[list[dict[str, Any]]]:
    """The log's records in order, about ``chunk`` bytes of them at a time."""
    from jobdeck.state.events import EventLog

    log = EventLog(deck.events_path)
    while records := _reading(deck, lambda: log.read_new(limit=chunk)):
        yield records


def _no_lost_history(deck: Deck) -> None:
    """An empty chain of work beside earlier attempts is a lost history (HistoryLost, exit 2), as for `ls`."""
    with _store(deck):  # (opening the store checks: state/board.py open_store)
        pass


def cmd_logs(args: argparse.Namespace) -> int:
    from jobdeck.cli.logs import show_logs

    deck = _deck(args)
    spec, job, store = _job_and_state(deck, args.id, light=True, undeclared=True)
    with store:
        state = store.board.state(job.id)

    def retention_stated() -> bool:  # asked only when an attempt directory is gone: validates jobs.json then
        full = _spec(deck)
        policy, own = full.retention, full.job(job.id)
        return policy.keep_days is not None or policy.keep_attempts is not None \
            or (own is not None and own.retention is not None)

    return show_logs(deck, store, job, state, attempt=args.attempt, stderr=args.stderr, follow=args.follow,
                     raw=args.raw, retention=retention_stated)


def cmd_stats(args: argparse.Namespace) -> int:
    from jobdeck.cli.progress import Progress
    from jobdeck.cli.stats import stats_report, stats_table
    from jobdeck.state.stats_cache import answer

    deck = _deck(args)
    with _store(deck) as store:
        rollups = store.board.rollups
    now = time.time()
    since = now - args.since if args.since is not None else None
    with Progress("stats: folding the log", "events") as progress:  # a refold takes seconds: say so on a terminal
        report = answer(deck, lambda history: stats_report(history, rollups, args.id, since=since, days=args.days,
                                                           now=now), progress=progress)
    if args.id:
        unknown = [row["id"] for row in report["jobs"] if not row["runs"] and not row["interventions"]]
        known = _read_spec(deck)[0] if unknown else None
        missing = [job for job in unknown if known is not None and known.job(job) is None]
        if missing:
            from jobdeck.state.errors import UnknownJob

            raise UnknownJob.among(missing, (j.id for j in known.jobs), spec_place(deck))
    if args.json:
        _print_json(report)
    else:
        stats_table(report, now)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from jobdeck.cli.chain import audit

    return audit(_deck(args), args)


def cmd_log(args: argparse.Namespace) -> int:
    from jobdeck.cli.chain import rotate

    return rotate(_deck(args), args)


# -- operator actions ----------------------------------------------------------------


def _act(args: argparse.Namespace, action: str, ids: list[str], **extra: Any) -> int:
    from jobdeck.state.actions import STOPS_WORK, perform, waits_for_valid_spec

    from jobdeck.state.errors import UnknownJob

    deck = _deck(args)
    # While jobs.json is invalid, what stops or holds work acts on its last valid version (a runaway job mid-edit);
    # what lets work start waits for the file to be fixed.
    try:
        spec = _read_spec(deck, kept=action in STOPS_WORK)[0]
    except SpecUnreadable:
        raise
    except SpecError as exc:
        if action in STOPS_WORK:
            raise
        raise waits_for_valid_spec(action, exc) from None
    unknown = [job_id for job_id in ids if spec.job(job_id) is None]
    if unknown and action == "cancel":  # a job taken out of jobs.json by hand while it ran may still be stopped
        unknown = [job_id for job_id in unknown if not _running_in_the_log(deck, job_id)]
    if unknown:  # nothing is applied unless every id names a job
        raise UnknownJob.among(unknown, (j.id for j in spec.jobs), spec_place(deck), "; nothing was done")
    status = 0
    stopped_by_nobody = []
    with _store(deck) as store:
        for job_id in ids:
            was_running = store.board.state(job_id).status.value == "running"
            try:
                records, notes = perform(store, spec, job_id, action, reason=args.reason, **extra)
            except DeckAccessError:
                raise  # the same for every job: say it once
            except JobdeckError as exc:
                print(f"jobdeck: {one_line(str(exc))}", file=sys.stderr)
                status = max(status, exc.exit_code)
                continue
            for record in records:
                if args.json:
                    sys.stdout.write(json.dumps(record) + "\n")
                else:
                    print(f"{record['type']} {record['job']} (event {record['seq']})")
            for note in notes:  # (stdout stays one line per event, for scripts)
                print(f"jobdeck: {job_id}: {one_line(note)}", file=sys.stderr)
            if action == "cancel" and was_running and records:
                stopped_by_nobody.append(job_id)
            if action == "cancel" and records:
                from jobdeck.state.views import is_paused

                job = spec.job(job_id)
                if job is not None:  # (a job no longer in jobs.json starts again only once it is back there)
                    _say_what_starts_it_again(job, is_paused(job, store.board.state(job_id)))
    if stopped_by_nobody and not _runner_up(deck):
        print(f"jobdeck: no runner is up: the processes of {', '.join(stopped_by_nobody)} run until one starts "
              f"(`jobdeck run --once` stops them and records the end)", file=sys.stderr)
    return status


def _say_what_starts_it_again(job: Any, paused: bool) -> None:
    """A cancel ends this cycle only: say so of a job its schedule or inbox starts again, and how to stop that."""
    from jobdeck.decide.why import next_cycle  # (what `why` says of a cancelled job)

    again = next_cycle(job, time.time())
    if again is not None and not paused:
        print(f"jobdeck: {job.id}: {one_line(again)} (hint: `jobdeck pause {job.id}` keeps it from starting)",
              file=sys.stderr)


def _runner_up(deck: Deck) -> bool:
    from jobdeck.state.heartbeat import any_alive, read_heartbeats

    return any_alive(read_heartbeats(deck.runners_dir), time.time())


def cmd_approve(args: argparse.Namespace) -> int:
    return _act(args, "approve", args.id)


def cmd_reject(args: argparse.Namespace) -> int:
    return _act(args, "reject", args.id)


def cmd_retry(args: argparse.Namespace) -> int:
    return _act(args, "retry", args.id)


def cmd_cancel(args: argparse.Namespace) -> int:
    return _act(args, "cancel", args.id)


def cmd_pause(args: argparse.Namespace) -> int:
    return _act(args, "pause", args.id)


def cmd_resume(args: argparse.Namespace) -> int:
    return _act(args, "resume", args.id)


def cmd_pin(args: argparse.Namespace) -> int:
    return _act(args, "pin", args.id)


def cmd_hold(args: argparse.Namespace) -> int:
    return _act(args, "hold", args.id) if args.id else _hold_deck(args, True)


def cmd_release(args: argparse.Namespace) -> int:
    return _act(args, "release", args.id) if args.id else _hold_deck(args, False)


def _hold_deck(args: argparse.Namespace, hold: bool) -> int:
    from jobdeck.state.actions import hold_deck, waits_for_valid_spec

    deck = _deck(args)
    if not hold:  # a release lets work start: not while jobs.json is invalid (a hold stops it: always)
        try:
            _read_spec(deck, kept=False)
        except SpecUnreadable:
            raise
        except SpecError as exc:
            raise waits_for_valid_spec("release", exc) from None
    with _store(deck) as store:
        record = hold_deck(store, hold, reason=args.reason)
    if args.json:
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        print(f"deck {'held: no new starts until `jobdeck release`' if hold else 'released'} (event {record['seq']})")
    return 0


def cmd_why(args: argparse.Namespace) -> int:
    from jobdeck.cli.deciding import cmd_why as why

    deck = _deck(args)
    spec = _spec(deck)
    with _store(deck) as store:
        return why(args, deck, spec, store.board)


def cmd_decisions(args: argparse.Namespace) -> int:
    from jobdeck.cli.deciding import cmd_decisions as decisions
    from jobdeck.state.errors import UnknownJob

    if args.report and (args.id or args.limit):  # the report is the deck's: a job or a count would be ignored
        raise JobdeckError("--report covers every job's decisions: give it no id nor -n",
                           hint="narrow it with --since, or leave out --report to list one job's decisions")
    deck = _deck(args)
    if args.report:  # one pass: the report keeps counts, not the records
        return decisions(args, _each_record(deck))
    decided = [r for r in _each_record(deck) if r.get("type") == "decided"]
    if args.id and _read_spec(deck)[0].job(args.id) is None and not any(r.get("job") == args.id for r in decided):
        raise UnknownJob.among([args.id], (j.id for j in _read_spec(deck)[0].jobs), spec_place(deck),
                               " nor in its decisions")
    return decisions(args, decided)


def _running_in_the_log(deck: Deck, job_id: str) -> bool:
    """Whether the chain of work has ``job_id`` running (a job jobs.json no longer declares, say)."""
    with _store(deck) as store:
        return job_id in store.board.jobs and store.board.state(job_id).status.value == "running"


def cmd_trigger(args: argparse.Namespace) -> int:
    inputs = _inputs(args.input)
    if inputs:
        _check_inputs(_deck(args), args.id, inputs)
        _say_redacted(_deck(args), inputs)
    return _act(args, "trigger", [args.id], inputs=inputs, replace=args.replace)


def _check_inputs(deck: Deck, job_id: str, inputs: Mapping[str, str]) -> None:
    """A run's input the job does not declare (its ``inputs`` names, and ``input``, the run's own): refused for a
    job that reads inputs only through placeholders (a model's prompt: the value would be dropped without a
    word); for one that runs a program, said on stderr, since it reaches the program as $JOBDECK_VAR_<KEY>."""
    from jobdeck.state.ids import closest_id, env_suffix

    try:
        spec = _read_spec(deck, kept=False)[0]
    except SpecError:
        return  # the trigger itself says what is wrong with jobs.json
    job = spec.job(job_id)
    if job is None:
        return  # the trigger says so
    written = _as_validated(deck, spec, job)[1]
    declared = {"input", *written.get("inputs", {})}
    unknown = [key for key in inputs if key not in declared]
    if not unknown:
        return
    key = unknown[0]
    close = closest_id(key, sorted(declared))
    meant = f"did you mean '{close}'? If not, " if close else ""
    if "command" in written or _runs_a_program(deck, written.get("agent")):
        for key in unknown:
            print(f"jobdeck: {job_id}: input '{key}' is not one the job declares ({', '.join(sorted(declared))}): "
                  f"it reaches the program as $JOBDECK_VAR_{env_suffix(key)} only", file=sys.stderr)
        return
    raise JobdeckError(f"job '{job_id}' has no input '{key}'; it takes {', '.join(sorted(declared))}",
                       hint=meant + f'declare it in the job, "inputs": {{"{key}": "a default"}}')


def _runs_a_program(deck: Deck, agent: str | None) -> bool:
    """Whether a job of ``agent`` runs a program (a coding-agent CLI, say), whose environment holds its inputs;
    not an llm agent's call, which reads them only through placeholders."""
    if agent is None:
        return False
    declared = _spec(deck).agents.get(agent)
    return declared is None or declared.type != "llm"  # (a built-in preset is a program)


def _say_redacted(deck: Deck, inputs: Mapping[str, str]) -> None:
    """Say, on stderr, which inputs hold a secret's value: the log keeps, and the job is given, the redacted
    form (as the store writes it: ``redact.for_deck``), never the secret."""
    from jobdeck.state.redact import for_deck

    redactor = for_deck(deck.spec_path)
    for key, value in inputs.items():
        kept = redactor.text(value)
        if kept != value:
            print(f"jobdeck: input '{key}' holds a secret's value: it is recorded, and given to the job, as "
                  f"{one_line(kept)[:80]!r} (hint: a job reads a secret from its environment, "
                  f'"env": {{"NAME": {{"env": "NAME"}}}})', file=sys.stderr)


def _inputs(items: list[str]) -> dict[str, str]:
    """``--input KEY=VALUE`` options as a dict (the last of a key wins)."""
    inputs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise JobdeckError(f"--input {item!r} is not KEY=VALUE", hint="e.g. --input lang=fr")
        inputs[key] = value
    return inputs


# -- runner and cockpit ----------------------------------------------------------------


def cmd_gc(args: argparse.Namespace) -> int:
    from jobdeck.cli import render
    from jobdeck.state.actions import operator
    from jobdeck.state.gc import collect

    deck = _deck(args)
    spec = _spec(deck, kept=False)  # (what goes is judged by the file as it is, never by an older version)
    from jobdeck.cli.progress import Progress

    what = "gc: sizing what would go" if args.dry_run else "gc: removing attempt directories"
    with _store(deck) as store, Progress(what, "directories") as progress:  # (a terminal's, after a second)
        report = collect(deck, store, spec, time.time(), dry_run=args.dry_run, by=operator(), via="cli",
                         progress=progress)
    if args.json:
        _print_json(render.gc_json(report, verbose=args.verbose))
    else:
        sys.stdout.write(render.gc_text(report, verbose=args.verbose, policy=spec.retention))
    if report.errors or report.unrecorded is not None:
        # The rest was done; what is left needs the operator, as any deck refusing writes does.
        from jobdeck.state.errors import DeckAccessError

        sys.stdout.flush()
        raise DeckAccessError("\n".join(render.gc_problems(report)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from jobdeck.cli.run import run_command

    if args.wait and not args.job:  # without it a runner would start and run until stopped, not wait for one job
        raise JobdeckError("--wait waits for the job of --job", hint="jobdeck run --job ID --wait")
    return run_command(_deck(args), args)


def cmd_cockpit(args: argparse.Namespace) -> int:
    from jobdeck.cockpit.app import run_cockpit

    return run_cockpit(_deck(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from jobdeck.cli.demo import run_demo

    return run_demo(Path(args.dir) if args.dir is not None else None, headless=args.headless)
