"""A full disk under output piped through the redactor: the attempt fails saying so, and freeing space is enough.

A job that can see a secret has its output relayed by the runner, which writes
it; a failed write there must end only that attempt (``runner_error``, naming the
full filesystem), print no traceback, and close the file, so removing it frees
the space for the next job while the same runner runs on. The deck lives on a
2 MiB tmpfs in a mount namespace of the test's own, as in ``test_full_disk.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, cli_env
from test_full_disk import namespaces

SECRET = "sk-disk-full-secret-0123456789"

SCRIPT = r"""
set -eu
deck=$1 out=$2
mount -t tmpfs -o size=2m none "$deck"
job() { printf '{"id": "%s", "command": ["sh", "-c", "%s"], "env": {"KEY": {"env": "MYKEY"}}}' "$1" "$2"; }
echo "{\"jobs\": [$(job filler "head -c 3000000 /dev/zero | tr '\\\\0' b")]}" > "$deck/jobs.json"
cd "$ROOT"
jd() { "$PY" -m jobdeck --deck "$deck" "$@"; }
column() {
    jd ls --json | "$PY" -c "import json, sys; print({c['id']: c['column'] for c in json.load(sys.stdin)}.get('$1'))"
}
until_column() {  # wait (bounded) until job $1 is in column $2
    for _ in $(seq 600); do [ "$(column "$1")" = "$2" ] && return 0; sleep 0.1; done
    echo "timed out waiting for $1 to be $2" >&2; return 1
}
"$PY" -m jobdeck --deck "$deck" run > "$out/runner.log" 2>&1 &  # not through jd: $! must be the runner
runner=$!
until_column filler failed
ls -l "/proc/$runner/fd" > "$out/fds.txt"
rm "$deck/workspaces/default/runs/filler/1/output"
df -B1 --output=avail "$deck" | tail -1 > "$out/avail.txt"
echo "{\"jobs\": [$(job filler true), $(job after 'echo fits')]}" > "$deck/jobs.json"
until_column after done
cat "$deck/workspaces/default/runs/after/1/output" > "$out/after.txt"
kill -TERM "$runner"
wait "$runner" || true
cp "$deck/.jobdeck/events.jsonl" "$out/events.jsonl"
"""


def _on_a_full_deck(tmp_path: Path, script: str) -> tuple[Path, str]:
    """Run ``script`` (a deck on a 2 MiB tmpfs it mounts, in a mount namespace of its own); the folder it left its
    files in, and the runner's log."""
    mount, out = tmp_path / "m", tmp_path / "out"
    mount.mkdir()
    out.mkdir()
    env = cli_env({"PY": sys.executable, "ROOT": str(ROOT), "MYKEY": SECRET})
    done = subprocess.run(["unshare", "-rm", "bash", "-c", script, "script", str(mount), str(out)],
                          env=env, capture_output=True, text=True, timeout=180)
    log = (out / "runner.log").read_text() if (out / "runner.log").exists() else ""
    assert done.returncode == 0, done.stderr + log
    assert "stopped (on SIGTERM" in log, log  # the script's runner is gone: none outlives the test
    return out, log


@pytest.mark.skipif(not namespaces(), reason="needs `unshare -rm` (user and mount namespaces)")
def test_a_redacted_output_that_fills_the_deck_fails_cleanly_and_frees_its_space(tmp_path: Path) -> None:
    out, log = _on_a_full_deck(tmp_path, SCRIPT)
    assert "Traceback" not in log and "Exception in callback" not in log, log
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    [failed] = [e for e in events if e.get("type") == "failed" and e.get("job") == "filler"]
    assert failed["reason"] == "runner_error", failed
    assert failed["message"] == ("could not write output: No space left on device; "
                                 "the deck's filesystem is full (0 B free)"), failed
    assert "runs/filler/1/output" not in (out / "fds.txt").read_text(), "the failed attempt's output is still open"
    assert int((out / "avail.txt").read_text()) > 1024 * 1024, "removing the output freed nothing"
    assert (out / "after.txt").read_text() == "fits\n"


CANCEL_SCRIPT = r"""
set -eu
deck=$1 out=$2
mount -t tmpfs -o size=2m none "$deck"
echo '{"jobs": [{"id": "filler", "command": ["sh", "-c", "head -c 3000000 /dev/zero | tr \"\\\\0\" b; sleep 60"], "env": {"KEY": {"env": "MYKEY"}}}]}' > "$deck/jobs.json"
cd "$ROOT"
jd() { "$PY" -m jobdeck --deck "$deck" "$@"; }
"$PY" -m jobdeck --deck "$deck" run > "$out/runner.log" 2>&1 &  # not through jd: $! must be the runner
runner=$!
for _ in $(seq 600); do  # until the output has filled the disk (the job then sleeps)
    [ "$(df -B1 --output=avail "$deck" | tail -1)" -lt 65536 ] && [ -s "$deck/workspaces/default/runs/filler/1/output" ] && break
    sleep 0.1
done
jd cancel filler
for _ in $(seq 600); do grep -q '"type": *"failed"' "$deck/.jobdeck/events.jsonl" && break; sleep 0.1; done
kill -TERM "$runner"
wait "$runner" || true
cp "$deck/.jobdeck/events.jsonl" "$out/events.jsonl"
"""


@pytest.mark.skipif(not namespaces(), reason="needs `unshare -rm` (user and mount namespaces)")
def test_a_cancel_of_an_attempt_whose_output_filled_the_deck_ends_it_cancelled(tmp_path: Path) -> None:
    """The output's failure, raised as the cancel unwound the attempt, took the cancel's place: runner_error."""
    out, log = _on_a_full_deck(tmp_path, CANCEL_SCRIPT)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    ends = [(e["type"], e.get("reason")) for e in events if e.get("job") == "filler" and e.get("type") in
            ("failed", "succeeded", "interrupted")]
    assert ends == [("failed", "cancelled")], (ends, log)
    assert "Traceback" not in log, log
