"""agents/child.py: real children watched from the event loop (exit via pidfd, pipes, stdin)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from jobdeck.agents.child import PIPE, Child

ENV = {"PATH": os.environ["PATH"], "LC_ALL": "C"}


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_exit_status_and_signal_death(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> tuple[int, int]:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            ok = Child.spawn(["sh", "-c", "exit 7"], cwd=tmp_path, env=ENV, stdout=null, stderr=null)
            killed = Child.spawn(["sh", "-c", "kill -TERM $$"], cwd=tmp_path, env=ENV, stdout=null, stderr=null)
            return await ok.wait(), await killed.wait()
        finally:
            os.close(null)

    assert run(main()) == (7, -signal.SIGTERM)


def test_piped_output_and_large_stdin_both_directions_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """1 MiB in and out through pipes far smaller than that: feeding and draining must interleave."""
    payload = bytes(range(256)) * 4096

    async def main() -> tuple[bytes, bytes, int]:
        out: list[bytes] = []
        err: list[bytes] = []
        child = Child.spawn([sys.executable, "-c", "import sys; d = sys.stdin.buffer.read(); "
                             "sys.stdout.buffer.write(d); sys.stderr.write('done')"],
                            cwd=tmp_path, env=ENV, stdout=PIPE, stderr=PIPE,
                            on_stdout=out.append, on_stderr=err.append, stdin=payload)
        code = await child.wait()
        await child.streams_closed()
        return b"".join(out), b"".join(err), code

    data, err, code = run(main())
    assert code == 0 and data == payload and err == b"done"


def test_a_child_that_ignores_its_stdin_does_not_hang_the_feeder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> int:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            child = Child.spawn(["true"], cwd=tmp_path, env=ENV, stdout=null, stderr=null, stdin=b"x" * 1_000_000)
            return await child.wait()
        finally:
            os.close(null)

    assert run(main()) == 0


def test_stdin_is_dev_null_without_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> bytes:
        out: list[bytes] = []
        child = Child.spawn(["sh", "-c", "cat; echo end"], cwd=tmp_path, env=ENV, stdout=PIPE, stderr=PIPE,
                            on_stdout=out.append, on_stderr=out.append)
        await child.wait()
        await child.streams_closed()
        return b"".join(out)

    assert run(main()) == b"end\n"


def test_cancelled_wait_leaves_the_exit_to_be_collected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> int:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            child = Child.spawn(["sleep", "0.2"], cwd=tmp_path, env=ENV, stdout=null, stderr=null)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(child.wait(), 0.01)
            return await child.wait()
        finally:
            os.close(null)

    assert run(main()) == 0


def test_missing_program_raises_before_anything_is_watched(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        Child.spawn(["/nonexistent/program"], cwd=tmp_path, env=ENV, stdout=PIPE, stderr=PIPE)

    with pytest.raises(FileNotFoundError):
        run(main())


def test_no_descriptor_leaks_across_many_children(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        for _ in range(50):
            child = Child.spawn(["true"], cwd=tmp_path, env=ENV, stdout=PIPE, stderr=PIPE,
                                on_stdout=lambda b: None, on_stderr=lambda b: None, stdin=b"in")
            await child.wait()
            await child.streams_closed()

    before = len(os.listdir("/proc/self/fd"))
    run(main())
    assert len(os.listdir("/proc/self/fd")) <= before + 2  # the loop's own selector and self-pipe
