"""The ``slurm`` fixture: one real Slurm cluster per test process, for every test in tests/slurm.

It is session-scoped, so the cluster starts once per pytest process (once per
xdist worker: each worker runs its own cluster, with its own ports), and autouse
here, so no test in this folder runs without one.

A cluster that cannot start fails the tests that need it rather than skipping
them: a skipped executor test would pass CI unseen. Only ``JOBDECK_NO_SLURM=1``,
set on purpose, skips them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.slurm.cluster import SlurmCluster, SlurmError, missing_binaries


@pytest.fixture(scope="session", autouse=True)
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A started single-node ``SlurmCluster``, stopped (every process of it) at the end of the session."""
    if os.environ.get("JOBDECK_NO_SLURM") == "1":
        pytest.skip("JOBDECK_NO_SLURM=1 is set: the Slurm tests are turned off")
    if missing := missing_binaries():
        pytest.fail("slurm-wlm and munge are not installed: .ci/run installs them (apt-get install -y slurm-wlm munge)"
                    f" [missing: {', '.join(missing)}]", pytrace=False)
    cluster = SlurmCluster(f"jobdeck{os.environ.get('PYTEST_XDIST_WORKER', '')}")
    try:
        cluster.start(tmp_path_factory.mktemp("slurm"))
    except SlurmError as error:
        pytest.fail(f"the test Slurm cluster did not start: {error}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
