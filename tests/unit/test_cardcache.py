"""The ls cache's pure parts: its encoding equals json.dumps, and when its cards expire."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jobdeck.state.cardcache import CachedCards, valid_until

texts = st.text(max_size=12)  # any code point: quotes, control characters, U+2028, astral
values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts,
                   st.lists(texts, max_size=3))
cards = st.lists(st.fixed_dictionaries({"id": texts, "title": texts, "since": values, "labels": st.lists(texts),
                                        "flags": st.lists(texts, max_size=2), "reason": values}), max_size=6)


@settings(max_examples=100, deadline=None)
@given(cards, st.data())
def test_joined_rows_are_exactly_json_dumps_of_the_list(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    """Unicode, quotes, control characters, floats: the joined rows are byte-identical."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    cached = CachedCards([encode(row) for row in rows], [("backlog", "default", [])] * len(rows))
    assert cached.to_json() == json.dumps(rows, ensure_ascii=False)
    keep = data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    assert cached.to_json(keep) == json.dumps([r for r, k in zip(rows, keep) if k], ensure_ascii=False)
    assert all("\n" not in line for line in cached.rows)  # one card per line in the cache file


def test_valid_until_is_the_first_card_time_still_ahead() -> None:
    now = 1000.0
    rows = [
        {"next_fire": 5000.0, "retry_at": None},
        {"next_fire": None, "retry_at": 1500.0},
        {"next_fire": None, "retry_at": 900.0},   # already due: its card no longer changes
        {"next_fire": None, "retry_at": None},
    ]
    assert valid_until(rows, now) == 1500.0
    assert valid_until(rows[2:], now) is None
    assert valid_until([{"next_fire": 1200.0, "retry_at": 1100.0}], now) == 1100.0
    assert valid_until([{"next_fire": None, "retry_at": None, "kept_until": 1300.0}], now) == 1300.0  # a deferral
    assert valid_until([{"next_fire": None, "retry_at": None, "kept_until": 900.0}], now) is None
