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
import sys
import tempfile
from pathlib import Path

from jobdeck.state.atomic import make_private_dir, write_atomic
from jobdeck.state.deck import Deck
from jobdeck.state.errors import DeckAccessError, EditConflict, JobdeckError, SpecError, deck_access_error
from jobdeck.state.loader import parse_spec
from jobdeck.state.specbytes import read_spec_file
from jobdeck.state.specfile import install, run_editor, writable_spec_file
from jobdeck.state.terminal import one_line

INSTALL_HINT = "check that jobs.json is a regular file you may read and write"
"""The hint of a refused install whose reason has none of its own (jobs.json made a directory, say)."""


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [Y/n] ").strip().lower()
    return answer in ("", "y", "yes")


def _diff(old: bytes, new: bytes, old_name: str, new_name: str) -> None:
    sys.stderr.writelines(difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(True),
        new.decode("utf-8", "replace").splitlines(True),
        old_name, new_name,
    ))


def _private_copy(deck: Deck, base: bytes) -> Path:
    """A copy of jobs.json for the editor, in the deck's state directory (created if the deck has none yet)."""
    try:
        make_private_dir(deck.state_dir)  # a fresh clone holds jobs.json alone
        fd, name = tempfile.mkstemp(prefix="jobs.", suffix=".json", dir=deck.state_dir)
        with os.fdopen(fd, "wb") as f:
            f.write(base)
    except OSError as exc:
        raise deck_access_error(exc, "make a private copy of jobs.json to edit", deck.state_dir) from None
    return Path(name)


def _holds_edits(copy: Path, base: bytes) -> bool:
    """Whether the editor's copy is there with other bytes than ``base`` (one that cannot be read is kept)."""
    try:
        return copy.read_bytes() != base
    except FileNotFoundError:
        return False
    except OSError:
        return True


def edit(deck: Deck) -> int:
    """Edit jobs.json through a private copy; 0 installed or unchanged, 1 not installed."""
    base = read_spec_file(deck.spec_path)
    writable_spec_file(deck)  # before any editing: a read-only jobs.json would refuse it at the end
    copy = _private_copy(deck, base)
    while True:
        try:
            run_editor(copy)
        except JobdeckError as exc:  # no editor, it failed, or its copy went: keep the copy only if it holds edits
            if not _holds_edits(copy, base):
                copy.unlink(missing_ok=True)
                raise JobdeckError(f"{exc.message}; nothing was installed", hint=exc.hint) from None
            raise JobdeckError(f"{exc.message}; nothing was installed, your copy is kept at {copy}",
                               hint=exc.hint) from None
        edited = copy.read_bytes()
        if edited == base:
            copy.unlink()
            print("no changes")
            return 0
        try:
            parse_spec(edited, str(copy))
        except SpecError as exc:
            print(f"jobdeck: {one_line(str(exc))}", file=sys.stderr)
            if _ask("jobs.json is not valid; edit again?"):
                continue
            print(f"nothing installed; your copy is kept at {copy}", file=sys.stderr)
            return 1
        try:
            install(deck, base, edited)
        except (DeckAccessError, OSError) as exc:  # made read-only, or its disk full, while it was being edited
            error = exc if isinstance(exc, DeckAccessError) else deck_access_error(exc, "install jobs.json",
                                                                                   deck.spec_path)
            raise DeckAccessError(f"{error.message}; nothing installed, your copy is kept at {copy}",
                                  hint=error.hint or INSTALL_HINT) from None
        except EditConflict as exc:
            current = deck.spec_path.read_bytes()
            print(f"jobdeck: {one_line(str(exc))}", file=sys.stderr)
            _diff(base, current, "jobs.json (when you started)", "jobs.json (now on disk)")
            _diff(base, edited, "jobs.json (when you started)", "your version")
            if _ask("edit again, starting from the file on disk (re-apply your changes shown above)?"):
                kept = copy.with_name(copy.stem + ".yours.json")
                write_atomic(kept, edited)
                print(f"your version is kept at {kept}", file=sys.stderr)
                copy.write_bytes(current)  # re-editing the old base would undo the save on disk
                base = current
                continue
            print(f"nothing installed; your copy is kept at {copy}", file=sys.stderr)
            return 1
        copy.unlink()
        print(f"installed {deck.spec_path}")
        return 0
