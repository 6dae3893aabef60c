"""The Slurm engine: sbatch, squeue, scontrol and scancel (sacct where accounting exists), for ``agents/remote.py``.

The client commands run without a shell, with the runner's Slurm settings
(``SLURM_CONF`` and the like, see ``remote.client_env``). ``sbatch`` alone gets
the attempt's whole environment, which it exports to the job (``--export=ALL``):
no value of it is ever on a command line. Slurm keeps a job's environment and
script in its controller's state directory, readable by SlurmUser only. The
output files are created with umask 077 (Slurm takes the submitter's umask).
"""

from __future__ import annotations

import asyncio
import math
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING

from jobdeck.agents.remote import Engine, EngineUnreachable, RemoteState, Submission, SubmitRefused

if TYPE_CHECKING:
    from jobdeck.state.spec import Executor

CONCURRENT_COMMANDS = 8
"""Client commands in flight at once (the engine's threads): a runner that claims a hundred
attempts does not hit the controller with a hundred sbatch calls at the same moment."""
COMMAND_TIMEOUT = 60.0
"""Seconds a client command may take (Slurm's own MessageTimeout is 10 s, and a client retries)."""

QUEUED = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
                    "SUSPENDED", "STOPPED"})
RUNNING = frozenset({"RUNNING", "SIGNALING", "STAGE_OUT"})
"""Every other state (COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL...) has ended."""

UNREACHABLE = ("Unable to contact slurm controller", "Socket timed out", "Connection refused",
               "Zero Bytes were transmitted", "Transport endpoint is not connected", "temporarily unavailable")
"""What a client prints when the controller did not answer (so nothing is known), rather than saying no."""


