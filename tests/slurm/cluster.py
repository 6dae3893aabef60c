"""A real single-node Slurm cluster, started in a directory for the test suite.

The slurm executor's tests submit real jobs, so they need a real controller
(slurmctld), a real compute node (slurmd) and the munge daemon that
authenticates the two. A ``SlurmCluster`` runs all three as children of the
test process, with everything they write (key, config, state, spool, logs) in
one directory, so that nothing is read from or written to /etc or /var and the
machine's own services, if any, are left alone.

Several clusters can run on one host at once (``pytest -n 2`` starts one per
worker): each has its own directory, munge socket, ClusterName and TCP ports.
They all name their node after the host, as slurmd identifies its node by the
host name; that is no conflict, because a node is only a name inside its own
controller, and each slurmd listens on its own port. Controller and node are
reached at 127.0.0.1, so a host name that does not resolve does no harm.

Every process of a cluster, the daemons, the slurmstepd of each job and the
job's own processes, carries the cluster's ``SLURM_CONF`` in its environment
(slurmd passes its own to slurmstepd, which sets it for the job), so ``stop``
finds whatever is left by that, and never touches another cluster's processes.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

#: The binaries a cluster needs, clients and daemons.
BINARIES = ("sbatch", "squeue", "scontrol", "scancel", "sinfo", "slurmctld", "slurmd", "munged", "munge")

#: Partitions every cluster has: ``debug`` is the default, ``gpu`` only a second name
#: (no GPUs), so that tests and examples can choose a partition.
PARTITIONS = ("debug", "gpu")

#: Startup and restart of the daemons take about a second; this is a hard limit
#: for a loaded CI machine, not an expected time.
START_TIMEOUT = 60.0

#: Unix socket paths are limited to 108 bytes; slurmd puts sockets in its spool directory too.
MAX_SOCKET_PATH = 100

T = TypeVar("T")


class SlurmError(RuntimeError):
    """The cluster could not start or answer; the message holds the daemons' log tails."""


