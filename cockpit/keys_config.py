"""The operator's own keys: ``~/.config/jobdeck/keys.toml`` remaps the cockpit's actions.

    [keys]
    approve = "ctrl+a"
    pause = "space"

Each name is a binding id (``KEYS``); each value a Textual key string ("x",
"ctrl+x", "f5", several separated by commas). Textual applies them over the
defaults (``App.set_keymap``), so the footer's hints follow; the help screen
lists what was remapped. A file that cannot be read or names an unknown action
is said in one line in the cockpit, and the defaults stay.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

KEYS = ("approve", "retry", "cancel", "reject", "pause", "trigger", "why", "output", "copy_id", "copy_path", "pin",
        "hold", "release", "edit", "new_job", "filter", "review", "stats", "cancelled", "accept", "quit", "help",
        "undo")
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
