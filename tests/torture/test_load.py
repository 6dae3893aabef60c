"""Load: thousands of queued jobs plus dozens of concurrent LLM calls; the runner's peak memory.

The runner's high-water RSS (VmHWM in /proc/<pid>/status, polled until it
exits) must stay under 300 MB, every job must end done, and the LLM jobs must
really overlap at the local server (else the test measured nothing).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.llm_server import LLMServer
from tests.functional.runner_kit import make_deck
from tests.torture.kit import board, env_for, jobdeck, write_figure

RSS_LIMIT_MB = 300


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def _overlap(calls: list) -> int:  # type: ignore[type-arg]
    """The most requests the server had started within any 0.2 s window (latency is 1 s)."""
    times = sorted(call.at for call in calls)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > 0.2:
            start += 1
        best = max(best, end - start + 1)
    return best


def _load(tmp_path: Path, queued: int, llm: int, name: str) -> None:
    with LLMServer(latency=1.0) as server:
        jobs = [{"id": f"q{i:05d}", "command": ["true"]} for i in range(queued)]
        jobs += [{"id": f"llm{i:03d}", "agent": "local", "model": "openai/load", "prompt": f"job {i}"}
                 for i in range(llm)]
        agents = {"local": {"type": "llm", "api_base": server.base_url, "api_key": {"env": "LOAD_KEY"},
                            "options": {"retry_delay": 0.01}}}
        # LLM jobs first in priority so all of them are in flight while the queue drains
        for job in jobs[queued:]:
            job["priority"] = 10
        deck = make_deck(tmp_path, jobs, agents=agents, limits={"parallel": llm + 4})
        began = time.monotonic()
        runner = subprocess.Popen([sys.executable, "-m", "jobdeck", "run", "--once", "--quiet"], cwd=deck,
                                  env=env_for(deck, LOAD_KEY="sk-load"), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        peak = 0
        while runner.poll() is None:
            peak = max(peak, _vm_hwm_kb(runner.pid) or 0)
            time.sleep(0.05)  # sampling a monotonic high-water mark: no race to lose
        took = time.monotonic() - began
        err = runner.stderr.read() if runner.stderr else ""
        calls = server.calls("load")
    states = board(deck)
    not_done = [j for j in (job["id"] for job in jobs) if states.get(j) is None or states[j].status.value != "done"]
    assert not_done == [], f"{len(not_done)} jobs not done: {not_done[:5]}\n{err[-2000:]}"
    assert len(calls) == llm
    overlap = _overlap(calls)
    assert overlap >= llm * 0.8, f"only {overlap} LLM calls overlapped"
    peak_mb = peak / 1024
    write_figure(name, {"queued": queued, "llm": llm, "llm_overlap": overlap, "peak_rss_mb": round(peak_mb, 1),
                        "rss_target_mb": RSS_LIMIT_MB, "seconds": round(took, 1), "lost": len(not_done)})
    assert jobdeck(deck, "audit", "verify").returncode == 0
    assert peak_mb < RSS_LIMIT_MB, f"runner peak RSS {peak_mb:.0f} MB"



def test_queued_jobs_and_concurrent_llm_calls_stay_within_memory(tmp_path: Path) -> None:
    _load(tmp_path, queued=300, llm=20, name="load")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_load_long(tmp_path: Path) -> None:
    _load(tmp_path, queued=10_000, llm=50, name="load_long")
