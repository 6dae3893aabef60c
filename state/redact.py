"""Keep secrets out of everything jobdeck writes: events, logs, outputs.

Secrets are the values of environment variables whose names look secret
(``*_KEY``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``...) plus any variable a spec
references with ``{"env": NAME}``. Every occurrence is replaced by
``[REDACTED:NAME]`` before a byte reaches disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|PRIVATE)", re.IGNORECASE)
# Locations, not secrets: TIKTOKEN_CACHE_DIR, SSH_AUTH_SOCK, GOOGLE_APPLICATION_CREDENTIALS (a path)...
_LOCATION_NAME = re.compile(r"(_DIR|_PATH|_FILE|_SOCK|_HOME|_URL)$|^(PATH|HOME|PWD|SHELL)$", re.IGNORECASE)
MIN_SECRET_LENGTH = 6


class Redactor:
    """Replaces known secret values in text and bytes."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        values = {v: k for k, v in secrets.items() if v and len(v) >= MIN_SECRET_LENGTH}
        self._names = values
        self._pattern = (
            re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
            if values else None
        )
        self._bytes_pattern = (
            re.compile(b"|".join(re.escape(v.encode()) for v in sorted(values, key=len, reverse=True)))
            if values else None
        )
        self._bytes_marks = {v.encode(): f"[REDACTED:{k}]".encode() for v, k in values.items()}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None,
                     referenced: Iterable[str] = ()) -> Redactor:
        """Secrets from the environment: secret-looking names and ``referenced`` names."""
        environ = os.environ if environ is None else environ
        wanted = set(referenced)
        return cls({name: value for name, value in environ.items()
                    if name in wanted or (_SECRET_NAME.search(name) and not _LOCATION_NAME.search(name))})

    def exposed_in(self, environ: Mapping[str, str]) -> bool:
        """Whether any known secret is visible in ``environ`` (so a child could print it)."""
        if self._pattern is None:
            return False
        return any(self._pattern.search(value) for value in environ.values())

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: f"[REDACTED:{self._names[m.group(0)]}]", value)

    def data(self, value: bytes) -> bytes:
        if self._bytes_pattern is None:
            return value
        return self._bytes_pattern.sub(lambda m: self._bytes_marks[m.group(0)], value)

    def tail_keep(self) -> int:
        """Bytes to hold back at a chunk boundary so a secret split across chunks is caught."""
        return max((len(v.encode()) for v in self._names), default=1) - 1

    def split(self, data: bytes, keep: int) -> tuple[bytes, bytes]:
        """``data`` but its last ``keep`` bytes, redacted; and those bytes as they are.

        For a stream: the held-back tail is prepended to the next chunk, so a secret
        split across chunks is still caught. The split never falls inside a secret:
        one that crosses it is redacted whole. One pass over ``data``.
        """
        cut = max(len(data) - keep, 0)
        pieces: list[bytes] = []
        done = 0
        if self._bytes_pattern is not None:
            for match in self._bytes_pattern.finditer(data):
                start, end = match.span()
                if start >= cut:
                    break
                pieces += (data[done:start], self._bytes_marks[match.group(0)])
                done = end
        if not pieces:
            return data[:cut], data[cut:]
        cut = max(cut, done)
        pieces.append(data[done:cut])
        return b"".join(pieces), data[cut:]

    def deep(self, value: object) -> object:
        """Redact every string inside a JSON-like value."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        return value
