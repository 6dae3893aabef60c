"""hot-leads: list this batch's tier-A leads for the sales team (a stand-in for a chat alert).

Usage: hot_leads.py ALERT_FILE

Writes ALERT_FILE (relative to the workspace) atomically and prints the same
list; re-running rewrites the file with the same content.
"""

from __future__ import annotations

import sys
from pathlib import Path

from stepkit import batch_ids, emit, fail, log, pace, upstream, write_json_atomic


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        fail("usage: hot_leads.py ALERT_FILE", code=2)
    cleaned = upstream("clean-leads")
    scores = upstream("lead-scoring")["scores"]
    pace()
    batch = set(batch_ids(cleaned))
    names = {lead["lead_id"]: f"{lead['name']} ({lead['company']})" for lead in cleaned["leads"]}
    hot = [{"lead_id": item["lead_id"], "who": names[item["lead_id"]], "score": item["score"]}
           for item in sorted(scores, key=lambda item: -item["score"])
           if item["tier"] == "A" and item["lead_id"] in batch]
    write_json_atomic(Path(argv[1]), {"source": cleaned["source"], "hot": hot})
    for lead in hot:
        log(f"hot lead: {lead['who']} scored {lead['score']}")
    emit({"alert_file": argv[1], "hot": hot})


if __name__ == "__main__":
    main(sys.argv)
