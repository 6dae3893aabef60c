"""Is a process that wrote a record still there? Asked of /proc by the process's identity, not its pid alone.

A pid only means something on the machine, boot and pid namespace it came from (its
``Origin``), and even there the kernel hands it out again (with the default
``pid_max`` of 32768, within minutes). So a record that a reader must judge a
process by (a runner's heartbeat, an attempt's boundary) carries the writer's
origin, pid and start time (clock ticks since boot, field 22 of ``/proc/PID/stat``):
the pair names one process for the life of the boot. Where /proc cannot say, the
answer is None and the caller keeps its slower rule (a heartbeat's age).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing.NamedTuple compiles
# each string annotation (the first ~0.6 ms, then ~15 µs a field), and every command imports these classes.

import functools
import os
from typing import NamedTuple


class Origin(NamedTuple):
    """Where a pid means something: one host, one boot of it, one pid namespace."""

    host: str
    boot: str
    """``/proc/sys/kernel/random/boot_id``: new at each boot."""
    pid_namespace: int
    """The inode of ``/proc/self/ns/pid``: a container has its own."""


@functools.cache
def origin() -> Origin | None:
    """This process's origin, or None where /proc does not give it (not Linux, /proc not mounted)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return Origin(os.uname().nodename, boot, namespace)


def start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), or None if /proc does not show it."""
    stat = _stat(pid)
    return stat[1] if stat is not None else None


def running(pid: int, start: int) -> bool | None:
    """Whether the process ``pid`` that started at ``start`` (of this origin) is running.

    False when it has ended (a zombie too) or its pid now names another process; None when
    /proc does not show it (hidden from this user) and it may still be there.
    """
    stat = _stat(pid)
    if stat is not None:
        state, started = stat
        return started == start and state not in (b"Z", b"X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return None
    return None


def _stat(pid: int) -> tuple[bytes, int] | None:
    """The state letter and start time from ``/proc/PID/stat``, or None if it cannot be read."""
    fields = stat_fields(pid)
    try:
        return (fields[0], int(fields[19])) if fields is not None else None
    except (IndexError, ValueError):
        return None


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` after the command name (the state letter first), or None if it cannot
    be read (no such process, no /proc)."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # the command name (field 2) is in parentheses and may hold spaces and ")"
    return data[data.rfind(b")") + 2:].split()


def process_alive(pid: int) -> bool:
    """Whether some process ``pid`` exists (one of another user's counts): for records that give no start time."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or a number we cannot judge: keep its file
    return True
