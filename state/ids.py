"""The one rule for names that become paths: job ids and workspace names."""

from __future__ import annotations

import re
from collections.abc import Iterable

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)


def env_suffix(job_id: str) -> str:
    """A job id made into an environment variable suffix: ``news-signals`` -> ``NEWS_SIGNALS``."""
    return re.sub(r"[^A-Za-z0-9]", "_", job_id).upper()


def closest_id(name: str, declared: Iterable[str]) -> str | None:
    """The declared id ``name`` was likely meant as: one differing only in case, else the closest by difflib."""
    declared = list(declared)
    same = [known for known in declared if known.lower() == name.lower()]
    if same:
        return same[0]
    import difflib  # (only for a mistake)

    close = difflib.get_close_matches(name, declared, n=1)
    return close[0] if close else None
