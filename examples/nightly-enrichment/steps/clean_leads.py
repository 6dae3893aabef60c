"""clean-leads: normalise the loaded rows, drop duplicates and unusable ones, say why.

Usage: clean_leads.py

Reads load-leads' output. A lead needs an id like L001, a plausible email and a
company domain; a second row with the same id or email (case-insensitive) is a
duplicate. Exits 65 when no lead survives, so nothing downstream spends model
calls on an empty batch.
"""

from __future__ import annotations

import re

from stepkit import EX_DATAERR, emit, fail, log, pace, upstream

LEAD_ID = re.compile(r"^L\d{3,}$")
EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def main() -> None:
    loaded = upstream("load-leads")
    pace()
    leads, dropped = [], []
    seen_ids: set[str] = set()
    seen_emails: dict[str, str] = {}
    for row in loaded["rows"]:
        lead_id, email, domain = row["lead_id"], row["email"].lower(), row["domain"].lower()
        problem = None
        if not LEAD_ID.match(lead_id):
            problem = f"lead_id {lead_id!r} is not like L001"
        elif not EMAIL.match(email):
            problem = f"email {row['email']!r} is not an address"
        elif not domain:
            problem = "no company domain"
        elif lead_id in seen_ids:
            problem = f"duplicate of lead {lead_id}"
        elif email in seen_emails:
            problem = f"duplicate of lead {seen_emails[email]} (same email)"
        if problem:
            dropped.append({"row": row["row"], "lead_id": lead_id, "reason": problem})
            log(f"row {row['row']}: dropped: {problem}")
            continue
        seen_ids.add(lead_id)
        seen_emails[email] = lead_id
        leads.append({
            "lead_id": lead_id,
            "name": f"{row['first_name']} {row['last_name']}".strip(),
            "email": email,
            "company": row["company"],
            "domain": domain,
            "title": row["title"],
            "country": row["country"].upper(),
            "source": row["source"],
        })
    if not leads:
        fail(f"no usable leads in {loaded['source']} ({len(dropped)} rows dropped)", code=EX_DATAERR)
    log(f"{len(leads)} leads kept, {len(dropped)} dropped")
    emit({"source": loaded["source"], "leads": leads, "dropped": dropped})


if __name__ == "__main__":
    main()
