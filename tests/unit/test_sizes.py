"""Byte sizes as people write them, and as messages show them."""

from __future__ import annotations

import pytest

from jobdeck.state.sizes import format_size, parse_size


@pytest.mark.parametrize(("written", "size"), [
    (1, 1), (1048576, 1048576), ("512B", 512), ("1kB", 1000), ("1KiB", 1024), ("500MB", 500_000_000),
    ("64 KiB", 65536), ("1GiB", 1 << 30), ("1gib", 1 << 30), ("1.5GiB", 3 << 29), ("2TB", 2 * 10**12),
    (" 10mb ", 10_000_000), ("1024TiB", 1 << 50),
])
def test_parse_size(written: object, size: int) -> None:
    assert parse_size(written) == size


@pytest.mark.parametrize(("written", "message"), [
    ("1 gigabyte", "is not a size"), ("", "is not a size"), ("GB", "is not a size"), ("10", "is not a size"),
    ("-1MB", "is not a size"), ("1e3B", "is not a size"), (0, "more than 0"), (-5, "more than 0"),
    ("0MB", "more than 0"), ("2PiB", "is not a size"), ("1025TiB", "at most 1 PiB"),
    (True, "number of bytes"), (None, "number of bytes"), (1.5, "number of bytes"),
])
def test_bad_sizes_say_how_to_write_one(written: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_size(written)


@pytest.mark.parametrize(("size", "shown"), [
    (512, "512 B"), (1024, "1 KiB"), (65536, "64 KiB"), (1 << 20, "1 MiB"), (1 << 30, "1 GiB"),
    (3 << 29, "1.5 GiB"), (500_000_000, "500 MB"), (1000, "1 kB"), (1_500_000, "1.4 MiB"), (1023, "1023 B"),
])
def test_format_size(size: int, shown: str) -> None:
    assert format_size(size) == shown
