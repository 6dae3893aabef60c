"""queue-outreach: put the reviewed email drafts in the outbox, one file per lead.

Usage: queue_outreach.py OUTBOX_DIR

Only drafts for leads in this batch are queued (a draft for any other lead is
skipped and listed). Each draft is written atomically to OUTBOX_DIR/<lead>.json,
so running the step again rewrites the same files instead of adding copies.
"""

from __future__ import annotations

import sys
from pathlib import Path

from stepkit import emit, fail, log, pace, upstream, write_json_atomic


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        fail("usage: queue_outreach.py OUTBOX_DIR", code=2)
    outbox = Path(argv[1])
    leads = {lead["lead_id"]: lead for lead in upstream("merge-enrichment")["leads"]}
    drafts = upstream("outreach-drafts")["drafts"]
    pace()
    queued, skipped = [], []
    for draft in drafts:
        lead = leads.get(draft["lead_id"])
        if lead is None:
            skipped.append(draft["lead_id"])
            continue
        write_json_atomic(outbox / f"{lead['lead_id']}.json",
                          {"to": lead["email"], "subject": draft["subject"], "body": draft["body"]})
        queued.append(lead["lead_id"])
    log(f"{len(queued)} drafts queued in {outbox}" + (f"; skipped (not in batch): {', '.join(skipped)}"
                                                      if skipped else ""))
    emit({"outbox": str(outbox), "queued": queued, "skipped": skipped})


if __name__ == "__main__":
    main(sys.argv)
