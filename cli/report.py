"""What the runner prints: a line per transition (rich on a terminal), or JSON lines."""

from __future__ import annotations

import errno
import json
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from jobdeck.state.actions import ACTION_OF_EVENT
from jobdeck.state.machine import EventType
from jobdeck.state.rollups import SCORED_TYPE
from jobdeck.state.terminal import one_line

#: Records about the runner's own trouble: printed on stderr, even with --quiet.
_PROBLEMS = frozenset({"spec_error", "write_error", "lock_timeout", "watch_error", "chain_warning", "log_replaced",
                       "log_rotate_failed", "notify_failed", "notify_unconfirmed", "notify_error",
                       "metrics_error", "deck_held", "remote_cancel_failed", "stopping", "stopping_now"})


#: An OSError as str() spells it: "[Errno 13] Permission denied: '/sys/fs/cgroup/jobdeck-42-a1b2c3'".
_OS_ERROR = re.compile(r"\[Errno (\d+)\] ([^:\]]+): '([^']*)'")


def plain_boundary_why(why: str) -> str:
    """Why the runner has no cgroup, as words: the usual case for a user without delegation reads as one.

    "no cgroup: [Errno 13] Permission denied: '/sys/fs/cgroup/jobdeck-42-a1b2c3'" becomes
    "no cgroup: /sys/fs/cgroup is not writable by this user" (the runner makes its
    group, named jobdeck-..., in the directory named). The runner_started record
    keeps the reason as it was raised, in ``boundary_why``.
    """
    def words(found: re.Match[str]) -> str:
        code, strerror, path = int(found[1]), found[2], found[3]
        made = os.path.basename(path).startswith("jobdeck-")  # the group it tried to make: its parent refused
        place = os.path.dirname(path) if made else path
        if code in (errno.EACCES, errno.EPERM):
            return f"{place} is not writable by this user"
        if code == errno.EROFS:
            return f"{place} is read-only"
        return f"{place}: {strerror[:1].lower()}{strerror[1:]}"

    return _OS_ERROR.sub(words, why)


class _Fields(dict[str, Any]):
    """A record's fields for a template; a field the record lacks reads as None."""

    def __missing__(self, key: str) -> None:
        return None


#: The runner's own reports that read one way: (template over the record's fields, style, defaults).
_NOTES: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "leftovers": ("{job}: its runner and program are gone; stopping {processes} process(es) it left "
                  "before resolving it", "dim", {"job": ""}),
    "revoked_left": ("{job}: cancelled while its runner was dead; stopping the {processes} process(es) it "
                     "still runs", "dim", {"job": ""}),
    "chain_warning": ("warning: {message}", "red", {}),
    "spec_error": ("jobs.json is invalid, {keeping}: {message}", "red", {}),
    "spec_ok": ("jobs.json is valid again: running it as it is now", "green", {}),
    "log_replaced": ("stopping, letting running attempts finish: {message}", "red", {}),
    "write_error": ("the deck refuses writes, {next}: {message}", "red", {"next": "retrying"}),
    "write_resumed": ("the deck takes writes again", "green", {}),
    "log_rotated": ("the log passed its segment size: closed {closed}", "dim", {}),
    "log_rotate_failed": ("rotating the log failed ({message}); trying again in a minute", "red", {}),
    "lock_timeout": ("{message}; trying again", "red", {}),
    "watch_error": ("watching the deck failed ({message}); {next}", "red", {}),
    "gc_error": ("retention (gc) failed: {message}; trying again in an hour", "red", {}),
    "refused": ("{job}: event refused: {message}", "dim", {"job": ""}),
    "notify_error": ("notify: {message}", "red", {}),
    "notify_unconfirmed": ("alerts to {target} not confirmed as the runner stopped: {message}", "red", {}),
    "metrics_error": ("cannot write the metrics textfile {message}; trying again", "red", {}),
    "deck_held": ("the deck is {message}: nothing new starts until `jobdeck release`", "yellow", {}),
    "deck_released": ("the deck is released: jobs start again", "green", {}),
    "taken_over": ("{job}: taken over (attempt {attempt}, job {remote_id} on {executor}, left by a runner "
                   "that is gone)", "yellow", {"job": ""}),
    "remote_cancelled": ("{job}: cancelled its job {remote_id} on {executor} (the attempt was cancelled while "
                         "no runner followed it)", "yellow", {"job": ""}),
    "remote_cancel_failed": ("{job}: could not cancel its job {remote_id} on {executor}: {message}", "red",
                             {"job": ""}),
    "claimed_elsewhere": ("{job} started by another runner, {runner} (attempt {attempt})", "dim", {"job": ""}),
    "left_running": ("{job}: left running on its cluster (attempt {attempt}); the next runner takes it over",
                     "yellow", {"job": ""}),
}