def poll_until(check: Callable[[], T | None], timeout: float, what: str, *,
               interval: float = 0.1, on_timeout: Callable[[], str] = lambda: "") -> T:
    """Call ``check`` until it returns something other than None (or False), and return that.

    Raise ``SlurmError`` naming ``what`` (and whatever ``on_timeout`` adds) after ``timeout``
    seconds. Tests use it for every wait on the cluster instead of sleeping for a guess.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise SlurmError(f"timed out after {timeout:g}s waiting for {what}{on_timeout()}")
        time.sleep(interval)


def missing_binaries() -> list[str]:
    """The binaries of ``BINARIES`` not found on PATH (or in /usr/sbin, where Debian puts daemons)."""
    return [name for name in BINARIES if shutil.which(name, path=_daemon_path()) is None]


def _free_port(taken: set[int]) -> int:
    """A TCP port nothing listens on, below the usual ephemeral range (32768 up).

    Ports from the ephemeral range could be handed to some outgoing connection
    before the daemon binds them; a random choice keeps two clusters started at
    the same moment apart.
    """
    while True:
        port = random.randrange(20000, 32000)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
        return port


def _tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, or a note that it is missing."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


class SlurmCluster:
    """munged, slurmctld and slurmd for one node, all in one directory.

    Use ``start(directory)``, then run client commands with ``env`` (or ``run``),
    and always ``stop()``. ``partitions`` lists the partitions; ``node`` is the
    node's name.
    """

    def __init__(self, name: str = "jobdeck") -> None:
        #: ClusterName: Slurm keeps it in lower case; distinct clusters need not differ in it
        #: (state is per directory) but it tells their logs apart.
        self.name = name.lower()
        self.node = socket.gethostname().split(".")[0]
        self.partitions = PARTITIONS
        self.directory: Path | None = None
        self._daemons: dict[str, subprocess.Popen[bytes]] = {}

    # -- what clients need -------------------------------------------------

    @property
    def conf(self) -> Path:
        """The cluster's slurm.conf."""
        if self.directory is None:
            raise SlurmError("the cluster is not started")
        return self.directory / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """Variables a Slurm client needs to talk to this cluster, to add to an environment.

        Only ``SLURM_CONF``: the config names the controller's port and the munge socket.
        Merge it over ``os.environ`` for a subprocess (``{**os.environ, **cluster.env}``),
        or pass it as the extra environment of a ``jobdeck run``.
        """
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *args: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command (``run("squeue", "-h")``) against this cluster.

        It runs in the cluster's directory, so a job submitted without ``--output``
        leaves its slurm-ID.out there, not in the repository.
        """
        result = subprocess.run(args, env={**os.environ, **self.env}, capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL, cwd=self.directory)
        if check and result.returncode != 0:
            raise SlurmError(f"{' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        return result

    def sbatch(self, *args: str) -> str:
        """Submit a batch job (``sbatch("--wrap", "echo hi")``) and return its id."""
        return self.run("sbatch", "--parsable", *args).stdout.strip().split(";")[0]

    def job(self, job_id: str) -> dict[str, str]:
        """The controller's record of a job (``scontrol show job``) as a dict: ``job(id)["JobState"]``.

        Values holding spaces (the command, say) come out cut at the space; the
        fields tests look at (JobState, Reason, ExitCode, NodeList...) have none.
        """
        line = self.run("scontrol", "show", "--oneliner", "job", job_id).stdout
        return dict(field.split("=", 1) for field in line.split() if "=" in field)

    # -- lifecycle -----------------------------------------------------------

    def start(self, directory: Path) -> None:
        """Write the key and config into ``directory``, start the daemons and wait for an idle node.

        On any failure everything started is stopped again and ``SlurmError`` says
        why, with the tails of the daemons' logs.
        """
        self.directory = Path(directory).resolve()
        socket_path = self.directory / "munge.socket"
        if len(str(socket_path)) > MAX_SOCKET_PATH:
            raise SlurmError(f"{self.directory} is too long a path for the cluster's unix sockets")
        try:
            self._write_files()
            self._start_munged()
            self._start("slurmctld")
            self._start("slurmd")
            poll_until(lambda: self._node_state() == "idle", START_TIMEOUT, f"node {self.node} to be idle",
                       on_timeout=self._logs)
        except BaseException:
            self.stop()
            raise

    def restart_controller(self) -> None:
        """Stop slurmctld as an admin would (SIGTERM, it saves its state) and start it again.

        Running jobs carry on under slurmstepd meanwhile; the new controller reads
        them back from StateSaveLocation. Returns once the controller answers.
        """
        self._terminate("slurmctld")
        self._start("slurmctld")
        poll_until(lambda: self._alive("slurmctld") and "is UP" in self.run("scontrol", "ping", check=False).stdout,
                   START_TIMEOUT, "slurmctld to answer after a restart", on_timeout=self._logs)

    def drain(self, reason: str) -> None:
        """Drain the node: running jobs go on, no new job starts on it."""
        self.run("scontrol", "update", f"nodename={self.node}", "state=drain", f"reason={reason}")

    def resume(self) -> None:
        """Undo ``drain``: pending jobs may start again."""
        self.run("scontrol", "update", f"nodename={self.node}", "state=resume")

    def stop(self) -> None:
        """Stop the daemons, then kill every process left of this cluster (job steps too).

        Safe to call at any point, more than once, and on a cluster that never
        started: the test session's teardown and a failed ``start`` both rely on it.
        """
        for name in ("slurmd", "slurmctld", "munged"):
            if name in self._daemons:
                self._terminate(name)
        if self.directory is not None:
            poll_until(self._kill_leftovers, 10, f"the processes of {self.directory} to exit")

    def processes(self) -> list[int]:
        """The ids of the processes that belong to this cluster: daemons, job steps, jobs.

        Found by the cluster's ``SLURM_CONF`` in their environment (see the module's doc).
        """
        if self.directory is None:
            return []
        marker = f"\0SLURM_CONF={self.conf}\0".encode()
        return [pid for pid in _pids() if pid != os.getpid() and marker in _environ(pid)]

    # -- inside ------------------------------------------------------------

    def _write_files(self) -> None:
        """The munge key and slurm.conf, and the directories slurm.conf names."""
        assert self.directory is not None
        d = self.directory
        for sub in ("state", "spool"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        key = d / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        ctld_port = _free_port(set())
        slurmd_port = _free_port({ctld_port})
        user = pwd.getpwuid(os.getuid()).pw_name
        self.conf.write_text(f"""\
