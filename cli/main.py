"""The jobdeck command line: argument parsing and dispatch, nothing else.

Every command's work lives in state/, runner/ or cockpit/; this module turns
their JobdeckErrors into one clean line on stderr and a stable exit code:
0 success, 1 the answer is "no" (invalid spec, refused action, failed job),
2 usage or environment problem (no deck, bad arguments, lock timeout), 130 on ^C, 143 when SIGTERM stopped a run
(129: SIGHUP).
The layers turn the system's refusals into JobdeckErrors that say what could
not be done; an OSError that still reaches this module is printed the same
way (file and reason, exit 2) as a last resort, never as a traceback.
Heavy packages (pydantic, rich, textual, litellm) are imported only by the
commands that need them, so `jobdeck --help` and `jobdeck ls` start fast.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence

from jobdeck import __version__
from jobdeck.state.errors import JobdeckError

EXAMPLES = (
    "jobdeck init mydeck && cd mydeck      a deck with an example jobs.json",
    "jobdeck validate                      check jobs.json, one line per problem",
    "jobdeck run --once                    run what is ready now, then exit (cron)",
    "jobdeck ls --status review --json     the review queue, for jq",
    "jobdeck approve publish --reason ok   pass a job waiting for you",
    "jobdeck cockpit                       the kanban board",
)
NOTES = """\
The deck is found from --deck, then $JOBDECK_DECK, then the nearest parent
directory holding a jobs.json. `jobdeck COMMAND --help` shows each command's options and examples.
Exit codes: 0 ok, 1 refused/invalid/failed/unhealthy, 2 usage or environment error, 130 interrupted (^C),
143 terminated (SIGTERM), 129 hung up (SIGHUP).
"""


STATUSES = ("backlog", "running", "review", "done", "failed", "cancelled")
BRIEF = frozenset({"completion", "validate", "ls", "show", "logs", "events", "add", "rm", "approve", "reject", "retry", "cancel", "pause",
                   "resume", "pin", "hold", "release", "trigger"})
"""Commands that end within milliseconds of starting (``logs`` unless it follows): run with the cyclic garbage
collector off. Its passes over the modules they import and the board they read free nothing (the state is
NamedTuples and plain dicts, freed as they go) and cost ~2 ms of each, ~20% of an ``ls`` that folds the log."""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _whole_number(text, 1, "at least 1")


def count(text: str) -> int:
    """An argparse type: a whole number of 0 or more."""
    return _whole_number(text, 0, "0 or more")


def exit_code(text: str) -> int:
    """An argparse type: an exit code a failing process can have (1-255), as a number or a sysexits.h name."""
    if text.startswith("EX_"):
        named = getattr(os, text, None)
        if not isinstance(named, int):
            raise argparse.ArgumentTypeError(f"{text!r} is not a sysexits.h name (EX_TEMPFAIL is 75)")
        value = named
    else:
        value = _whole_number(text, 1, "at least 1")
    if not 1 <= value <= 255:
        raise argparse.ArgumentTypeError(f"{text!r} is not an exit code a failing process can have (1-255)")
    return value


def _whole_number(text: str, least: int, wanted: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r} must be {wanted}")
    return value


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, 0 or more."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds, 0 or more")
    return value


def duration(text: str) -> float:
    """An argparse type: a duration like 90, '90s', '24h', '1h30m'."""
    from jobdeck.state.durations import parse_duration

    try:
        return parse_duration(float(text) if text.strip().isdigit() else text)  # a bare number is seconds
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def statuses(text: str) -> list[str]:
    """An argparse type: a comma-separated list of board columns."""
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in wanted if part not in STATUSES]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"unknown status {', '.join(map(repr, unknown)) or repr(text)}; "
                                         f"choose from {','.join(STATUSES)}")
    return wanted


def terminal_columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` gives it: $COLUMNS, else stdout's, else 80.

    Without shutil, whose import (bz2, lzma, zlib...) is ~3 ms of every command.
    """
    try:
        columns = int(os.environ["COLUMNS"])
        if columns > 0:
            return columns
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    """Descriptions and epilogs filled to the terminal's width, a paragraph at a time, except indented lines
    (examples, command lines), which are kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out: list[str] = []
        prose: list[str] = []

        def flush() -> None:
            if prose:
                out.extend(textwrap.wrap(" ".join(prose), width, initial_indent=indent, subsequent_indent=indent))
                prose.clear()

        for line in text.splitlines():
            if line.strip() and not line[0].isspace():
                prose.append(line.strip())
                continue
            flush()
            out.append(indent + line if line.strip() else "")
        flush()
        return "\n".join(out)


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's help formatter, given the width it would ask shutil for (it makes one per argument)."""
    return _HelpFormatter(prog, width=terminal_columns() - 2)


