"""`jobdeck notify test [TARGET]`: send a test message to the deck's alert targets, and say how it went."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jobdeck.cli.main import examples_section

if TYPE_CHECKING:
    from jobdeck.runner.notifier import Notifier
    from jobdeck.runner.senders import Send
    from jobdeck.state.spec import NotifyTarget


def add_parser(command: Any) -> None:
    """Declare `notify` with the parser's ``command`` helper."""
    description = ("Send one test message to every target in jobs.json's \"notify\" section (or to TARGET),\n"
                   "the way the runner sends alerts: the URL from its environment variable, redacted,\n"
                   "with the target's timeout and retries. One line per target; exit 1 if any failed.")
    examples = ["NTFY_URL=ntfy://ntfy.sh/my-topic jobdeck notify test phone",
                "jobdeck notify test --json | jq '.targets | map_values(.ok)'"]
    p = command("notify", "send a test alert to the targets of jobs.json's notify section", description,
                examples=examples)
    p.add_argument("--json", action="store_true", help="the result as one JSON object (also after `test`)")
    actions = p.add_subparsers(dest="what", metavar="test", required=True,
                               help="what to do (test: send a test message)")
    test = actions.add_parser("test", help="send a test message", description=description,
                              epilog=examples_section(examples),
                              formatter_class=p.formatter_class)
    test.add_argument("target", nargs="?", metavar="TARGET", help="only this target (default: all)")
    test.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                      help="the result as one JSON object: ok, targets (ok and error each), error")
    p.set_defaults(handler="jobdeck.cli.notify:cmd_notify")


def cmd_notify(args: argparse.Namespace) -> int:
    """Exit 0 when every target took the message, 1 when one did not (or there are none), 2 for a bad TARGET."""
    from jobdeck.state.errors import JobdeckError

    try:
        return _test(args)
    except JobdeckError as exc:
        if not args.json:
            raise
        _print_json({}, str(exc))
        return exc.exit_code


def _print_json(results: dict[str, str | None], error: str | None) -> None:
    import json

    from jobdeck.state.terminal import one_line

    sys.stdout.write(json.dumps({"ok": error is None and all(why is None for why in results.values()),
                                 "targets": {name: {"ok": why is None, "error": why} for name, why in results.items()},
                                 "error": one_line(error) if error is not None else None}, indent=2) + "\n")


def _test(args: argparse.Namespace) -> int:
    import os
    import socket

    from jobdeck.runner.notifier import Notifier
    from jobdeck.state.deck import find_deck
    from jobdeck.state.errors import JobdeckError, SpecError
    from jobdeck.state.loader import load_spec
    from jobdeck.state.notify_rules import Alert, message
    from jobdeck.state.redact import Redactor
    from jobdeck.state.terminal import one_line

    deck = find_deck(args.deck)
    spec = load_spec(deck.spec_path).spec
    targets = spec.notify.targets
    if not targets:
        raise SpecError("no alert targets: jobs.json has no notify.targets", path=str(deck.spec_path),
                        field="notify", hint='add {"notify": {"targets": {"phone": {"url": {"env": "NTFY_URL"}}}}}')
    if args.target is not None and args.target not in targets:
        raise JobdeckError(f"no target '{args.target}' in notify.targets of {deck.spec_path}",
                           hint=f"choose from {', '.join(targets)}")
    redactor = Redactor.for_spec(spec, os.environ)
    notifier = Notifier(str(deck.root), os.environ, redactor)
    now = time.time()
    alert = Alert("test", "test", f"test message from jobdeck at {socket.gethostname()}, deck {deck.root}: "
                                  "alerts reach this target", None, now)
    send = notifier.safe(message([alert]))  # titled "jobdeck news: test"
    results: dict[str, str | None] = {}
    for name, target in targets.items():
        if args.target is not None and name != args.target:
            continue
        worker_deliver = _deliverer(notifier, name, target)
        if isinstance(worker_deliver, str):
            results[name] = worker_deliver
            continue
        why: str | None = "not sent"
        for attempt in range(target.retries + 1):
            if attempt:
                time.sleep(min(2.0 ** (attempt - 1), 30.0))
            why = worker_deliver(send, target.timeout)
            if why is None:
                break
        results[name] = None if why is None else redactor.text(why)
    if args.json:
        _print_json(results, None)
    else:
        for name, why in results.items():
            print(one_line(f"{name}: sent" if why is None else f"{name}: failed: {why}"))
    return 0 if all(why is None for why in results.values()) else 1


def _deliverer(notifier: Notifier, name: str, target: NotifyTarget) -> Callable[[Send, float], str | None] | str:
    """The target's deliver function, or why there is none (an unset variable)."""
    from jobdeck.runner.senders import apprise_sender, command_sender

    if target.url is not None:
        url = notifier.environ.get(target.url.env)
        if not url:
            return f"environment variable {target.url.env} is not set (notify.targets.{name}.url)"
        return apprise_sender(url)
    return command_sender(list(target.command or ()), notifier.environ, notifier.deck_root)