# A one-node test cluster written by tests/slurm/cluster.py; everything lives in {d}.
ClusterName={self.name}
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={d}/munge.socket
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
# slurmstepd logs to SlurmdLogFile; the daemons' own messages also go to DAEMON.stderr.
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
# No cgroups, accounting database or MPI: nothing beyond the two daemons to set up.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Pending jobs are looked at every second, not every minute, so a job held by a
# drain or a busy node starts within a second of becoming able to.
SchedulerParameters=sched_interval=1,bf_interval=1
# A cancelled job is killed 2 s after SIGTERM instead of 30.
KillWait=2
# Finished jobs stay visible to scontrol for 5 minutes (the default, said
# here because the executor reads a job's end from them: there is no sacct).
MinJobAge=300
# A node that was down comes back by itself once its slurmd registers.
ReturnToService=2
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN
PartitionName={PARTITIONS[0]} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName={PARTITIONS[1]} Nodes=ALL MaxTime=INFINITE State=UP
""")

    def _start_munged(self) -> None:
        """Start munged on the cluster's own key and socket, and wait until it answers.

        ``-f`` (force) because munged refuses directories it finds too open (a
        pytest temp dir, for one), and the key is throwaway anyway.
        """
        assert self.directory is not None
        d = self.directory
        self._spawn("munged", ["munged", "--foreground", "--force", f"--key-file={d}/munge.key",
                               f"--socket={d}/munge.socket", f"--pid-file={d}/munged.pid",
                               f"--seed-file={d}/munge.seed"])
        poll_until(lambda: self._alive("munged") and subprocess.run(
            ["munge", "--no-input", f"--socket={d}/munge.socket"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0,
            START_TIMEOUT, "munged to answer", on_timeout=self._logs)

    def _start(self, daemon: str) -> None:
        """Start slurmctld or slurmd in the foreground (-D), as our child, on this cluster's config."""
        self._spawn(daemon, [daemon, "-D", "-f", str(self.conf)])

    def _spawn(self, name: str, argv: list[str]) -> None:
        """Start a daemon with the cluster's environment, its stdout and stderr appended to NAME.stderr.

        Its own session keeps a Ctrl-C of the test run away from it: teardown stops it.
        """
        assert self.directory is not None
        with open(self.directory / f"{name}.stderr", "ab") as log:
            self._daemons[name] = subprocess.Popen(
                argv, env={**os.environ, **self.env, "PATH": _daemon_path()}, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.directory)

    def _alive(self, name: str) -> bool:
        """True while the daemon runs; raise with its log if it has exited."""
        process = self._daemons[name]
        if process.poll() is None:
            return True
        raise SlurmError(f"{name} exited with status {process.returncode}{self._logs()}")

    def _terminate(self, name: str) -> None:
        """SIGTERM a daemon and wait for it to exit (SIGKILL if it will not)."""
        process = self._daemons.pop(name)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _node_state(self) -> str | None:
        """The node's state as sinfo tells it (``idle``, ``mixed``, ``drained``...), None if no answer.

        Also checks the daemons are still up, so a crash fails the wait at once.
        """
        for name in ("munged", "slurmctld", "slurmd"):
            self._alive(name)
        result = self.run("sinfo", "--noheader", f"--nodes={self.node}", "--format=%T", check=False)
        return result.stdout.split()[0] if result.returncode == 0 and result.stdout.strip() else None

    def _kill_leftovers(self) -> bool:
        """SIGKILL every process of this cluster; True once there are none."""
        left = self.processes()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return not left

    def _logs(self) -> str:
        """The tails of the daemons' logs, for an error message."""
        assert self.directory is not None
        return "".join(f"\n--- {self.directory / f'{name}.stderr'}:\n{_tail(self.directory / f'{name}.stderr')}"
                       for name in ("munged", "slurmctld", "slurmd"))


def _daemon_path() -> str:
    """PATH with the sbin directories, where Debian installs the daemons (not on a user's PATH)."""
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _pids() -> list[int]:
    """The ids of all processes on the host."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _environ(pid: int) -> bytes:
    """A process's environment as /proc has it (NUL-separated, with a leading NUL added), or b''."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return b"\0" + f.read()
    except OSError:
        return b""
