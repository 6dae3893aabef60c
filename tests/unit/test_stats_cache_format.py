"""state/stats_cache.py's STATS_CACHE_FORMAT: bumped whenever what the cache holds changes, and only then.

The cache is kept across upgrades as long as STATS_CACHE_FORMAT stays, so a change to
what is folded (or how it is written) that leaves it as it was would have new
code read old tallies as if they meant the new thing. These tests fold a fixed
log that exercises every counter and every piece of pending state, write the
cache as `jobdeck stats` writes it, and compare its bytes with the fingerprint
recorded for the current format.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from jobdeck.state.deck import Deck
from jobdeck.state.digest import sha256_hex
from jobdeck.state.events import EventLog
from jobdeck.state.history import DECK, History
from jobdeck.state.stats_cache import STATS_CACHE_FORMAT, cache_path, load_history, save_history
from jobdeck.state.tally import Tally

FINGERPRINTS = {
    3: "bc9e775a30c948cba049ee2fe79ab2da109c0191bc7e953f2a0978296866d338",
    4: "c068fcb814bc67bb7dbdc280f046b366051a7c0f45e7582fa3370016db36339c",
    5: "defbe8e142ddd2b0480180c4b6ba001771e82c0af1389806832030c7b5d297ab",  # a recovered outcome's own end
    6: "1a4d629c05e213cfb62a6eb26ca8b468ca61b1ad845cb4ac5b10348a0cce7550",  # invalid output: a failure
    7: "1ae265be3b0797942c9bf37a5903f22b04b22c2da69a2698fd875e312c8b6bb7",  # waits from letting go; unplaced records
    8: "ef2725c9ffbcaad55f60794801a3b215cf4b4c680f4b8dfd90164c64893ea65d",  # no wait for a claim that is not a try
    9: "f1425cfe547c77e4a4a249a1b5bde32b2860ad2e5292bc26ae786221488dd359",  # a miss in its hour; a success at its end
    10: "7549a6c1a0b6cc682d0c43bbc6ea507f29e26fa3c66c935dddea124a3ff66a5b",  # a running job's deadline waits for its end
    11: "db0289ec51dfe3cf3fa7625a4a155cd4c3a28be99fe6ecf5a82b97f70a07817e",  # a new cycle judged anew
}
"""STATS_CACHE_FORMAT -> sha256 of the cache fixed_log() folds into. Add a row per bump; never change a row."""

DAY_BOUNDARY = 20834 * 86400.0
T0 = DAY_BOUNDARY - 5400  # an hour and a half before a UTC day begins: hours and days both spill


def fixed_log() -> list[dict[str, Any]]:
    """Records as the log holds them, touching every branch of History.fold and every field of a Tally."""
    records: list[dict[str, Any]] = []

    def add(at: float, kind: str, job: str | None = None, **fields: Any) -> int:
        record = {"seq": len(records) + 1, "ts": T0 + at, "type": kind, **({"job": job} if job else {}), **fields}
        records.append(record)
        return record["seq"]

    usage = {"prompt_tokens": 120, "completion_tokens": 30}
    add(0, "triggered", "a", by="op")
    add(5, "decided", "a", deadline=T0 + 600)
    a = add(10, "claimed", "a", attempt=1, workspace="w1", runner="r1", ready=T0)
    add(20, "progress", "a", what="retry", reason="rate_limit: slow down")
    add(30, "progress", "a", what="cooldown", reason="rate_limit")
    add(31, "progress", "a", what="fallback", reason="rate_limit")  # repeats the cooldown's answer
    add(32, "progress", "a", what="cooldown", reason="skipped: m1 cooling down")
    add(400, "succeeded", "a", token=a, usage=usage, cost=0.5, model="m1")  # before its deadline
    b = add(500, "claimed", "b", attempt=1, workspace="w2", runner="r1")  # waits from r1's first claim
    add(560, "failed", "b", token=b, reason="rate_limit", retry_at=T0 + 900, usage={"total_tokens": 7}, model="m2")
    add(600, "decided", "b", deadline=T0 + 1000)
    b = add(950, "claimed", "b", attempt=2, workspace="w2", runner="r2")
    add(960, "cancelled", "b", by="op")
    add(970, "failed", "b", token=b, reason="exit_code")  # ended as cancelled
    add(1100, "scored", None, cost=0.01, model="judge", usage={"total_tokens": 50})  # b's deadline passed
    add(1200, "held", None, by="op")
    add(1210, "released", None, by="op")
    c = add(1300, "claimed", "c", attempt=1, runner="r1")
    add(1390, "interrupted", "c", token=c, reason="signal")
    c = add(1400, "claimed", "c", attempt=2, runner="r1")
    add(1401, "failed", "c", token=c, reason="not_started")  # never ran: its claim's wait is taken back
    add(1402, "failed", "c", token=c - 1, reason="exit_code")  # a stale token
    for kind in ("approved", "rejected", "retried", "pinned"):
        add(1500, kind, "c", by="op")
    add(1600, "pinned", "d", by="op")  # before d's first claim: counted in its workspace then, in this hour
    a = add(5500, "claimed", "a", attempt=2, workspace="w1", runner="r3")  # the next UTC day
    add(5600, "failed", "a", token=a, reason="idle_timeout", retry_at=T0 + 5700, cost=0.25, model="m1")
    add(5620, "held", "a", by="op")
    add(5650, "decided", "a", deadline=T0 + 9000)
    add(5680, "released", "a", by="op")  # its next wait begins here, not at its failure
    a = add(5700, "claimed", "a", attempt=3, workspace="w1", runner="r3")
    add(9100, "succeeded", "a", token=a, usage=usage, cost=0.125, model="m2")  # late
    d = add(9150, "claimed", "d", attempt=1, workspace="w3", runner="r4")
    add(9250, "failed", "d", token=d, reason="exit_code", ended=T0 + 9160, recovered=True)  # ran 10 s, not 100
    e = add(9260, "claimed", "e", attempt=1, workspace="w3", runner="r4")
    add(9290, "succeeded", "e", token=e, review=True, reason="invalid output",  # a failure, not a success
        reasons=["output: does not match 'ok'"])
    add(9200, "decided", "c", deadline=T0 + 99_000)  # pending at the end
    add(9300, "claimed", "c", attempt=3, workspace="w3", runner="r3")  # open at the end
    add(9310, "progress", "c", what="cooldown", reason="rate_limit")  # its answer counted, pending
    add(9400, "triggered", "b")  # in the backlog at the end
    add(9410, "approved", "f", by="op")  # never claimed: placed by jobs.json when read; let go, pending
    add(9420, "held", "g", by="op")  # held at the end
    return records


def cache_of(records: list[dict[str, Any]], root: Path) -> bytes:
    """The cache `jobdeck stats` writes for ``records``, at a fixed position of the log."""
    history = History()
    history.fold(records)
    log = EventLog(root / "events.jsonl")  # where the fold stopped: the header's position, not the tallies
    log.resume_at(4096, records[-1]["seq"], "f" * 64)
    deck = Deck(root)
    deck.state_dir.mkdir(parents=True, exist_ok=True)
    save_history(deck, history, log)
    return cache_path(deck).read_bytes()


def test_the_fixed_log_touches_every_field_of_the_cache() -> None:
    history = History()
    history.fold(fixed_log())
    total = history.total[DECK]
    empty = [field.name for field in dataclasses.fields(Tally) if not Tally.to_json(total).get(field.name)]
    assert not empty, f"add records to fixed_log() that count {empty}, then bump STATS_CACHE_FORMAT"
    assert set(total.outcomes) == {"succeeded", "failed", "interrupted", "cancelled"}
    assert history.total["job:e"].failures_by_class() == {"invalid_output": 1} and not history.total["job:e"].run.total
    assert set(total.interventions) == {"approved", "rejected", "retried", "cancelled", "pinned", "held", "released"}
    assert {"workspace:w1", "workspace:w2", "workspace:default", "workspace:w3"} <= set(history.total)
    assert history.total["workspace:w3"].interventions == {"pinned": 1}
    pending = history.state_json()
    assert all(pending[name] for name in pending), f"fixed_log() leaves nothing pending in {pending}"
    assert all(value for value in pending["timeline"].values()), "fixed_log() leaves a part of the timeline empty"
    hours, days = b"".join(history.hours.lines()), b"".join(history.days.lines())
    assert hours.count(b"\n") >= 3 and days.startswith(b"20833\t") and days.count(b"\n20834\t") == 1


def test_what_the_cache_holds_is_what_its_format_says(tmp_path: Path) -> None:
    data = cache_of(fixed_log(), tmp_path)
    assert json.loads(data.partition(b"\n")[0])["format"] == STATS_CACHE_FORMAT
    fingerprint = sha256_hex(data)
    assert fingerprint == FINGERPRINTS.get(STATS_CACHE_FORMAT), (
        f"what stats-cache.json holds changed: bump STATS_CACHE_FORMAT in state/stats_cache.py and update the "
        f"expected value (add {{{STATS_CACHE_FORMAT + 1}: {fingerprint!r}}} to FINGERPRINTS), so that caches "
        f"written before are folded again, not read as the new format")
    assert max(FINGERPRINTS) == STATS_CACHE_FORMAT and len(set(FINGERPRINTS.values())) == len(FINGERPRINTS)


def test_a_cache_of_another_format_or_keyed_another_way_is_folded_again(tmp_path: Path) -> None:
    from jobdeck.state.board import open_store

    deck = Deck(tmp_path)
    deck.state_dir.mkdir(parents=True)
    with open_store(deck) as store:
        store.commit([{"type": "claimed", "job": "a", "attempt": 1, "runner": "r"}], now=T0)
        store.commit([{"type": "succeeded", "job": "a", "token": store.board.state("a").token}], now=T0 + 5)
    assert load_history(deck).total[DECK].runs == 1
    cache = cache_path(deck)
    header, _, lines = cache.read_bytes().partition(b"\n")
    for key in ({"format": STATS_CACHE_FORMAT - 1}, {"format": str(STATS_CACHE_FORMAT)}, {"format": None},
                {"code": "0123456789abcdef", "format": None}):
        doctored = {**json.loads(header), **key}
        doctored["history"]["total"][DECK]["runs"] = 1000  # would show if the cache were believed
        for _ in range(2):  # the header holds the file's size, its own digits included
            doctored["bytes"] = len(json.dumps(doctored, separators=(",", ":"))) + 1 + len(lines)
        cache.write_bytes(json.dumps(doctored, separators=(",", ":")).encode() + b"\n" + lines)
        assert load_history(deck).total[DECK].runs == 1, key
        assert json.loads(cache.read_bytes().partition(b"\n")[0])["format"] == STATS_CACHE_FORMAT  # written again
    cache.write_bytes(json.dumps({"code": "0123456789abcdef", "tallies": []}).encode() + b"\n")
    assert load_history(deck).total[DECK].runs == 1
    doctored = {**json.loads(header)}
    doctored["history"]["total"][DECK]["runs"] = 1000
    for _ in range(2):
        doctored["bytes"] = len(json.dumps(doctored, separators=(",", ":"))) + 1 + len(lines)
    cache.write_bytes(json.dumps(doctored, separators=(",", ":")).encode() + b"\n" + lines)
    assert load_history(deck).total[DECK].runs == 1000  # the same format: believed (the doctoring shows)