class Reporter:
    """Prints runner events for people (one plain line each) or scripts (--json)."""

    def __init__(self, *, json_lines: bool = False, quiet: bool = False, stream: TextIO | None = None,
                 unprinted: frozenset[str] = frozenset()) -> None:
        self.json_lines = json_lines
        self.quiet = quiet
        self.unprinted = unprinted
        """Record types left out of the lines for people (the command says it in its own last line)."""
        self.stream = stream or sys.stdout
        self.console = None
        self.broken = False
        if not json_lines and not quiet and self.stream.isatty():
            from rich.console import Console

            self.console = Console(file=self.stream, highlight=False)

    def __call__(self, record: Mapping[str, Any]) -> None:
        """Print ``record``; a stream that cannot be written (full disk, closed pipe) is given up, not fatal."""
        if self.broken:
            return
        try:
            self._print(record)
        except (OSError, ValueError) as exc:  # the runner's work matters more than its commentary
            self.broken = True
            try:
                sys.stderr.write(f"jobdeck: cannot write the runner's output ({exc}); running on without it\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    def _print(self, record: Mapping[str, Any]) -> None:
        kind = record.get("type")
        if self.json_lines:
            self.stream.write(json.dumps(dict(record), ensure_ascii=False) + "\n")
            self.stream.flush()
            return
        problem = kind in _PROBLEMS or (kind == "gc" and bool(record.get("errors")))  # what needs the operator
        if (self.quiet and not problem) or kind in self.unprinted:
            return
        line, style = self._describe(record)
        if line is None:
            return
        line = one_line(line)  # reasons and messages come from jobs and validators: never raw to a terminal or a cron mail
        stamp = time.strftime("%H:%M:%S", time.localtime(record.get("ts", time.time())))
        if self.console is not None:
            from rich.markup import escape

            self.console.print(f"[dim]{stamp}[/] [{style}]{escape(line)}[/]" if style else f"[dim]{stamp}[/] {escape(line)}")
        else:
            stream = sys.stderr if problem else self.stream
            stream.write(f"{stamp} {line}\n")
            stream.flush()

    def _describe(self, record: Mapping[str, Any]) -> tuple[str | None, str | None]:
        kind = record.get("type")
        job = record.get("job", "")
        if kind == "runner_started":
            boundary = record.get("boundary")
            why = record.get("boundary_why")
            return (f"runner {record['runner']} started (parallel {record['parallel']}"
                    + (f", boundary {boundary}" if boundary else "")
                    + (f"; {plain_boundary_why(str(why))}" if why else "") + ")"), None
        if kind in ("stopping", "stopping_now"):
            return _stopping_line(record), "yellow"
        if kind == "runner_stopped":
            attempts = record.get("attempts") or 0
            return f"runner {record['runner']} stopped (on {record['by']}; {attempts} " \
                   f"attempt{'s' if attempts != 1 else ''} started)", None
        if kind == "gc":
            from jobdeck.state.sizes import format_size

            removed = f"retention removed {record['removed']} attempt directories ({format_size(record['bytes_freed'])})"
            errors = record.get("errors") or []
            if not errors:
                return removed, "dim"
            more = f" (and {len(errors) - 1} more: `jobdeck gc` names each)" if len(errors) > 1 else ""
            return f"{removed}; {errors[0]['message']}{more}", "red"
        if kind == "decide_mode":  # (state.board.MODE_TYPE)
            lifted = [str(job) for job in record.get("lifted") or []]
            was = f"{record['was']} -> " if record.get("was") else ""
            return (f"decision service: {was}{record.get('mode')}"
                    + (f"; its holds are lifted: {', '.join(lifted[:10])}" + (" ..." if len(lifted) > 10 else "")
                       if lifted else "")), "yellow" if lifted else "dim"
        if kind == SCORED_TYPE:
            said = record.get("why") or f"confidence {record.get('confidence')}"
            return f"scorer {record.get('agent')}: {record.get('outcome')} ({said})", "dim"
        if kind == "notify_failed":
            tries = record.get("tries")
            return (f"sending to {record.get('target')} failed after {tries} {'try' if tries == 1 else 'tries'}: "
                    f"{record.get('message')}"), "red"
        if kind == "secret_plain_word":
            names = [str(name) for name in record.get("names") or []]
            return (f"{', '.join(names)}: referenced as secret{'s' if len(names) > 1 else ''} but "
                    f"{'each holds' if len(names) > 1 else 'holds'} a short plain word, which is redacted from every "
                    f"output it appears in (\"secret\": false in the reference if it is none)"), "yellow"
        if kind == "api_key_plain_word":
            names = [str(name) for name in record.get("names") or []]
            return (f"{', '.join(names)}: an agent's api_key holding a plain word, redacted from every output it "
                    f"appears in; for a server that takes any key, leave api_key out: the provider's SDK reads "
                    f"the variable itself"), "yellow"
        if kind == "well_known_plain_word":
            names = [str(name) for name in record.get("names") or []]
            return (f"{', '.join(names)}: {'well-known credentials' if len(names) > 1 else 'a well-known credential'} "
                    f"holding a plain word, not a key, so not redacted"), "dim"
        note = _NOTES.get(str(kind))
        if note is not None:
            template, style, defaults = note
            return template.format_map(_Fields({**defaults, **record})), style
        if kind == EventType.CLAIMED:
            return f"{job} started (attempt {record.get('attempt')})", "yellow"
        if kind == EventType.DECIDED:  # what the service kept from starting, or warns of; a claim's says nothing more
            reasons = record.get("reasons")
            why = str(reasons[0]) if isinstance(reasons, list) and reasons else str(record.get("needs") or "")
            action = record.get("action")
            if action in ("hold", "defer") and "followed" not in record:  # (a claim's advice: it started anyway)
                from jobdeck.state.board import binding_of
                from jobdeck.state.views import kept_back_words

                action, needs, longest = binding_of(record)  # (of several gates, the one that keeps it back longest)
                return f"{job} {kept_back_words(str(job), action, needs, longest or why)}", "yellow"
            if action == "at_risk":
                return f"{job}: {why}", "yellow"  # "deadline 06:00 UTC at risk: ..."
            if action in ("missed", "overdue"):  # "deadline 06:00 UTC missed 1s ago, not done: ...", "waited 10m..."
                return f"{job}: {why}", "red"
            return None, None
        if kind == EventType.SUCCEEDED:
            if record.get("review"):
                reasons = "; ".join(record.get("reasons") or []) or record.get("reason", "")
                return f"{job} needs review: {reasons}", "magenta"
            return f"{job} done", "green"
        if kind == EventType.FAILED:
            why = record.get("message") or record.get("reason")
            if record.get("retry_at"):
                wait = max(0.0, record["retry_at"] - record.get("ts", time.time()))
                return f"{job} failed ({why}); retry in {wait:.1f}s", "yellow"
            return f"{job} failed: {why}", "red"
        if kind == EventType.INTERRUPTED:
            return f"{job} interrupted ({record.get('reason')})" + ("; will retry" if record.get("retry_at") else "; sent to review"), "magenta"
        if kind == EventType.PROGRESS:
            what = record.get("what")
            if what == "leftovers_stopped":
                count, names = record.get("processes") or 0, ", ".join(map(str, record.get("names") or []))
                return (f"{job}: stopped {count} process{'es' if count != 1 else ''} it left running"
                        + (f" ({names})" if names else "") + " (a job's processes end with it)"), "yellow"
            if what == "fire_skipped":
                return f"{job}: schedule fire skipped ({record.get('reason')})", "dim"
            if what in ("retry", "fallback", "cooldown"):
                return f"{job}: {what} {record.get('model', '')} ({record.get('reason', '')})", "dim"
            remote = record.get("remote")
            if remote == "submitted":
                return f"{job}: submitted to {record.get('executor')} as job {record.get('remote_id')}", "dim"
            if remote == "queued":
                return f"{job}: queued on {record.get('executor')} ({record.get('why')})", "dim"
            if remote == "running":
                return f"{job}: running on {record.get('executor')} ({record.get('node')})", "dim"
            return None, None
        action = ACTION_OF_EVENT.get(str(kind))
        if action is not None and job:  # the operator's hand: what moved the job, or what it set (a pause, a pin)
            by, why = record.get("by"), record.get("reason")
            said = action.event if action.moves else action.done  # "approved"; "pinned to start next"
            return (f"{job} {said}" + (f" by {by}" if by else "") + (f": {why}" if why else ""),
                    None if action.moves else "dim")
        return None, None


def _stopping_line(record: Mapping[str, Any]) -> str:
    """'stopping: waiting up to 10s for 1 running attempt (^C again to stop now)', or what a second signal did."""
    by = record.get("by")
    on = "" if by == "SIGINT" else f" on {by}"
    running = record.get("running") or 0
    attempts = f"{running} running attempt{'s' if running != 1 else ''}"
    if record.get("type") == "stopping_now":
        return f"stopping now{on}: " + (f"stopping {attempts}" if running else "no attempt running")
    again = " (^C again to stop now)" if by == "SIGINT" else ""  # a service manager's SIGTERM: no one to ask
    return f"stopping{on}: waiting up to {record.get('grace', 0):g}s for {attempts}{again}"
