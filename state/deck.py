"""Where a deck lives on disk and how to find it; every path is checked to stay inside.

Layout::

    <deck>/jobs.json                      the spec (people write it)
    <deck>/.jobdeck/lock                  the one lock file
    <deck>/.jobdeck/format                the deck's on-disk format (DECK_FORMAT), and which jobdeck wrote it
    <deck>/.jobdeck/events.jsonl          the chain of work (state)
    <deck>/.jobdeck/log/events-<seq>.jsonl[.gz]  its closed segments (state/segments.py)
    <deck>/.jobdeck/board.json            derived snapshot for scripts
    <deck>/.jobdeck/checkpoints/          the snapshot at each closed segment's end (state/checkpoints.py)
    <deck>/.jobdeck/runners/<id>.json     runner heartbeats
    <deck>/workspaces/<ws>/inbox/         drop files here to trigger jobs
    <deck>/workspaces/<ws>/runs/<job>/<n>/  one directory per attempt
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from jobdeck.state.atomic import DIR_MODE, FILE_MODE, make_private_dir, write_atomic
from jobdeck.state.attempts import RUNS
from jobdeck.state.errors import AttemptRefused, DeckNotFound, JobdeckError, StateError, deck_access_error
from jobdeck.state.ids import ID_RE

SPEC_NAME = "jobs.json"
STATE_NAME = ".jobdeck"
ENV_VAR = "JOBDECK_DECK"
DECK_FORMAT = 2
"""The on-disk format this jobdeck reads and writes: 1, the chain of work in one file; 2, in segments
(state/segments.py). A deck records it in .jobdeck/format when it is made or first written to; one that
records a higher format was written by a newer jobdeck, whose records this one could fold wrongly (a job
done run again, a paused one started), so every command refuses it (``check_format``). A change to what
the log or the state directory means, one an older jobdeck would misread, raises this number."""
FORMAT_NAME = "format"


def check_name(value: str, what: str) -> str:
    """``value`` if it is a safe job id / workspace name, else a JobdeckError."""
    if not isinstance(value, str) or not ID_RE.fullmatch(value):  # match() lets "$" pass a trailing newline
        raise JobdeckError(
            f"invalid {what} {value!r}",
            hint="use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


class Deck:
    """A deck directory: its paths and nothing else (no I/O beyond path checks)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.spec_path = self.root / SPEC_NAME
        self.state_dir = self.root / STATE_NAME
        self.lock_path = self.state_dir / "lock"
        self.events_path = self.state_dir / "events.jsonl"
        self.board_path = self.state_dir / "board.json"
        self.runners_dir = self.state_dir / "runners"
        self.format_path = self.state_dir / FORMAT_NAME
        self.workspaces_dir = self.root / "workspaces"
        self._workspaces: dict[str, Path] = {}

    def __repr__(self) -> str:
        return f"Deck({str(self.root)!r})"

    def inside(self, path: Path) -> Path:
        """``path`` resolved, if it stays inside the deck; JobdeckError otherwise."""
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise JobdeckError(f"path {path} leaves the deck {self.root}")
        return resolved

    def workspace_dir(self, workspace: str) -> Path:
        """workspaces/<name>, checked (symlinks included) to stay inside the deck.

        Raises AttemptRefused for one that leads out of it: no attempt is written there.
        """
        found = self._workspaces.get(workspace)
        if found is None:
            link = self.workspaces_dir / check_name(workspace, "workspace name")
            try:
                found = self.inside(link)
            except JobdeckError:
                raise AttemptRefused(f"workspace '{workspace}' leads outside the deck, to {link.resolve()}",
                                     hint=f"make {link} a directory inside the deck") from None
            self._workspaces[workspace] = found
        return found

    def inbox_dir(self, workspace: str) -> Path:
        return self.workspace_dir(workspace) / "inbox"

    def job_runs_dir(self, workspace: str, job: str) -> Path:
        # A checked name is one path component that cannot be "." or "..", so joining
        # it under a checked workspace cannot leave the deck.
        return self.workspace_dir(workspace) / RUNS / check_name(job, "job id")

    def attempt_dir(self, workspace: str, job: str, attempt: int) -> Path:
        # A path to show and to read through; jobdeck writes there only through
        # descriptors that follow no link (state/attempt_dirs.py).
        return self.job_runs_dir(workspace, job) / str(int(attempt))

    def attempt_dir_as_named(self, workspace: str, job: str, attempt: int) -> Path:
        """Where the attempt directory is named, links not followed (for messages, and where
        ``attempt_dir`` refuses a workspace that leads out of the deck)."""
        return self.workspaces_dir / workspace / RUNS / job / str(int(attempt))

    def ensure_state_dirs(self) -> None:
        """Create the state directory tree if missing (0700), marked with this jobdeck's format."""
        make_private_dir(self.state_dir)
        make_private_dir(self.runners_dir)
        make_private_dir(self.workspaces_dir)
        mark_format(self)


