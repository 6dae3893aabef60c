"""A stand-in for people and tools saving jobs.json, run as its own process by the torture tests.

Usage: ``python -m tests.torture.hand_editor DECK LEDGER SAVES SEED REPORT``.
Each save adds a job or changes a job's description, and is written the way
one kind of editor writes: a temp file renamed over (vim, most IDEs), truncate
and rewrite in place (nano, ``>`` redirection), ``sed -i``, or a save paused
half-written for a moment before it completes (a slow disk, a large file).
No save takes jobdeck's lock: that is the point. REPORT receives the ids and
descriptions the final file must hold.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.torture.kit import ledger_script

WAYS = ("rename", "in_place", "sed", "paused")


def render(document: dict[str, Any]) -> bytes:
    """One job per line, so ``sed`` can address a job by its id."""
    lines = ",\n".join("  " + json.dumps(job) for job in document["jobs"])
    head = {k: v for k, v in document.items() if k != "jobs"}
    prefix = json.dumps(head)[:-1] + (", " if head else "")
    return f'{prefix}"jobs": [\n{lines}\n]}}\n'.encode()


def save(path: Path, data: bytes, way: str, rng: random.Random) -> None:
    if way == "rename":
        tmp = path.with_name(f".{path.name}.swp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    elif way == "in_place":
        with open(path, "wb") as f:  # truncates at once: a reader may see an empty file
            f.write(data)
    elif way == "paused":
        with open(path, "wb") as f:
            cut = rng.randint(1, len(data) - 1)
            f.write(data[:cut])
            f.flush()
            time.sleep(rng.uniform(0.2, 0.4))  # half-written on disk for a moment, on purpose
            f.write(data[cut:])
    else:
        raise ValueError(way)


def main(argv: list[str]) -> None:
    deck, ledger, saves, seed, report = Path(argv[0]), Path(argv[1]), int(argv[2]), int(argv[3]), Path(argv[4])
    rng = random.Random(seed)
    spec_path = deck / "jobs.json"
    document = json.loads(spec_path.read_bytes())
    spec_path.write_bytes(render(document))
    script = ledger_script(ledger)
    added, described = [], {}
    ways_used = {way: 0 for way in WAYS}
    for n in range(saves):
        way = WAYS[n % len(WAYS)]
        ways_used[way] += 1
        if way == "sed":
            job = rng.choice(document["jobs"])
            target, text = job["id"], f"sed-{n}"
            old = f'{{"id": "{target}", '
            if "description" in job:  # always right after the id (see the field edit below)
                expression = f's/^  {old}"description": "[^"]*", /  {old}"description": "{text}", /'
            else:
                expression = f's/^  {old}/  {old}"description": "{text}", /'
            subprocess.run(["sed", "-i", expression, str(spec_path)], check=True)
            document = json.loads(spec_path.read_bytes())
            described[target] = text
            continue
        if n % 2:
            target = rng.choice(document["jobs"])
            target.pop("description", None)
            target = {"id": target["id"], "description": f"edit-{n}", **{k: v for k, v in target.items() if k != "id"}}
            document["jobs"] = [target if job["id"] == target["id"] else job for job in document["jobs"]]
            described[target["id"]] = f"edit-{n}"
        else:
            new_id = f"hand{n:05d}"
            document["jobs"].append({"id": new_id, "command": ["bash", "-c", script]})
            added.append(new_id)
        save(spec_path, render(document), way, rng)
        time.sleep(rng.uniform(0.0, 0.05))  # editors save at human-ish, irregular moments
    report.write_text(json.dumps({"added": added, "described": described, "ways": ways_used,
                                  "final": spec_path.read_text()}))


if __name__ == "__main__":
    main(sys.argv[1:])
