"""The Slurm engine's answers from real client commands: a real cluster, and accounting where a stand-in gives one."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from jobdeck.agents.remote import RemoteState
from jobdeck.agents.slurm import SlurmEngine
from jobdeck.state.loader import parse_spec
from tests.slurm.cluster import SlurmCluster

EXECUTOR = parse_spec(b'{"executors": {"c": {"type": "slurm"}}, "jobs": [{"id": "j", "command": ["true"]}]}',
                      "jobs.json").spec.executors["c"]


def engine(env: dict[str, str]) -> SlurmEngine:
    return SlurmEngine("c", EXECUTOR, {"PATH": os.environ["PATH"], **env})


def test_a_job_the_controller_never_knew_is_gone_and_a_cluster_without_accounting_is_asked_once(
        slurm: SlurmCluster) -> None:
    slurm_engine = engine(slurm.env)
    job = slurm.sbatch("--wrap", "true")
    states = asyncio.run(slurm_engine.look([job, "999999"]))
    assert states["999999"] == RemoteState("gone")
    assert states[job].phase in ("queued", "running", "ended")
    assert slurm_engine._accounting is False, "sacct said accounting is disabled"


def test_a_job_the_controller_forgot_is_read_from_accounting(slurm: SlurmCluster, tmp_path: Path) -> None:
    """Past MinJobAge squeue no longer knows a job; sacct (a stand-in here: the test cluster keeps no
    accounting) still gives its end and exit status."""
    sacct = tmp_path / "bin" / "sacct"
    sacct.parent.mkdir()
    sacct.write_text("#!/bin/sh\nprintf '999998|COMPLETED|0:0\\n999999|CANCELLED by 0|0:15\\n'\n")
    sacct.chmod(sacct.stat().st_mode | stat.S_IXUSR)
    slurm_engine = engine({**slurm.env, "PATH": f"{sacct.parent}:{os.environ['PATH']}"})
    states = asyncio.run(slurm_engine.look(["999998", "999999", "999997"]))
    assert states == {"999998": RemoteState("ended", word="COMPLETED", exit_code=0),
                      "999999": RemoteState("ended", word="CANCELLED", exit_code=-15),
                      "999997": RemoteState("gone")}
