"""Byte sizes as people write them: 1048576, "500MB", "1GiB", "64 KiB"; and as messages show them.

Decimal units (kB, MB, GB, TB: powers of 1000) and binary ones (KiB, MiB, GiB,
TiB: powers of 1024) are both accepted, in any letter case, so "1gb" and "1GB"
are the same size; a plain number is bytes.
"""

from __future__ import annotations

import re

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?)?b", re.IGNORECASE)
_FACTOR = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
           "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}
MAX_SIZE = 1024**5
"""The largest size accepted (1 PiB): anything bigger is a typo, not a limit."""
SIZE_PATTERN = r"^\d+(\.\d+)?\s*([kKmMgGtT][iI]?)?[bB]$"
"""The written form, for the JSON Schema (a plain number of bytes is an integer instead)."""


def parse_size(value: object) -> int:
    """Bytes in ``value``; raise ValueError with a fix-it message otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("a size must be a number of bytes or a string like '500MB', '1GiB'")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"'{value}' is not a size; write bytes (1048576) or '500MB', '64KiB', '1GiB'")
        size = int(float(match.group(1)) * _FACTOR[(match.group(2) or "").lower()])
    if size <= 0 or size > MAX_SIZE:
        raise ValueError(f"size {value!r} must be more than 0 bytes and at most 1 PiB")
    return size


def format_size(size: int) -> str:
    """A short human form: 512 B, 64 KiB, 1 GiB, 1.5 GiB, 500 MB (decimal when it was written so)."""
    for power in (4, 3, 2, 1):
        if size >= 1000**power and size % 1000**power == 0 and size % 1024**power != 0:
            return f"{size // 1000**power} {'kMGT'[power - 1]}B"
        if size >= 1024**power:
            value = f"{size / 1024**power:.1f}".removesuffix(".0")
            return f"{value} {'KMGT'[power - 1]}iB"
    return f"{size} B"
