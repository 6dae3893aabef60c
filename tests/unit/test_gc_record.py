"""state/gc.py's ``gc`` record: what a gc removed, bounded however much it was, and why."""

from __future__ import annotations

from jobdeck.state.gc import GC_TYPE, NAMED, GcReport, Removed, gc_record
from jobdeck.state.retention import AttemptDir


def removal(job: str, n: int, why: str, aside: str = "") -> Removed:
    return Removed(AttemptDir("default", job, n, 0.0, aside), why, 4096)


def test_the_record_names_a_bounded_number_of_directories_and_counts_the_rest() -> None:
    report = GcReport(dry_run=False, tombstones=2)
    report.removed = [removal("a", n, "older than 30 days") for n in range(1, NAMED + 6)]
    report.removed.append(removal("b", 1, "not among the last 5 attempts", ".lost-17"))
    record = gc_record(report, by="ana@box", via="cli")
    assert record == {
        "type": GC_TYPE, "by": "ana@box", "via": "cli", "removed": NAMED + 6, "bytes_freed": (NAMED + 6) * 4096,
        "attempts": [f"a/{n}" for n in range(1, NAMED + 1)], "more": 6,
        "reasons": ["older than 30 days", "not among the last 5 attempts"], "finished": 2}


def test_a_small_gc_names_every_directory_and_says_nothing_of_more() -> None:
    report = GcReport(dry_run=False, removed=[removal("b", 1, "not among the last attempt", ".lost-17")])
    record = gc_record(report, by="vm-1-ab", via="runner")
    assert record["attempts"] == ["b/1.lost-17"] and record["removed"] == 1
    assert "more" not in record and "finished" not in record
