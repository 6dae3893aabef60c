"""merge-enrichment: join scores, research and firmographics onto this batch's leads.

Usage: merge_enrichment.py

The batch (clean-leads) decides which leads exist: a score or a company profile
a model returned for a lead or domain that is not in the batch is dropped and
listed under "ignored", never written anywhere. A lead the model did not score
keeps "score": null and is reported, not invented.
"""

from __future__ import annotations

from stepkit import emit, log, pace, upstream


def main() -> None:
    cleaned = upstream("clean-leads")
    scores = {item["lead_id"]: item for item in upstream("lead-scoring")["scores"]}
    research = {item["domain"]: item for item in upstream("company-research")["companies"]}
    firmographics = upstream("firmographics")["companies"]
    pace()
    batch = {lead["lead_id"] for lead in cleaned["leads"]}
    domains = {lead["domain"] for lead in cleaned["leads"]}
    merged, unscored = [], []
    for lead in cleaned["leads"]:
        score = scores.get(lead["lead_id"])
        if score is None:
            unscored.append(lead["lead_id"])
        profile = research.get(lead["domain"])
        merged.append({
            **lead,
            "score": score["score"] if score else None,
            "tier": score["tier"] if score else None,
            "rationale": score["rationale"] if score else None,
            "firmographics": firmographics.get(lead["domain"]),
            "research": {"summary": profile["summary"], "talking_points": profile["talking_points"]}
            if profile else None,
        })
    ignored = {
        "lead-scoring": sorted(set(scores) - batch),
        "company-research": sorted(set(research) - domains),
    }
    for source, extra in ignored.items():
        if extra:
            log(f"ignored {len(extra)} answer(s) from {source} about leads not in this batch: {', '.join(extra)}")
    if unscored:
        log(f"not scored by the model: {', '.join(unscored)}")
    log(f"{len(merged)} leads enriched")
    emit({"source": cleaned["source"], "leads": merged, "unscored": unscored, "ignored": ignored})


if __name__ == "__main__":
    main()
