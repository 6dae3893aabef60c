"""agents/boundary.py with real processes: what each boundary finds of what a leader left behind.

The probe (boundary_probe.py) runs in a process of its own, since a boundary
makes its process a child subreaper or moves it into a cgroup.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.runner_kit import ROOT, boundary  # noqa: F401  (boundary: the fixture)


def probe(mode: str, directory: Path) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "-m", "tests.functional.boundary_probe", mode, str(directory)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_boundary_stops_what_the_leader_left_and_nothing_else(tmp_path: Path, boundary: str) -> None:  # noqa: F811
    report = probe(boundary, tmp_path)
    assert report["kind"] == boundary
    alive = report["alive"]
    # by the marker (setsid + double fork), by the session (environment cleared), by the output file it holds
    assert not alive["marker"] and not alive["session"] and not alive["files"]
    # cleared environment, own session, no attempt file: only a cgroup holds it (the documented limit)
    assert alive["detached"] is (boundary == "subreaper")
    assert report["bystander"], "a process that is not the attempt's was stopped"
    assert report["took"] < 0.5 + 1.0  # SIGTERM is enough for sleep: well within the grace


@pytest.mark.parametrize("mode", ["bogus"])
def test_an_unknown_boundary_choice_is_refused_in_one_line(tmp_path: Path, mode: str) -> None:
    from jobdeck.agents.containment import Containment
    from jobdeck.state.errors import JobdeckError

    with pytest.raises(JobdeckError, match="JOBDECK_BOUNDARY='bogus' is not one of auto, cgroup, subreaper"):
        Containment.detect(mode)
