"""What a cached verdict depends on besides its input: the code that gave it and the environment it ran in.

`.jobdeck/spec.ok` (state/lightspec.py) and `.jobdeck/cards.jsonl` (state/cardcache.py) record
both, and are believed only where both are the same. Each is taken once per process, and by
any process that validates as it loads the loader (state/loader.py): the verdict it marks is
the one the code and environment it loaded gave, even if either changed on disk since.
"""

from __future__ import annotations

import os
import site
import sys
from functools import lru_cache
from pathlib import Path

from jobdeck.state.digest import sha256_hex


@lru_cache(maxsize=1)
def code_stamp() -> str:
    """Changes whenever a module of state/ does (the fold, the loader, the cards...): a scan of
    state/, ~0.25 ms, once per process."""
    here = Path(__file__).parent
    try:
        stamps = sorted(f"{entry.name}:{entry.stat().st_mtime_ns}" for entry in os.scandir(here)
                        if entry.name.endswith(".py"))
    except OSError:
        return "-"
    return sha256_hex("\n".join(stamps).encode())[:16]


ZONEINFO_DIRS = ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo", "/etc/zoneinfo")
"""Where zoneinfo finds time zones on Linux unless PYTHONTZPATH says otherwise."""
DISTRIBUTIONS = (".dist-info", ".egg-info")


@lru_cache(maxsize=1)
def environment_stamp() -> str:
    """Changes when what the loader's verdict depends on beyond jobdeck's own code may have: the
    packages this process can import and their entry points (pydantic, croniter, tzdata, agent
    plugins), and the time zones. Directory times and names, not contents; no imports.

    Every entry of the import path counts, as this process has it (`python -m` puts the working
    directory first; -E, -s and -I leave entries out; .pth files add some). A site-packages or
    PYTHONPATH directory counts by its time, which an install or removal changes; any other (the
    working directory, the script's, the standard library) by the distributions it holds, if any,
    so that working in a busy directory does not make every verdict stale. Time zones count by the
    times of the zone directories and of the folders in them (Europe/, America/...).
    """
    sites = {*getattr(site, "getsitepackages", list)(), getattr(site, "getusersitepackages", str)()}
    pythonpath = [place for place in os.environ.get("PYTHONPATH", "").split(os.pathsep) if place]
    seen = [os.environ.get("PYTHONPATH", ""), os.environ.get("PYTHONTZPATH", "")]
    for entry in sys.path:
        entry = entry or _working_directory()  # `python -c` and `python -m` put it first, as '' and by name
        if entry in sites or entry in pythonpath or not os.path.isdir(entry or "."):
            seen.append(_time_of(entry))
        else:  # by what it holds, not where it is: `python -m` from any plain directory is one environment
            seen += [_time_of(os.path.join(entry, found.name)) for found in _scan(entry or ".")
                     if found.name.endswith(DISTRIBUTIONS)]
    zones = os.environ.get("PYTHONTZPATH", "").split(os.pathsep) if "PYTHONTZPATH" in os.environ else ZONEINFO_DIRS
    for place in zones:
        seen.append(_time_of(place))
        seen += [_time_of(found.path) for found in _scan(place) if found.is_dir(follow_symlinks=False)]
    return sha256_hex("\n".join(seen).encode())[:12]


def _time_of(place: str) -> str:
    try:
        return f"{place}:{os.stat(place).st_mtime_ns}" if place else ""
    except OSError:
        return f"{place}:-"


def _scan(place: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(place) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError:
        return []


def _working_directory() -> str:
    try:
        return os.getcwd()
    except OSError:  # removed under us
        return "."
