"""Run the jobdeck CLI with an audit hook that records every process it starts.

Usage: ``JOBDECK_AUDIT_LOG=FILE python -m tests.torture.audited ARGS...`` (the
arguments of ``jobdeck``). Each ``subprocess.Popen`` audit event becomes one JSON
line ``{"executable": ..., "argv": [...]}``, so a test can prove no shell was
started for a job that did not ask for one (asyncio's subprocesses go through
``subprocess.Popen`` too).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _install(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "subprocess.Popen":
            executable, argv = args[0], args[1]
            argv = [os.fsdecode(a) for a in argv] if isinstance(argv, (list, tuple)) else [os.fsdecode(argv)]
            os.write(fd, (json.dumps({"executable": os.fsdecode(executable) if executable else None,
                                      "argv": argv}) + "\n").encode())

    sys.addaudithook(hook)


if __name__ == "__main__":
    _install(os.environ["JOBDECK_AUDIT_LOG"])
    from jobdeck.cli.main import main

    sys.exit(main(sys.argv[1:]))
