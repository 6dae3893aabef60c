"""Shell completion: commands and options from the parser, job ids, workspaces and labels from the deck.

`jobdeck completion bash|zsh|fish` prints the shell code (argcomplete's). On
each Tab the shell runs `jobdeck` again with ``_ARGCOMPLETE`` set; ``console``
then hands the command line to ``complete``, which answers and exits before any
command runs. An operator action completes only the ids it applies to now, by
the test ``act`` refuses by (``state.actions.refusal``): `jobdeck approve <Tab>`
offers the jobs that wait for approval or review. A deck that cannot be read
(none here, jobs.json broken, no permission) completes nothing rather than
printing an error into the operator's command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from jobdeck.state.errors import JobdeckError

if TYPE_CHECKING:
    from jobdeck.state.board import Board
    from jobdeck.state.deck import Deck
    from jobdeck.state.lightspec import LightSpec
    from jobdeck.state.spec import Spec

SHELLS = ("bash", "zsh", "fish")

#: Commands whose ids are any job's; the operator actions' are filtered by ``refusal`` instead.
ANY_JOB = frozenset({"show", "logs", "rm", "events", "why", "decisions", "stats"})

Completer = Callable[..., Iterable[str]]


def cmd_completion(args: argparse.Namespace) -> int:
    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["jobdeck"], shell=args.shell))
    return 0


def complete() -> None:
    """Answer the shell's completion request (``_ARGCOMPLETE`` set) and exit the process."""
    import argcomplete

    from jobdeck.cli.main import build_parser

    parser = build_parser()
    attach(parser)
    # options when a '-' is typed: `jobdeck approve <Tab>` offers the ids alone
    argcomplete.autocomplete(parser, always_complete_options=False)  # answers on the shell's descriptor, exits


def attach(parser: argparse.ArgumentParser) -> None:
    """Give the parser's arguments that name jobs, workspaces, labels, agents or statuses their completers."""
    from argcomplete import DirectoriesCompleter

    from jobdeck.state.actions import ACTIONS

    options: dict[str, Completer] = {"--job": _ids(None), "--depends-on": _ids(None), "--workspace": _workspaces,
                                     "--label": _labels, "--agent": _agents, "--status": _statuses,
                                     "--deck": DirectoriesCompleter()}
    commands = next(action.choices for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    for name, command in [("", parser), *commands.items()]:
        for argument in command._actions:
            if not argument.option_strings and argument.dest == "id" and (name in ANY_JOB or name in ACTIONS):
                argument.completer = _ids(name if name in ACTIONS else None)  # type: ignore[attr-defined]
            for option in argument.option_strings:
                if option in options:
                    argument.completer = options[option]  # type: ignore[attr-defined]


def _ids(action: str | None) -> Completer:
    """Job ids, those ``action`` applies to now when it is an operator action's name, less those typed already."""

    def ids(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
        read = _read(parsed_args, board=action is not None)
        if read is None:
            return []
        deck, spec, board = read
        typed = getattr(parsed_args, "id", None)
        typed = set(typed) if isinstance(typed, list) else set()
        found = [job.id for job in spec.jobs if job.id.startswith(prefix) and job.id not in typed]
        if action is None or board is None:
            return found
        from jobdeck.state.actions import ACTIONS, refusal, trigger_refusal

        if action == "trigger":  # act refuses a cycle that would overlap a running job: the job, or downstream
            return [job for job in found if trigger_refusal(spec.dependencies, board, job) is None]
        return [job for job in found
                if refusal(ACTIONS[action], spec.job(job), board.state(job), board=board) is None]

    return ids


def _workspaces(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    read = _read(parsed_args, board=False)
    if read is None:
        return []
    deck, spec, _board = read
    names = {job.workspace for job in spec.jobs}
    try:
        names.update(entry.name for entry in deck.workspaces_dir.iterdir() if entry.is_dir())
    except OSError:
        pass
    return sorted(name for name in names if name.startswith(prefix))


def _labels(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    read = _read(parsed_args, board=False)
    if read is None:
        return []
    return sorted({label for job in read[1].jobs for label in job.labels if label.startswith(prefix)})


def _agents(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """The agents jobs.json declares, and the built-in ones (their types)."""
    from jobdeck.state.spec import BUILTIN_AGENT_TYPES

    names = set(BUILTIN_AGENT_TYPES)
    read = _read(parsed_args, board=False)
    if read is not None:
        try:
            data = json.loads(read[0].spec_path.read_bytes())
        except (OSError, ValueError):
            data = None
        agents = data.get("agents") if isinstance(data, dict) else None
        if isinstance(agents, dict):
            names.update(name for name in agents if isinstance(name, str))
    return sorted(name for name in names if name.startswith(prefix))


def _statuses(prefix: str, **_: Any) -> list[str]:
    """A column, or one more after the commas typed (``--status review,fa<Tab>``)."""
    from jobdeck.cli.main import STATUSES

    done, _, last = prefix.rpartition(",")
    chosen = set(done.split(",")) if done else set()
    return [f"{done},{name}" if done else name for name in STATUSES if name.startswith(last) and name not in chosen]


def _read(parsed_args: argparse.Namespace, *, board: bool) -> tuple[Deck, Spec | LightSpec, Board | None] | None:
    """The deck named on the command line (or found as every command finds it), its jobs, and with ``board``
    its board; None when any of them cannot be read."""
    from jobdeck.cli.commands import _read_spec, _store
    from jobdeck.state.deck import find_deck

    try:
        deck = find_deck(getattr(parsed_args, "deck", None))
        if not deck.state_dir.is_dir():  # a deck nothing has run in: a Tab makes no .jobdeck/ (nor marks jobs.json)
            from jobdeck.state.board import Board
            from jobdeck.state.loader import load_spec

            return deck, load_spec(deck.spec_path).spec, Board() if board else None  # (every job in the backlog)
        spec, _digest = _read_spec(deck, quiet=True)  # (jobs.json mid-edit: its last valid version's ids)
        if not board:
            return deck, spec, None
        with _store(deck) as store:
            return deck, spec, store.board
    except (JobdeckError, OSError, ValueError):
        return None
