"""bench/slurm.py at its --quick size: it keeps working, and it measures what it says it does.

The bench starts a cluster of its own rather than the one the ``slurm``
fixture started for this pytest process: that is the path a full bench run takes, and its figures
never share the node with jobs other tests left behind. Two clusters side by
side are fine (each has its own directory and ports). The figures themselves
are not judged against the target here (performance is measured in bench/, not
asserted in tests), only that both sides did the work and were timed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_slurm_bench_times_both_sides_on_real_jobs() -> None:
    done = subprocess.run([sys.executable, "bench/slurm.py", "--quick", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, (f"bench/slurm.py exited {done.returncode}:\n"
                                  f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    assert (result["jobs"], result["rounds"]) == (10, 1)
    for side in ("plain", "jobdeck"):
        walls = result[side]["walls"]
        assert len(walls) == 1 and walls[0] > 0, (side, walls)
        timeline = result[side]["median_round"]
        # submitted, then Slurm ran the jobs, then the side saw them done: a real run, in order
        assert 0 <= timeline["first_submit"] <= timeline["last_submit"] < timeline["wall"], (side, timeline)
        assert timeline["last_end"] <= timeline["wall"], (side, timeline)
        assert timeline["outputs"] == 10, (side, timeline)
    assert result["ratio"] == result["jobdeck"]["median"] / result["plain"]["median"]
