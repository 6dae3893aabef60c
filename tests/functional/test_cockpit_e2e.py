"""bin/cockpit-e2e: a real runner and the cockpit in tmux; approve from the keyboard, see Done."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_approve_from_the_keyboard_moves_the_job_to_done() -> None:
    result = subprocess.run([str(ROOT / "bin" / "cockpit-e2e")], capture_output=True, text=True, timeout=240,
                            env={"PATH": "/usr/bin:/bin:/usr/local/bin", "PYTHON": sys.executable,
                                 "HOME": str(Path.home())})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "publish is in Done" in result.stdout and "PASS" in result.stdout