def deck_format(deck: Deck) -> tuple[int, str] | None:
    """(format, the jobdeck that wrote it) from .jobdeck/format; None for a deck not marked (format 1, or new).

    DeckAccessError if the system will not let it be read; StateError if it is not a format marker.
    """
    try:
        data = deck.format_path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise deck_access_error(exc, "read the deck's format", deck.format_path) from None
    if not data.strip():
        return None  # (a marker cut short as it was first written, by a crash: written again by the next write)
    try:
        marker = json.loads(data)
        number, written_by = marker["format"], marker.get("written_by", "another jobdeck")
        if type(number) is not int or number < 1 or not isinstance(written_by, str):
            raise ValueError
    except (ValueError, TypeError, KeyError):
        raise StateError(f"{deck.format_path} is not a deck format marker",
                         hint=f'put back {{"format": {DECK_FORMAT}}} if this jobdeck made the deck; '
                              "else run the jobdeck that wrote it") from None
    return number, written_by


def check_format(deck: Deck) -> None:
    """StateError if a newer jobdeck wrote the deck in a format this one does not know."""
    found = deck_format(deck)
    if found is not None and found[0] > DECK_FORMAT:
        from jobdeck import __version__
        from jobdeck.state.terminal import one_line

        raise StateError(
            f"{deck.root} is in deck format {found[0]}, written by {one_line(found[1])}; "
            f"this jobdeck ({__version__}) knows formats up to {DECK_FORMAT}",
            hint="upgrade jobdeck to the version that wrote it: an older one could fold its records wrongly")


def mark_format(deck: Deck) -> None:
    """Record DECK_FORMAT in .jobdeck/format if it holds a lower one or none; the caller is about to write the
    deck (and may: the deck lock refuses a user who does not own the state directory)."""
    found = deck_format(deck)
    if found is not None and found[0] >= DECK_FORMAT:
        return
    from jobdeck import __version__

    try:
        write_atomic(deck.format_path, f'{{"format": {DECK_FORMAT}, "written_by": "jobdeck {__version__}"}}\n'
                     .encode())  # (durable: once in a deck's life)
    except OSError:
        pass  # a guard for later, not this command's work: the write it is about to do says what is wrong


def find_deck(explicit: str | os.PathLike[str] | None = None, *,
              cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Deck:
    """The deck from ``--deck``, then $JOBDECK_DECK, then the nearest ancestor with jobs.json."""
    environ = os.environ if environ is None else environ
    for source, value in (("--deck", explicit), (ENV_VAR, environ.get(ENV_VAR))):
        if value:
            root = Path(value).expanduser()
            if not _holds_spec(root):
                if root.exists() and not root.is_dir():
                    raise DeckNotFound(f"{source} {root}: not a directory",
                                       hint=f"a deck is the directory that holds {SPEC_NAME}")
                _refuse_unusable_spec(root, source)
                raise DeckNotFound(
                    f"{source} {root}: no {SPEC_NAME} there",
                    hint=f"create one with `jobdeck init {root}`",
                )
            deck = Deck(root)
            check_format(deck)
            return deck
    here = (cwd or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if _holds_spec(directory):
            deck = Deck(directory)
            check_format(deck)
            return deck
        _refuse_unusable_spec(directory, None)
    raise DeckNotFound(
        f"not inside a deck (no {SPEC_NAME} in {here} or any parent)",
        hint="run `jobdeck init` here, or pass --deck DIR / set JOBDECK_DECK",
    )


def _holds_spec(directory: Path) -> bool:
    """Whether ``directory`` has a jobs.json; DeckAccessError if the system will not say."""
    try:
        return (directory / SPEC_NAME).is_file()
    except OSError as exc:  # not "no such file": e.g. a directory on the path that cannot be searched
        raise deck_access_error(exc, "look for the deck", directory / SPEC_NAME) from None


def _unusable_spec(directory: Path) -> str | None:
    """What is wrong with a ``jobs.json`` entry in ``directory`` that is not a readable file, if there is one:
    a link to nothing, a directory, a FIFO (None: no such entry, or a regular file)."""
    path = directory / SPEC_NAME
    try:
        os.lstat(path)
    except OSError:
        return None
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return f"{path} is a link to {os.readlink(path)}, which does not exist"
    except OSError:
        return None  # (what the system will not say, reading it says in full)
    if stat.S_ISREG(found.st_mode):
        return None
    return f"{path} is {'a directory' if stat.S_ISDIR(found.st_mode) else 'not a regular file'}"


def _refuse_unusable_spec(directory: Path, source: str | None) -> None:
    problem = _unusable_spec(directory)
    if problem is not None:
        raise DeckNotFound(f"{source}: {problem}" if source else problem,
                           hint=f"make {SPEC_NAME} a file (or a link to one); `jobdeck init` will not replace it")


def init_deck(root: Path, example: bytes) -> Deck:
    """Create a deck at ``root`` with ``example`` as its jobs.json; refuse to overwrite one (or a link)."""
    deck = Deck(root)
    if deck.root.exists() and not deck.root.is_dir():
        raise JobdeckError(f"{deck.root} is a file, not a directory", hint="a deck is a directory: name a new one")
    problem = _unusable_spec(deck.root)
    if problem is not None:
        raise JobdeckError(problem, hint="restore what it stands for, or remove it to start a new deck here")
    if deck.spec_path.exists():
        raise JobdeckError(f"{deck.spec_path} already exists", hint="this is already a deck")
    if not deck.root.exists():
        make_private_dir(deck.root)
        os.chmod(deck.root, DIR_MODE)  # the deck's own directory: private (an existing one is left as it is)
    deck.ensure_state_dirs()
    make_private_dir(deck.inbox_dir("default"))
    deck.lock_path.touch(mode=FILE_MODE, exist_ok=True)
    write_atomic(deck.spec_path, example)
    return deck