def examples_section(examples: Sequence[str]) -> str:
    """An epilog's "examples:": each command line, then its comment (after two or more spaces in ``examples``)
    in one column, two spaces past the longest command line."""
    if not examples:
        return ""
    import re

    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in examples]
    width = max(len(row[0]) for row in rows if len(row) == 2) if any(len(row) == 2 for row in rows) else 0
    return "examples:\n" + "".join(f"  {row[0].ljust(width)}  {row[1]}\n" if len(row) == 2 else f"  {row[0]}\n"
                                    for row in rows)


class _Unbuilt:
    """Stands in for the parser of a command this run does not build; its arguments go nowhere."""

    def add_argument(self, *args: object, **kwargs: object) -> None:
        pass

    def set_defaults(self, **kwargs: object) -> None:
        pass

    def add_subparsers(self, **kwargs: object) -> _Unbuilt:
        return self

    def add_mutually_exclusive_group(self, **kwargs: object) -> _Unbuilt:
        return self

    def add_parser(self, *args: object, **kwargs: object) -> _Unbuilt:
        return self


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full argument parser (also used by the help-text test).

    With ``only``, a command's name, the parser of that command alone: building
    every command's arguments costs ~6 ms that a run of one command need not pay.
    A name that is no command gets the full parser (and its error message).
    """
    parser = argparse.ArgumentParser(
        prog="jobdeck",
        description="A file-based AI task orchestrator with a terminal cockpit.",
        epilog=examples_section(EXAMPLES) + "\n" + NOTES,
        formatter_class=_formatter,
    )
    parser.add_argument("--deck", metavar="DIR", help="the deck directory (default: $JOBDECK_DECK or the nearest parent with jobs.json)")
    parser.add_argument("--version", action="version", version=f"jobdeck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, description: str | None = None,
                examples: Sequence[str] = (), notes: str = "") -> argparse.ArgumentParser | _Unbuilt:
        """Declare a command: its one-line help, a longer description, and the epilog: ``examples``
        (each "jobdeck ...", then two or more spaces and what it does) and ``notes`` (exit codes, say)."""
        if only is not None and name != only:
            return _Unbuilt()
        epilog = "\n".join(part for part in (examples_section(examples), notes) if part)
        parsed = sub.add_parser(name, help=help_text, description=description or help_text,
                                epilog=epilog or None, formatter_class=_formatter)
        # also after the command (`jobdeck ls --deck DIR`), as scripts and muscle memory write it
        parsed.add_argument("--deck", metavar="DIR", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return parsed

    p = command("init", "create a deck (jobs.json, workspaces/, .jobdeck/)", examples=[
        "jobdeck init nightly && cd nightly     a deck with an example jobs.json to edit",
        "jobdeck --deck ~/decks/nightly init    the place given by --deck"])
    p.add_argument("dir", nargs="?", help="where to create it (default: --deck, else here)")
    p.add_argument("--json", action="store_true", help="the deck and its jobs.json, as a JSON object")

    p = command("validate", "check jobs.json and print every problem", examples=[
        "jobdeck validate                       the deck's jobs.json; one line per problem",
        "jobdeck validate new-jobs.json         a file, before it replaces jobs.json",
        "jobdeck validate --json | jq -r '.[] | \"\\(.line):\\(.column) \\(.message)\"'"])
    p.add_argument("--json", action="store_true", help="print the problems as JSON")
    p.add_argument("file", nargs="?", help="validate this file instead of the deck's jobs.json")

    p = command("schema", "print the JSON Schema of jobs.json (point \"$schema\" at it)", examples=[
        "jobdeck schema -o jobs.schema.json     then point \"$schema\" in jobs.json at it"])
    p.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of stdout")

    p = command("ls", "list jobs with their status", examples=[
        "jobdeck ls                             every job but the cancelled ones",
        "jobdeck ls --status review,failed      what waits for you",
        "jobdeck ls --label nightly --json | jq -r '.[].id'"])
    p.add_argument("--status", metavar="S[,S]", type=statuses, help="only these columns: " + ",".join(STATUSES))
    p.add_argument("--label", metavar="L", help="only jobs with this label")
    p.add_argument("--workspace", metavar="W", help="only jobs in this workspace")
    p.add_argument("--all", action="store_true", help="cancelled jobs too (the table leaves them out; --json has them)")
    p.add_argument("--json", action="store_true", help="JSON array of cards, for scripts")

    p = command("show", "one job: spec, state, attempts, chain of work", examples=[
        "jobdeck show summarise                 spec, state, attempts, newest 30 records",
        "jobdeck show summarise --chain 0       with its whole chain of work",
        "jobdeck show summarise --json | jq .state"])
    p.add_argument("id", help="the job's id")
    p.add_argument("--chain", type=count, default=30, metavar="N",
                   help="its newest N records of the chain of work (default 30; 0: all, read from the whole log)")
    p.add_argument("--json", action="store_true", help="spec, card, state and chain as one JSON object")

    p = command("logs", "print a job's output (latest attempt)", examples=[
        "jobdeck logs fetch                     the latest attempt's output",
        "jobdeck logs fetch --attempt 2 --stderr",
        "jobdeck logs fetch -f                  follow it while it runs"])
    p.add_argument("id", help="the job's id")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing as the output grows")
    p.add_argument("--attempt", type=positive_int, metavar="N", help="attempt number (default: latest)")
    p.add_argument("--stderr", action="store_true", help="print stderr.log instead of the output")
    p.add_argument("--raw", action="store_true",
                   help="the bytes as written, escape sequences included, even on a terminal (a pipe always gets them)")

    p = command("add", "add jobs to jobs.json (validated, one atomic change)",
                "Add one job from flags, or many from a JSON/JSONL file ('-' for stdin). The jobs go at\n"
                "the end of the \"jobs\" list, laid out like the jobs before them; the rest of the file\n"
                "stays exactly as you wrote it (a job replaced with --replace keeps its place).", examples=[
                    "jobdeck add --id hi -- echo hi",
                    "jobdeck add --id sum --depends-on hi --model gpt-4o --prompt 'Sum {{input}}'",
                    "jobdeck add --id tr --input lang=fr -- ./translate.sh '{{inputs.lang}}'",
                    "jobdeck add --id report --depends-on sum --max-attempts 3 -- ./report.sh",
                    "jq -c '.[]' new-jobs.json | jobdeck add --from -"])
    p.add_argument("--from", dest="source", metavar="FILE", help="JSON (a job, a list, or {\"jobs\": [...]}) or JSONL; '-' = stdin")
    p.add_argument("--id", help="the new job's id (letters, digits, '.', '_', '-')")
    p.add_argument("--title", help="short human title")
    p.add_argument("--model", help="an LLM job: the litellm model name (needs --prompt)")
    p.add_argument("--prompt", help="the prompt template ({{input}}, {{deps.JOB}}...)")
    p.add_argument("--agent", help="a named agent from the 'agents' section")
    p.add_argument("--shell", action="store_true", help="run the command through /bin/sh -c")
    p.add_argument("--depends-on", action="append", default=[], metavar="ID", help="a job that must be done first (repeatable)")
    p.add_argument("--workspace", help="workspace to run in (default: default)")
    p.add_argument("--risk", choices=["low", "medium", "high"], help="high: needs approval before it runs")
    p.add_argument("--schedule", metavar="CRON", help="5-field cron or @daily-style alias")
    p.add_argument("--timezone", metavar="TZ", help="IANA time zone of the schedule (default UTC)")
    p.add_argument("--trigger", metavar="GLOB", help="run when a matching file lands in the workspace inbox")
    p.add_argument("--label", action="append", default=[], metavar="L", help="a label (repeatable)")
    p.add_argument("--input", action="append", default=[], metavar="KEY=VALUE",
                   help="a default for {{inputs.KEY}} (repeatable); `trigger --input` overrides it for a run")
    p.add_argument("--priority", type=int, help="higher runs first among ready jobs")
    p.add_argument("--max-attempts", type=positive_int,
                   help="attempts in all, the first included; a failure is tried again only if it is transient: "
                        "a timeout, or an exit code given with --retry-exit")
    p.add_argument("--retry-exit", type=exit_code, action="append", default=[], metavar="CODE",
                   help="an exit code that means 'try again' (repeatable; a number or a sysexits.h name, "
                        "e.g. 75 or EX_TEMPFAIL); "
                        "without --max-attempts, 3 attempts in all")
    p.add_argument("--idle-timeout", metavar="DURATION", help="fail when silent this long, e.g. 90s")
    p.add_argument("--hard-timeout", metavar="DURATION", help="fail after this long in total, e.g. 2h")
    p.add_argument("--deadline", metavar="TIME", help="when its output is due: 06:00 (in --timezone) or an ISO datetime")
    p.add_argument("--max-wait", metavar="DURATION", help="the longest it may wait once ready, e.g. 3h")
    p.add_argument("--window", metavar="HH:MM-HH:MM", help="start only inside this daily window, e.g. 22:00-06:00")
    p.add_argument("--idempotent", action="store_true", help="safe to re-run after a crash mid-attempt")
    p.add_argument("--replace", action="store_true", help="replace jobs whose id exists")
    p.add_argument("--json", action="store_true", help="the ids added, as a JSON object")
    p.add_argument("argv", nargs="*", metavar="-- COMMAND ARGS", help="the command (after --)")

    p = command("rm", "remove jobs from jobs.json (validated, one atomic change)",
                "Take jobs out of jobs.json; the rest of the file stays exactly as you wrote it. Refused,\n"
                "with nothing changed, for a job that is running or that a job staying depends on.\n"
                "What a removed job did stays in the chain of work, and its attempts in its workspace: a job\n"
                "added again under its id takes that history up (done stays done until `jobdeck retry`).",
                examples=["jobdeck rm old-report",
                          "jobdeck rm fetch summarise             a job and the one that depends on it"])
    p.add_argument("id", nargs="+", help="one or more job ids")
    p.add_argument("--json", action="store_true", help="the ids removed, as a JSON object")

    p = command("edit", "edit jobs.json in $EDITOR; installed only if valid and unchanged meanwhile",
                "Open a copy of jobs.json in $VISUAL, else $EDITOR, else vi. The copy replaces jobs.json\n"
                "only if it is valid and jobs.json did not change meanwhile; an invalid one is offered\n"
                "for editing again, its problems listed.", examples=[
                    "jobdeck edit",
                    "EDITOR=nano jobdeck edit"])

    for name, help_text, examples in (
        ("approve", "approve a job in review, or a high-risk job before it runs", [
            "jobdeck approve publish --reason 'checked the numbers'",
            "jobdeck ls --status review --json | jq -r '.[].id' | xargs jobdeck approve"]),
        ("reject", "reject a job in review (or awaiting approval): it goes to failed", [
            "jobdeck reject summarise --reason 'cites a retracted paper'"]),
        ("retry", "send a failed, reviewed, cancelled or done job back to the backlog", [
            "jobdeck retry fetch                    the next turn of a runner starts it",
            "jobdeck retry fetch summarise --reason 'provider back'"]),
        ("cancel", "cancel a job's cycle (a running attempt is terminated); its schedule or inbox starts the next", [
            "jobdeck cancel crawl --reason 'runaway cost'",
            "jobdeck cancel nightly && jobdeck pause nightly  nor a new cycle"]),
        ("pause", "keep a job from starting until resumed", [
            "jobdeck pause report --reason 'waiting for new credentials'"]),
        ("resume", "undo pause", [
            "jobdeck resume report"]),
        ("pin", "start a backlog job next, before the decision service's ranking (once)", [
            "jobdeck pin hotfix                     started next, ahead of every other ready job"]),
        ("hold", "keep a backlog job, or with no id the whole deck, from starting until released", [
            "jobdeck hold                           the whole deck, for maintenance",
            "jobdeck hold crawl --reason 'site down'"]),
        ("release", "undo pin or hold (no id: release the deck)", [
            "jobdeck release                        the whole deck starts jobs again",
            "jobdeck release crawl                  undo `hold crawl` (or `pin crawl`)"]),
    ):
        p = command(name, help_text, examples=examples)
        if name == "hold":
            p.add_argument("id", nargs="*", help="one or more job ids; none: the whole deck (no new starts while "
                                                 "held; running attempts finish; cron fires and inbox files are kept)")
        elif name == "release":
            p.add_argument("id", nargs="*", help="one or more job ids to unpin or release; none: release the deck")
        else:
            p.add_argument("id", nargs="+", help="one or more job ids")
        p.add_argument("--reason", metavar="TEXT", help="recorded in the chain of work")
        p.add_argument("--json", action="store_true", help="print the stored events as JSON lines")

    p = command("trigger", "start a new cycle of a job and everything downstream of it", examples=[
        "jobdeck trigger fetch                  fetch, then each job that depends on it",
        "jobdeck trigger ingest --input input=/data/today.csv --input lang=de"])
    p.add_argument("id", help="the job to start; its dependents follow")
    p.add_argument("--input", action="append", default=[], metavar="KEY=VALUE", help="inputs for this run ({{inputs.KEY}}; 'input' fills {{input}})")
    p.add_argument("--replace", action="store_true",
                   help="replace the inputs of an earlier trigger that has not started yet (refused without it)")
    p.add_argument("--reason", metavar="TEXT", help="recorded in the chain of work")
    p.add_argument("--json", action="store_true", help="print the stored events as JSON lines")

    p = command("events", "print the chain of work (all jobs, or one)", examples=[
        "jobdeck events -n 20                   the deck's last 20 records",
        "jobdeck events fetch --json | jq -c 'select(.type == \"failed\")'"])
    p.add_argument("id", nargs="?", help="only this job's events")
    p.add_argument("--json", action="store_true", help="raw records as JSON lines")
    p.add_argument("-n", "--limit", type=positive_int, metavar="N", help="only the last N")

    p = command("why", "every reason a job is or is not running now, and its rank with the reasons",
                "Written constraints first (status, pause, hold, schedule, approval, retry wait,\n"
                "dependencies, limits), then the decision service's verdict: start, defer until a time,\n"
                "or hold until something changes, with reasons tied to numbers.", examples=[
                    "jobdeck why report",
                    "jobdeck why report --json | jq .verdict.reasons"])
    p.add_argument("id", help="the job's id")
    p.add_argument("--json", action="store_true", help="the answer as one JSON object")

    p = command("decisions", "the decision service's history, and how following it would do (--report)",
                "Every `decided` event: the mode, the job, the action (start, defer, hold) and the\n"
                "reasons. With --report: the claims live mode would have changed (shadow, advise):\n"
                "another job started first, or the job held or deferred; waits, deadlines met and\n"
                "missed, failures, and each UTC day's spend against the daily budget.", examples=[
                    "jobdeck decisions -n 20",
                    "jobdeck decisions --report --since 24h"])
    p.add_argument("id", nargs="?", help="only this job's decisions (not with --report)")
    p.add_argument("--report", action="store_true",
                   help="the comparison over every job: changes, waits, deadlines, spend and budget")
    p.add_argument("--since", type=duration, metavar="DURATION", help="only the last DURATION (e.g. 24h, 90m)")
    p.add_argument("-n", "--limit", type=positive_int, metavar="N", help="only the last N decisions (not with --report)")
    p.add_argument("--json", action="store_true", help="JSON lines (with --report: one JSON object)")

    p = command("stats", "how the deck has done: runs, failures by class, waits, durations, cost, interventions",
                "Per deck, per workspace and per job: runs, success rate, failures by class, wait (backlog\n"
                "to claim) and run time p50/p95 (of the attempts that succeeded: a timeout or a crash says\n"
                "little of how long the work takes), retries, rate-limit hits and cooldowns, tokens and\n"
                "cost per model, operator interventions per 100 runs and deadlines met; then the totals\n"
                "per day.\n"
                "Folded from the log into .jobdeck/stats-cache.json, an hour at a time: a window is whole\n"
                "hours, and the next call folds only what was appended.", examples=[
                    "jobdeck stats                      all history, with the last 7 days' totals",
                    "jobdeck stats --since 24h          the last day (from the top of the hour)",
                    "jobdeck stats fetch --since 7d     one job, a week",
                    "jobdeck stats --json | jq '.jobs[] | select(.failure_rate > 0.1)'"])
    p.add_argument("id", nargs="*", help="only these jobs")
    p.add_argument("--since", type=duration, metavar="DURATION",
                   help="only the last DURATION (e.g. 24h, 7d), from the top of the hour it begins in")
    p.add_argument("--days", type=positive_int, default=7, metavar="N",
                   help="daily totals for the last N days (default 7), within the window")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")

    p = command("audit", "check the chain of work", examples=[
        "jobdeck audit verify                   every segment; exit 1 at a break",
        "jobdeck audit verify --from 120000     from the segment holding seq 120000"])
    p.add_argument("what", choices=["verify"], metavar="{verify}", help="verify: check every record's hash and link, in every segment")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--from", dest="from_seq", type=positive_int, metavar="SEQ",
                       help="only the segments from the one holding SEQ on")
    scope.add_argument("--segment", type=positive_int, metavar="FIRST",
                       help="only the segment that begins at seq FIRST (.jobdeck/log/events-<FIRST>.jsonl[.gz])")
    p.add_argument("--json", action="store_true", help="the result as a JSON object")

    p = command("gc", "remove the attempt directories jobs.json's retention policy lets go",
                "Apply the \"retention\" policy of jobs.json (keep_days, keep_attempts): remove the\n"
                "attempt directories it lets go and print each with its reason and the bytes freed.\n"
                "Without a policy nothing is removed. Never removed: a job's latest attempt (output\n"
                "waiting for review included), a running job's attempts, the output a dependent is given.\n"
                "What went is recorded in the chain of work: one \"gc\" record (see `jobdeck events`).",
                examples=["jobdeck gc --dry-run --verbose         what would go, what stays, and why",
                          "jobdeck gc --json | jq .bytes_freed"])
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.add_argument("--verbose", action="store_true", help="also list what is kept, and why")
    p.add_argument("--json", action="store_true", help="the result as one JSON object")

    p = command("log", "rotate the chain of work into a closed segment (and compress closed ones)",
                "Close .jobdeck/events.jsonl as .jobdeck/log/events-<first seq>.jsonl and start a new\n"
                "live file that links to it (the runner does this itself past $JOBDECK_LOG_SEGMENT bytes,\n"
                "default 64 MiB). Safe while runners run: it takes the deck lock.", examples=[
                    "jobdeck log rotate       close the live segment now",
                    "jobdeck log compact      rotate, then gzip every closed segment"])
    p.add_argument("what", choices=["rotate", "compact"], metavar="{rotate,compact}", help="rotate: close the live segment; compact: also gzip closed ones")
    p.add_argument("--json", action="store_true", help="what was done, as a JSON object")

    p = command("run", "run jobs: long-running, or --once for scripts and cron",
                "Claim ready jobs and run them. Without --once it keeps running, woken by\n"
                "changes to the deck, child exits and timers (cron, retry backoff).",
                examples=["jobdeck run                            long-running (systemd, tmux)",
                          "jobdeck run --once --quiet             from cron: what is ready now, then exit",
                          "jobdeck run --job report --wait        one job and its upstream, through approval"],
                notes="exit codes: 0 every job it ran ended done; 1 a job it ran did not, or jobs.json is invalid\n"
                      "(a long-running runner waits for a valid one instead); 2 usage or deck problem (no deck,\n"
                      "unwritable state, lock timeout); 130 ^C and 143 SIGTERM during --once or --job. A\n"
                      "long-running runner stopped by ^C or SIGTERM exits 0 once its attempts are settled.\n")
    p.add_argument("--once", action="store_true", help="run until nothing more can run now (a retry due within a minute included), then exit")
    p.add_argument("--job", metavar="ID",
                   help="run this job (and its missing upstream), then exit with its outcome (--once is implied)")
    p.add_argument("--wait", action="store_true", help="with --job: wait for approval/retries instead of giving up")
    p.add_argument("--parallel", type=positive_int, metavar="N", help="attempts at once (default: limits.parallel)")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--grace", type=seconds, default=10.0, metavar="S", help="on ^C or SIGTERM, let attempts finish this long (default 10); a second signal stops them at once")

    p = command("cockpit", "open the kanban board (Textual TUI)", examples=[
        "jobdeck cockpit                        ? inside lists every key",
        "jobdeck --deck ~/decks/nightly cockpit"])

    p = command("demo", "copy the nightly enrichment example into a fresh deck, run it, open the cockpit", examples=[
        "jobdeck demo                           offline, no API key needed",
        "jobdeck demo --headless /tmp/demo      no cockpit: run it, print a summary"])
    p.add_argument("dir", nargs="?", help="where to create the demo deck (default: ./demo-deck, or demo-deck-2, -3... "
                                         "when an earlier demo has it)")
    p.add_argument("--headless", action="store_true", help="no cockpit: run to the end and print a summary")

    p = command("completion", "print the shell code that completes commands, options and job ids",
                "Print the code that makes Tab complete jobdeck's commands and options, and the ids, workspaces\n"
                "and labels of the deck the command line names (an action offers only the jobs it applies to:\n"
                "`jobdeck approve <Tab>` the ones waiting for you). Load it from your shell's start-up file.",
                examples=[
                    "eval \"$(jobdeck completion bash)\"        in ~/.bashrc",
                    "eval \"$(jobdeck completion zsh)\"         in ~/.zshrc, after compinit",
                    "jobdeck completion fish > ~/.config/fish/completions/jobdeck.fish"])
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete in")
    p.set_defaults(handler="jobdeck.cli.completion:cmd_completion")

    if only in (None, "status"):  # (their modules are imported only when their parser is built)
        from jobdeck.cli import status

        status.add_parser(command)
    if only in (None, "notify"):
        from jobdeck.cli import notify

        notify.add_parser(command)
    if only is not None and only not in sub.choices:
        return build_parser()
    return parser


def named_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, when it can be told without parsing: the first word after
    ``--deck DIR``. None when an option comes first (``--help``, an abbreviated ``--deck``...)."""
    i = 0
    while i < len(argv):
        if argv[i] == "--deck":
            i += 2
        elif argv[i].startswith("--deck="):
            i += 1
        else:
            return None if argv[i].startswith("-") else argv[i]
    return None