class SlurmEngine(Engine):
    """Submits attempts with sbatch; one squeue call looks at all of them."""

    kind = "slurm"

    def __init__(self, name: str, spec: Executor, env: Mapping[str, str]) -> None:
        super().__init__(name, spec, env)
        self._pool: ThreadPoolExecutor | None = None
        self._accounting: bool | None = None
        """Whether ``sacct`` answers here (None: not asked yet)."""

    async def submit(self, submission: Submission) -> str:
        argv = ["sbatch", "--parsable", f"--job-name={submission.name}", f"--output={submission.stdout}",
                f"--error={submission.stderr}", "--open-mode=append", f"--chdir={submission.cwd}", "--export=ALL"]
        if self.spec.partition is not None:
            argv.append(f"--partition={self.spec.partition}")
        if submission.time_limit is not None:
            argv.append(f"--time={time_limit(submission.time_limit)}")
        argv += [f"--{key}={value}" for key, value in self.spec.options.items()]
        argv.append(str(submission.script))
        code, out, err = await self._run(argv, env=submission.env)
        if code != 0:
            line = last_line(err) or f"sbatch exited with code {code}"
            if any(word in line for word in UNREACHABLE):
                raise EngineUnreachable(line)
            raise SubmitRefused(line)
        job_id = out.strip().split(";")[0]
        if not job_id.isdigit():
            raise EngineUnreachable(f"sbatch answered {out.strip()[:80]!r}, not a job id")
        return job_id

    async def find(self, name: str) -> str | None:
        code, out, err = await self._run(["squeue", "-h", "--states=all", f"--name={name}", "-o", "%i"])
        if code != 0:
            raise EngineUnreachable(last_line(err) or f"squeue exited with code {code}")
        ids = out.split()
        return ids[-1] if ids else None

    async def look(self, ids: Sequence[str]) -> dict[str, RemoteState]:
        if not ids:
            return {}
        code, out, err = await self._run(["squeue", "-h", "--states=all", "-j", ",".join(ids),
                                          "-o", "%i|%T|%r|%N"])
        seen: dict[str, RemoteState] = {}
        if code != 0 and "Invalid job id" not in err:  # (that one: none of them is in the controller's memory)
            raise EngineUnreachable(last_line(err) or f"squeue exited with code {code}")
        for line in out.splitlines() if code == 0 else ():
            parts = line.split("|")
            if len(parts) != 4:
                continue
            job_id, word, why, where = parts
            if word in QUEUED:
                seen[job_id] = RemoteState("queued", why=why if why and why != "None" else None, word="PD")
            elif word in RUNNING:
                seen[job_id] = RemoteState("running", where=where or None, word=word)
            else:
                seen[job_id] = RemoteState("ended", word=word)
        ended = [job_id for job_id, state in seen.items() if state.phase == "ended"]
        for job_id in ended:
            seen[job_id] = await self._ended(job_id, seen[job_id])
        forgotten = [job_id for job_id in ids if job_id not in seen]
        if forgotten:  # past MinJobAge the controller forgets a job; accounting, where there is any, does not
            seen.update(await self._accounted(forgotten))
        return {job_id: seen.get(job_id, RemoteState("gone")) for job_id in ids}

    async def _accounted(self, ids: Sequence[str]) -> dict[str, RemoteState]:
        """The jobs accounting knows (``sacct``), with their end and exit status; nothing without accounting."""
        if self._accounting is False:
            return {}
        try:
            code, out, err = await self._run(["sacct", "-n", "-X", "-P", "-j", ",".join(ids),
                                              "-o", "JobIDRaw,State,ExitCode"])
        except EngineUnreachable as exc:  # no sacct at all, or it hangs: the jobs stay as squeue says
            code, out, err = 1, "", str(exc)
        if code != 0:
            if "disabled" in err or "not found" in err:  # no accounting here: not asked again
                self._accounting = False
            return {}
        self._accounting = True
        found: dict[str, RemoteState] = {}
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) != 3 or parts[0] not in ids:
                continue
            job_id, state, exit_code = parts[0], parts[1].split(" ")[0], parts[2]
            if state in QUEUED:
                found[job_id] = RemoteState("queued", word="PD")
            elif state in RUNNING:
                found[job_id] = RemoteState("running", word=state)
            else:
                found[job_id] = RemoteState("ended", word=state, exit_code=exit_status(exit_code))
        return found

    async def _ended(self, job_id: str, state: RemoteState) -> RemoteState:
        """An ended job with its exit status (``scontrol``: ExitCode=code:signal of the batch script)."""
        code, out, _ = await self._run(["scontrol", "show", "job", "-o", job_id])
        if code != 0:
            return state
        fields = dict(item.partition("=")[::2] for item in out.split())
        return RemoteState("ended", word=fields.get("JobState", state.word),
                           exit_code=exit_status(fields.get("ExitCode", "")))

    async def signal(self, job_id: str, signum: int) -> None:
        # --full: the batch script and everything it started, not only job steps
        await self._run(["scancel", "--full", f"--signal={signum}", job_id])

    async def cancel(self, job_id: str) -> None:
        await self._run(["scancel", job_id])

    async def _run(self, argv: list[str], env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        """Run a client command: (exit status, stdout, stderr). A command that cannot start or
        answer in time is an unreachable engine.

        Each runs on a thread of the engine's own, not as an asyncio subprocess: a runner that
        ends while a look is in flight is not held up by cancelling it (the thread finishes the
        command, which answers or times out), and asyncio's child watcher never meets the
        processes the runner reaps itself.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(CONCURRENT_COMMANDS, thread_name_prefix=f"slurm-{self.name}")
        run = partial(_command, argv, dict(env if env is not None else self.env))
        return await asyncio.get_running_loop().run_in_executor(self._pool, run)


def _command(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, umask=0o077,
                              timeout=COMMAND_TIMEOUT, check=False)
    except FileNotFoundError:
        raise EngineUnreachable(f"{argv[0]} not found on PATH (is the Slurm client installed?)") from None
    except subprocess.TimeoutExpired:
        raise EngineUnreachable(f"{argv[0]} did not answer within {COMMAND_TIMEOUT:g}s") from None
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def exit_status(text: str) -> int | None:
    """Slurm's ``code:signal`` as an exit status, minus the signal when one killed the batch script."""
    status, _, signum = text.partition(":")
    if signum.isdigit() and int(signum):
        return -int(signum)
    return int(status) if status.isdigit() else None


def time_limit(seconds: float) -> str:
    """sbatch's ``--time`` in whole minutes, rounded up, plus one: the runner's own timer comes first."""
    return str(max(1, math.ceil(seconds / 60)) + 1)


def last_line(text: str) -> str:
    """The last non-empty line of a client's message, without its ``sbatch: error:`` prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1]
    for prefix in ("sbatch: error: ", "squeue: error: ", "scontrol: error: ", "scancel: error: "):
        if line.startswith(prefix):
            return line[len(prefix):]
    return line
