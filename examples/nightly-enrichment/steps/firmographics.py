"""firmographics: look each lead's company up in the company directory (size, industry, HQ).

Usage: firmographics.py DIRECTORY_JSON

The directory is a local JSON file standing in for a firmographics API. With
DEMO_FAIL_FIRST_ATTEMPT=1 (set in jobs.json) the very first attempt behaves
like that API answering HTTP 429: it exits 75 (EX_TEMPFAIL), which the job
lists in retry.retryable_exit_codes, so the runner retries after its backoff.
Remove the variable to turn the simulation off.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from stepkit import EX_TEMPFAIL, emit, fail, log, pace, read_json, upstream


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        fail("usage: firmographics.py DIRECTORY_JSON", code=2)
    cleaned = upstream("clean-leads")
    pace()
    if os.environ.get("DEMO_FAIL_FIRST_ATTEMPT") == "1" and os.environ.get("JOBDECK_ATTEMPT") == "1":
        fail("company directory answered HTTP 429 Too Many Requests; exiting 75 so the runner retries",
             code=EX_TEMPFAIL)
    directory = read_json(Path(argv[1]))["companies"]
    companies, missing = {}, []
    for domain in sorted({lead["domain"] for lead in cleaned["leads"]}):
        found = directory.get(domain)
        if found is None:
            missing.append(domain)
            log(f"{domain}: not in the directory")
        companies[domain] = found
    log(f"{len(companies) - len(missing)} of {len(companies)} companies found")
    emit({"companies": companies, "missing": missing})


if __name__ == "__main__":
    main(sys.argv)