def console() -> None:
    """The `jobdeck` console script and ``python -m jobdeck``: ``main``, then the process's exit.

    After a brief command (BRIEF) the exit skips the interpreter's teardown: its
    freeing of every module and object, and its last garbage collection, were
    ~6 ms of a ~45 ms `show`. Nothing is left to it: the commands write their
    files through descriptors they close (``write_atomic``, the log's appends, made
    durable before they return) and hold no thread; standard output and error are
    flushed here. Where a thread is still alive (a background fsync, say), the
    exit is the ordinary one.
    """
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (`jobdeck completion`): answer, exit
        from jobdeck.cli.completion import complete

        complete()
    code, brief = _run(sys.argv[1:], parse_exits=True)
    if brief and _nothing_running():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a reader gone (`jobdeck ls | head`), or a stream closed
                pass
        os._exit(code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `jobdeck decisions --json | head -1`: the reader is gone, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)  # what is left in the buffer goes nowhere at the exit
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    sys.exit(code)


def _nothing_running() -> bool:
    """Whether this process has no other thread (one that the teardown would wait for)."""
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run one jobdeck command; its exit code (the table in this module's docstring)."""
    return _run(sys.argv[1:] if argv is None else argv)[0]


def _run(argv: Sequence[str], *, parse_exits: bool = False) -> tuple[int, bool]:
    """The command's exit code, and whether it was a brief one (BRIEF: run without the garbage collector).

    ``parse_exits``: `--help`, `--version` and a usage error, which argparse ends with SystemExit once it has
    printed them, give their exit code as a brief command's instead.
    """
    name = named_command(argv)
    parser = build_parser(name)
    if name is None and not any(arg.startswith("-") and not arg.startswith("--deck") for arg in argv):
        sys.stdout.write(parser.format_help())  # no command at all: what there is, not just the usage line
        return 2, False
    if name is not None:
        commands_known = next(action.choices for action in parser._actions if action.dest == "command")
        if name not in commands_known:
            import difflib

            close = difflib.get_close_matches(name, list(commands_known), n=2)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "see `jobdeck --help`"
            print(f"jobdeck: no command {name!r} (hint: {hint})", file=sys.stderr)
            return 2, False
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:  # said by the command's own parser: its usage line, not the top-level one
            sub = next(action for action in parser._actions if action.dest == "command").choices
            (sub[args.command] if args.command in sub else parser).error(f"unrecognized arguments: {' '.join(extras)}")
    except SystemExit as exc:
        if not parse_exits:
            raise
        return (exc.code if isinstance(exc.code, int) else int(exc.code is not None)), True
    brief = args.command in BRIEF and not getattr(args, "follow", False)
    collecting = gc.isenabled()
    if brief:
        gc.disable()
    try:
        return _command(args), brief
    finally:
        if collecting:
            gc.enable()


def _command(args: argparse.Namespace) -> int:
    """Run the parsed command; its exit code. A JobdeckError, or an OSError that reached this far, is one line
    on stderr and its exit code, never a traceback."""
    try:
        return _handler(args)(args)
    except JobdeckError as exc:
        from jobdeck.state.terminal import one_line

        for line in str(exc).splitlines() or [""]:  # several spec errors: one line each
            print(f"jobdeck: {one_line(line)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("jobdeck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # `jobdeck ls | head`: not an error
        return 0
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"jobdeck: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    """The function that runs the command: "module:function" set by its parser, else commands.cmd_<name>."""
    target = getattr(args, "handler", None)
    if target is not None:
        from importlib import import_module

        module, name = target.split(":")
        return getattr(import_module(module), name)  # type: ignore[no-any-return]
    from jobdeck.cli import commands

    return getattr(commands, "cmd_" + args.command.replace("-", "_"))  # type: ignore[no-any-return]


def runner_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `job-runner`: the same as `jobdeck run`."""
    args = list(sys.argv[1:] if argv is None else argv)
    deck_args: list[str] = []
    if args[:1] == ["--deck"] and len(args) >= 2:
        deck_args, args = args[:2], args[2:]
    return main([*deck_args, "run", *args])


if __name__ == "__main__":
    console()
