"""load-leads: read tonight's leads CSV (or the CSV dropped in the inbox) into JSON.

Usage: load_leads.py DEFAULT_CSV

The file read is $JOBDECK_INPUT when the run was started by a file in
workspaces/crm/inbox/ (or by `jobdeck trigger load-leads --input input=FILE`),
otherwise DEFAULT_CSV. Rows are passed on as they are; clean-leads judges them.
"""

from __future__ import annotations

import csv
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from stepkit import EX_DATAERR, emit, fail, log, pace

COLUMNS = ("lead_id", "first_name", "last_name", "email", "company", "domain", "title", "country", "source")


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        fail("usage: load_leads.py DEFAULT_CSV", code=2)
    source = Path(os.environ.get("JOBDECK_INPUT") or argv[1])
    log(f"reading {source}")
    pace()
    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in COLUMNS if name not in (reader.fieldnames or [])]
            if missing:
                fail(f"{source}: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}",
                     code=EX_DATAERR)
            rows = [{"row": number, **{name: (row.get(name) or "").strip() for name in COLUMNS}}
                    for number, row in enumerate(reader, start=2)]
    except FileNotFoundError:
        fail(f"{source} not found", code=EX_DATAERR)
    except (UnicodeDecodeError, csv.Error) as exc:
        fail(f"{source}: not a readable UTF-8 CSV ({exc})", code=EX_DATAERR)
    log(f"{len(rows)} rows")
    emit({
        "source": str(source),
        "loaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": rows,
    })


if __name__ == "__main__":
    main(sys.argv)
