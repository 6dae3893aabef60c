"""A deck on a full filesystem: the failure says why, and `status --check` says so before.

The deck lives on a 2 MiB tmpfs mounted in a mount namespace of the test's own
(``unshare -rm``: a user namespace maps the caller to root there, so this runs
as any user). Everything, the runner included, runs inside it: the tmpfs is gone
when the namespace's last process exits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, cli_env

SCRIPT = r"""
set -eu
mount -t tmpfs -o size=2m none "$1"
cd "$1"
cat > jobs.json <<'EOF'
{"jobs": [{"id": "fill", "command": ["sh", "-c", "head -c 4000000 /dev/zero"]},
          {"id": "small", "command": ["echo", "fits"]}]}
EOF
run() { "$PY" -m jobdeck --deck "$1" "${@:2}"; }
cd "$ROOT"
run "$1" run --once --quiet >/dev/null 2>&1 || true
run "$1" ls --json > "$2/ls.json"
run "$1" status --check --json > "$2/status.json" || echo "$?" > "$2/status.rc"
"""


def namespaces() -> bool:
    """Whether this machine lets the test mount a tmpfs in a namespace of its own."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not namespaces(), reason="needs `unshare -rm` (user and mount namespaces)")
def test_a_job_that_fills_the_deck_fails_saying_so_and_status_reports_it(tmp_path: Path) -> None:
    mount, out = tmp_path / "m", tmp_path / "out"
    mount.mkdir()
    out.mkdir()
    env = cli_env({"PY": sys.executable, "ROOT": str(ROOT)})
    done = subprocess.run(["unshare", "-rm", "bash", "-c", SCRIPT, "script", str(mount), str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    cards = {card["id"]: card for card in json.loads((out / "ls.json").read_text())}
    assert cards["fill"]["column"] == "failed"
    assert "the deck's filesystem is full (0 B free)" in json.dumps(cards["fill"]), cards["fill"]
    assert (out / "status.rc").read_text().strip() == "1"
    problems = json.loads((out / "status.json").read_text())["problems"]
    [low] = [p for p in problems if p["kind"] == "disk_low"]
    assert low["message"].startswith(f"the deck's filesystem ({mount}) has 0 B free, below --min-free 100 MiB")


def test_status_reports_a_filesystem_below_the_floor_and_none_at_zero(tmp_path: Path) -> None:
    """On the test's own filesystem, with a floor above anything it holds: the check reads the real filesystem."""
    (tmp_path / "jobs.json").write_text('{"jobs": []}')
    run = [sys.executable, "-m", "jobdeck", "--deck", str(tmp_path), "status", "--json"]
    high = subprocess.run([*run, "--min-free", "1000TiB"], cwd=ROOT, env=cli_env(), capture_output=True, text=True)
    [low] = [p for p in json.loads(high.stdout)["problems"] if p["kind"] == "disk_low"]
    assert " free, below --min-free 1000 TiB: jobs writing there will fail" in low["message"]
    for floor in ("0", "1MiB"):
        quiet = subprocess.run([*run, "--min-free", floor], cwd=ROOT, env=cli_env(), capture_output=True, text=True)
        assert [p for p in json.loads(quiet.stdout)["problems"] if p["kind"] == "disk_low"] == [], floor
    bad = subprocess.run([*run, "--min-free", "lots"], cwd=ROOT, env=cli_env(), capture_output=True, text=True)
    assert bad.returncode == 2 and "argument --min-free: 'lots' is not a size" in bad.stderr
