"""The operator's own keys: ``~/.config/jobdeck/keys.toml`` remaps the cockpit's actions.

    [keys]
    approve = "ctrl+a"
    pause = "space"

Each name is a binding id (``KEYS``); each value a Textual key string ("x",
"ctrl+x", "f5", several separated by commas). Textual applies them over the
defaults (``App.set_keymap``), so the footer's hints follow; the help screen
lists what was remapped. A file that cannot be read or names an unknown action
is said in one line in the cockpit, and the defaults stay; so is a remap onto a
key another binding has, which Textual would settle silently by dropping one.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.keys import key_to_character

if TYPE_CHECKING:
    from textual.app import App

KEYS = ("approve", "retry", "cancel", "reject", "pause", "trigger", "why", "output", "stderr_output", "copy_id",
        "copy_path", "pin", "hold", "release", "hold_deck", "edit", "new_job", "filter", "review", "stats", "cancelled",
        "accept", "quit", "help", "undo")
"""The actions a keys file may remap (the ids of the cockpit's bindings)."""


def keys_path() -> Path:
    """$JOBDECK_KEYS, else $XDG_CONFIG_HOME/jobdeck/keys.toml, else ~/.config/jobdeck/keys.toml."""
    explicit = os.environ.get("JOBDECK_KEYS")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jobdeck" / "keys.toml"


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """(binding id -> keys, problems), from the keys file; no file is no remapping and no problem."""
    path = path or keys_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{path}: not read ({exc}); the default keys apply"]
    table = data.get("keys", {})
    if not isinstance(table, dict):
        return {}, [f"{path}: [keys] must be a table of action = \"key\"; the default keys apply"]
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for name, keys in table.items():
        if name not in KEYS:
            problems.append(f"{path}: no action {name!r} (actions: {', '.join(KEYS)})")
        elif not isinstance(keys, str) or not keys.strip():
            problems.append(f"{path}: {name} must be a key string like \"ctrl+a\"")
        else:
            keymap[name] = keys.strip()
    return keymap, problems


def key_chains(app: type[App[object]]) -> list[list[Binding]]:
    """The default bindings one key press is matched against, one list per screen with job keys: its focused
    widget's, its own and the app's (a dialog's keys are matched apart), the cockpit's own before Textual's."""
    from textual.containers import VerticalScroll
    from textual.widgets import DataTable

    from jobdeck.cockpit.board_screen import BoardScreen
    from jobdeck.cockpit.card_table import CardTable
    from jobdeck.cockpit.detail_screen import DetailScreen
    from jobdeck.cockpit.review_screen import ReviewScreen

    def bindings(*classes: type) -> list[Binding]:
        ancestry = [klass for cls in classes for klass in cls.__mro__]
        ordered = sorted(ancestry, key=lambda klass: not klass.__module__.startswith("jobdeck."))  # stable
        return [binding for klass in ordered for binding in Binding.make_bindings(vars(klass).get("BINDINGS", ()))]

    palette = Binding(app.COMMAND_PALETTE_BINDING, "command_palette", "palette")
    return [bindings(CardTable, BoardScreen, app) + [palette], bindings(VerticalScroll, DetailScreen, app) + [palette],
            bindings(DataTable, ReviewScreen, app) + [palette]]


def clashes(keymap: Mapping[str, str], chains: Iterable[Sequence[Binding]], path: Path | None = None) -> list[str]:
    """One line for each remap onto a key that another binding of the same screen has (``retry = "q"``).

    Only one binding can answer a key press, so Textual drops one of them without a word
    (with ``retry = "q"``, q no longer quits); the operator should hear of it.
    """
    path = path or keys_path()
    said: set[tuple[str, str]] = set()  # (action, key) already named in a line
    problems: list[str] = []
    for chain in chains:
        keys_of = [(binding, _keys(keymap[binding.id] if binding.id in keymap else binding.key)) for binding in chain]
        for binding, keys in keys_of:
            if binding.id not in keymap:
                continue
            for key in sorted(keys):
                if (binding.id, key) in said:
                    continue
                others = [_name(other) for other, other_keys in keys_of if other.id != binding.id and key in other_keys]
                if not others:
                    continue
                # the actions keys.toml names, else the first binding (the cockpit's own come before Textual's)
                names = list(dict.fromkeys(name for name in others if name in KEYS)) or others[:1]
                said |= {(name, key) for name in [binding.id, *names]}
                problems.append(f'{path}: {binding.id} = "{keymap[binding.id]}" takes {key}, which '
                                f"{' and '.join(names)} {'have' if len(names) > 1 else 'has'} too: "
                                "only one of them works by that key")
    return problems


def _keys(keys: str) -> set[str]:
    """A binding's keys, each as the character it types where it types one ("question_mark" and "?" are one key)."""
    return {key_to_character(key) or key for key in (key.strip() for key in keys.split(",")) if key}


def _name(binding: Binding) -> str:
    """How the operator knows a binding: its keys.toml name, else what it does."""
    if binding.id in KEYS:
        return binding.id
    return binding.description or binding.action.rpartition(".")[2]
