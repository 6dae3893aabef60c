"""The one rule for names that become paths: job ids and workspace names."""

from __future__ import annotations

import re

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)


def env_suffix(job_id: str) -> str:
    """A job id made into an environment variable suffix: ``news-signals`` -> ``NEWS_SIGNALS``."""
    return re.sub(r"[^A-Za-z0-9]", "_", job_id).upper()
