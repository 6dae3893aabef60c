"""crm-writeback: write the approved enrichment into the CRM, idempotently by lead id.

Usage: crm_writeback.py CRM_JSON

Each lead's enrichment gets a digest (SHA-256 of its canonical JSON). A contact
whose stored digest already matches is left alone, so running this step again
on the same batch -- a retry, a crash halfway, an operator's second approval --
changes nothing: the file is rewritten only when some contact really changes,
and then atomically (temporary file, fsync, rename). That is why the job can be
declared ``idempotent`` in jobs.json. The CRM's own fields (stage, owner) are
never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from stepkit import emit, fail, log, pace, read_json, upstream, write_json_atomic


def enrichment_of(lead: dict[str, Any]) -> dict[str, Any]:
    """The part of a merged lead the CRM stores."""
    firmographics = lead.get("firmographics") or {}
    research = lead.get("research") or {}
    return {
        "score": lead.get("score"),
        "tier": lead.get("tier"),
        "rationale": lead.get("rationale"),
        "industry": firmographics.get("industry"),
        "employees": firmographics.get("employees"),
        "hq_country": firmographics.get("hq_country"),
        "summary": research.get("summary"),
        "talking_points": research.get("talking_points", []),
    }


def digest_of(enrichment: dict[str, Any]) -> str:
    canonical = json.dumps(enrichment, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        fail("usage: crm_writeback.py CRM_JSON", code=2)
    crm_path = Path(argv[1])
    merged = upstream("merge-enrichment")
    crm = read_json(crm_path)
    pace()
    contacts = crm.setdefault("contacts", {})
    changes = crm.setdefault("changes", [])
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    by = f"{os.environ.get('JOBDECK_JOB', 'crm-writeback')}#{os.environ.get('JOBDECK_ATTEMPT', '?')}"
    created, updated, unchanged = [], [], []
    for lead in merged["leads"]:
        lead_id = lead["lead_id"]
        enrichment = enrichment_of(lead)
        digest = digest_of(enrichment)
        contact = contacts.get(lead_id)
        if contact is not None and contact.get("enrichment_digest") == digest:
            unchanged.append(lead_id)
            continue
        if contact is None:
            action = "created"
            contact = contacts[lead_id] = {
                "lead_id": lead_id, "name": lead["name"], "email": lead["email"], "company": lead["company"],
                "stage": "new", "owner": "unassigned",
            }
            created.append(lead_id)
        else:
            action = "updated"
            updated.append(lead_id)
        contact.update(enrichment=enrichment, enrichment_digest=digest, updated_at=now)
        changes.append({"at": now, "lead_id": lead_id, "action": action, "digest": digest, "by": by})
    if created or updated:
        write_json_atomic(crm_path, crm)
        log(f"{crm_path}: {len(created)} created, {len(updated)} updated, {len(unchanged)} unchanged")
    else:
        log(f"{crm_path}: nothing to change ({len(unchanged)} contacts already up to date)")
    emit({"crm": str(crm_path), "created": created, "updated": updated, "unchanged": unchanged})


if __name__ == "__main__":
    main(sys.argv)
