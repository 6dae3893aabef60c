"""The test cluster itself: jobs run, survive a controller restart, wait out a drain.

The slurm executor's tests build on these behaviours, so when one of them
breaks, this file says it is the harness (or the machine's Slurm), not the executor.
"""

from __future__ import annotations

from pathlib import Path

from tests.slurm.cluster import SlurmCluster, poll_until

#: Generous limit for a job that takes about a second, on a loaded CI machine.
JOB_TIMEOUT = 30.0


def wait_for_state(slurm: SlurmCluster, job_id: str, *states: str) -> str:
    """Wait until the job is in one of ``states``; return the state."""
    return poll_until(lambda: (state := slurm.job(job_id)["JobState"]) in states and state,
                      JOB_TIMEOUT, f"job {job_id} to be {' or '.join(states)}")


def _held_by_drain(slurm: SlurmCluster, job_id: str) -> str | None:
    """The pending reason squeue gives for the job, if it names the drained node."""
    reason = slurm.run("squeue", "-h", "-j", job_id, "-o", "%r").stdout.strip()
    return reason if "DRAINED" in reason else None


def test_a_batch_job_runs_and_writes_its_output(slurm: SlurmCluster, tmp_path: Path) -> None:
    job_id = slurm.sbatch(f"--output={tmp_path}/out-%j", "--wrap", "echo hello from $SLURM_JOB_ID")

    assert wait_for_state(slurm, job_id, "COMPLETED", "FAILED", "CANCELLED") == "COMPLETED"
    assert (tmp_path / f"out-{job_id}").read_text() == f"hello from {job_id}\n"


def test_the_second_partition_runs_jobs_too(slurm: SlurmCluster, tmp_path: Path) -> None:
    assert "gpu" in slurm.partitions
    job_id = slurm.sbatch("--partition=gpu", f"--output={tmp_path}/out", "--wrap", "echo $SLURM_JOB_PARTITION")

    assert wait_for_state(slurm, job_id, "COMPLETED", "FAILED", "CANCELLED") == "COMPLETED"
    assert (tmp_path / "out").read_text() == "gpu\n"


def test_a_running_job_survives_a_controller_restart(slurm: SlurmCluster, tmp_path: Path) -> None:
    job_id = slurm.sbatch(f"--output={tmp_path}/out", "--wrap", "sleep 3; echo finished")
    wait_for_state(slurm, job_id, "RUNNING")

    slurm.restart_controller()

    assert slurm.job(job_id)["JobState"] == "RUNNING"
    assert wait_for_state(slurm, job_id, "COMPLETED", "FAILED", "CANCELLED", "NODE_FAIL") == "COMPLETED"
    assert (tmp_path / "out").read_text() == "finished\n"


def test_a_drained_node_holds_a_job_until_it_is_resumed(slurm: SlurmCluster, tmp_path: Path) -> None:
    slurm.drain("harness test")
    try:
        job_id = slurm.sbatch(f"--output={tmp_path}/out", "--wrap", "echo ran")
        # The reason squeue gives is the scheduler's (node drained), not the drain's own text,
        # which sinfo -R and scontrol show node carry.
        reason = poll_until(lambda: _held_by_drain(slurm, job_id), JOB_TIMEOUT,
                            f"job {job_id} to wait for the drained node")
        assert slurm.job(job_id)["JobState"] == "PENDING", reason
        assert "Reason=harness test" in slurm.run("scontrol", "show", "node", slurm.node).stdout
    finally:
        slurm.resume()

    assert wait_for_state(slurm, job_id, "COMPLETED", "FAILED", "CANCELLED") == "COMPLETED"
    assert (tmp_path / "out").read_text() == "ran\n"


def test_a_second_cluster_on_the_same_host_runs_beside_the_first(slurm: SlurmCluster, tmp_path: Path) -> None:
    """Both name their node after the host; own ports and sockets keep them apart."""
    other = SlurmCluster("jobdeckother")
    try:
        other.start(tmp_path / "other")
        assert other.node == slurm.node and other.env != slurm.env
        job_id = other.sbatch("--job-name=on-the-other", f"--output={tmp_path}/out", "--wrap", "sleep 30")
        wait_for_state(other, job_id, "RUNNING")
        assert "on-the-other" not in slurm.run("squeue", "-h", "-o", "%j").stdout
    finally:
        other.stop()

    assert other.processes() == [], "the stopped cluster left processes (its running job) behind"
    job_id = slurm.sbatch(f"--output={tmp_path}/after", "--wrap", "true")
    assert wait_for_state(slurm, job_id, "COMPLETED", "FAILED", "CANCELLED") == "COMPLETED"
