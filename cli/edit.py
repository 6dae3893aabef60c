"""`jobdeck edit`: the crontab -e / visudo pattern for jobs.json.

The editor works on a private copy. On exit the copy is validated; an invalid
copy is offered for re-editing. A valid copy is installed only if jobs.json
still holds the bytes the edit started from; otherwise the user sees what
changed on disk and may edit again on top of the new file. Nothing is lost:
the edited copy is kept until it is installed.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from state.deck import Deck
from state.errors import EditConflict, JobdeckError, SpecError
from state.loader import parse_spec
from state.specfile import install


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [Y/n] ").strip().lower()
    return answer in ("", "y", "yes")


def _run_editor(path: Path) -> None:
    from cli.commands import environ_editor

    argv = [*environ_editor(), str(path)]
    try:
        code = subprocess.call(argv)
    except FileNotFoundError:
        raise JobdeckError(f"editor not found: {argv[0]}", hint="set $EDITOR, e.g. EDITOR=nano") from None
    if code != 0:
        raise JobdeckError(f"the editor exited with code {code}; nothing was installed",
                           hint=f"your copy is kept at {path}")


def edit(deck: Deck) -> int:
    base = deck.spec_path.read_bytes()
    fd, name = tempfile.mkstemp(prefix="jobs.", suffix=".json", dir=deck.state_dir)
    copy = Path(name)
    with os.fdopen(fd, "wb") as f:
        f.write(base)
    while True:
        _run_editor(copy)
        edited = copy.read_bytes()
        if edited == base:
            copy.unlink()
            print("no changes")
            return 0
        try:
            parse_spec(edited, str(copy))
        except SpecError as exc:
            print(f"jobdeck: {exc}", file=sys.stderr)
            if _ask("jobs.json is not valid; edit again?"):
                continue
            print(f"nothing installed; your copy is kept at {copy}", file=sys.stderr)
            return 1
        try:
            install(deck, base, edited)
        except EditConflict as exc:
            current = deck.spec_path.read_bytes()
            print(f"jobdeck: {exc}", file=sys.stderr)
            sys.stderr.writelines(difflib.unified_diff(
                base.decode("utf-8", "replace").splitlines(True),
                current.decode("utf-8", "replace").splitlines(True),
                "jobs.json (when you started)", "jobs.json (now on disk)",
            ))
            if _ask("edit again, starting from the file on disk (your version is shown in the diff above)?"):
                base = current
                continue
            print(f"nothing installed; your copy is kept at {copy}", file=sys.stderr)
            return 1
        copy.unlink()
        print(f"installed {deck.spec_path}")
        return 0
