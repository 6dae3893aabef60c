"""nightly-report: a short Markdown summary of what tonight's run changed.

Usage: nightly_report.py

Reads crm-writeback's and hot-leads' outputs; prints the report (the job's
output, readable with `jobdeck logs nightly-report`).
"""

from __future__ import annotations

from stepkit import log, pace, upstream


def main() -> None:
    written = upstream("crm-writeback")
    hot = upstream("hot-leads")["hot"]
    pace()
    lines = [
        "# Nightly enrichment",
        "",
        f"CRM file: {written['crm']}",
        f"- created: {', '.join(written['created']) or 'none'}",
        f"- updated: {', '.join(written['updated']) or 'none'}",
        f"- unchanged: {', '.join(written['unchanged']) or 'none'}",
        "",
        "## Hot leads",
    ]
    lines += [f"- {lead['who']}: {lead['score']}" for lead in hot] or ["- none tonight"]
    log(f"report: {len(written['created'])} created, {len(written['updated'])} updated, {len(hot)} hot")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
