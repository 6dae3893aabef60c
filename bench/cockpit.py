"""Cockpit latency and memory on decks of 100, 1,000 and 10,000 jobs, measured on a real terminal.

Usage: .venv/bin/python bench/cockpit.py [--jobs 100,1000,10000] [--runs 5] [--changes 5]

Each run starts `python -m jobdeck cockpit` on a pseudo-terminal (120x40) and
reads what it draws, the way a terminal would:

- first paint: from spawning the process to the board's column titles on the
  terminal (interpreter start, imports, reading jobs.json and the event log,
  first render), measured three ways: "cold", with no board.json so the whole
  log is folded; "warm", with the board.json snapshot a runner leaves behind;
  "cached", with the .jobdeck/cards.jsonl that `jobdeck ls` or the cockpit (on
  quit) leaves, painted before jobs.json is validated; "behind", the same with
  events appended after the cards were saved (a runner at work), so the first
  picture is corrected once the deck is read. Decks of 2,000 jobs or more with
  no saved cards ("cold", "warm") are painted from a preview of jobs.json and
  validated behind it;
- deck read: from spawning the process to the header's full form ("no
  runner"), i.e. jobs.json validated, the log folded, the board exact and the
  keys acting (the same moment as the first paint when nothing was deferred);
- change to screen: from another process's event being durable in
  events.jsonl (a running job succeeds) to the header's new running count on
  the terminal (file watcher, incremental fold, row move, repaint);
- memory: the cockpit's resident set size after the first paint.

Targets at 10,000 jobs: first paint under 1.5 s, change to screen under 250 ms.
Prints medians (and min/max) per deck size.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from jobdeck.state.board import Store  # noqa: E402
from jobdeck.state.deck import Deck, init_deck  # noqa: E402

RUNNING = 6
"""Jobs left running in each deck; each measured change finishes one of them."""
ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def build_deck(root: Path, jobs: int) -> Deck:
    """A deck of ``jobs`` jobs: 70% done, 10% failed, 5% in review, RUNNING running, the rest waiting."""
    spec_jobs = []
    for n in range(jobs):
        job: dict[str, object] = {"id": f"job-{n:05d}", "title": f"Step {n} of the pipeline",
                                  "command": ["echo", str(n)], "labels": [f"group-{n % 7}"]}
        if n % 10 and n % 10 != 9:
            job["depends_on"] = [f"job-{n - 1:05d}"]
        if n % 500 == 0:
            job["schedule"] = "0 2 * * *"
        if n % 250 == 3:
            job["risk"] = "high"
        spec_jobs.append(job)
    deck = init_deck(root, json.dumps({"limits": {"parallel": 8}, "jobs": spec_jobs}, indent=1).encode())
    now = time.time() - 3600
    claims, results = [], []
    finished = int(jobs * 0.85)
    for n in range(finished + RUNNING):
        claims.append({"type": "claimed", "job": f"job-{n:05d}", "attempt": 1, "runner": "bench",
                       "workspace": "default"})
    with Store(deck, from_snapshot=False) as store:
        store.refresh()
        stored, _ = store.commit(claims, now=now)
        for n, record in enumerate(stored[:finished]):
            job, token = record["job"], record["seq"]
            if n % 20 == 7:
                results.append({"type": "failed", "job": job, "token": token, "reason": "exit_code",
                                "exit_code": 1})
            elif n % 20 == 11:
                results.append({"type": "succeeded", "job": job, "token": token, "review": True,
                                "reasons": ["output is not valid JSON"], "cost": 0.001})
            else:
                results.append({"type": "succeeded", "job": job, "token": token, "cost": 0.0004})
        store.commit(results, now=now + 5)
    return deck


def running_tokens(deck: Deck) -> list[tuple[str, int]]:
    with Store(deck, from_snapshot=False) as store:
        store.refresh()
        return [(job, state.token) for job, state in store.board.jobs.items()
                if state.status.value == "running" and state.token is not None]


class Terminal:
    """A child process on a pseudo-terminal, with what it printed as plain text."""

    def __init__(self, argv: list[str], cwd: Path, size: tuple[int, int] = (120, 40)) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(size[0]), "LINES": str(size[1])}
        env.pop("NO_COLOR", None)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                        start_new_session=True)
        os.close(slave)
        self.master = master
        self.text = b""

    def wait_for(self, pattern: bytes, timeout: float = 30.0) -> float:
        """perf_counter() when ``pattern`` first shows in the output read from now on."""
        deadline = time.perf_counter() + timeout
        seen = b""
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"{pattern!r} not shown; last output: {self.text[-400:]!r}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                raise TimeoutError(f"the cockpit exited; output: {self.text[-400:]!r}") from None
            at = time.perf_counter()
            seen += chunk
            self.text = (self.text + chunk)[-200_000:]
            if pattern in ESCAPES.sub(b"", seen):
                return at

    def has_shown(self, pattern: bytes) -> bool:
        """Whether ``pattern`` is in what was read so far (the last 200 kB)."""
        return pattern in ESCAPES.sub(b"", self.text)

    def drain(self, quiet: float = 0.3) -> None:
        """Read until the terminal has been quiet for ``quiet`` seconds."""
        while select.select([self.master], [], [], quiet)[0]:
            try:
                self.text = (self.text + os.read(self.master, 1 << 16))[-200_000:]
            except OSError:
                return

    def cpu_seconds(self) -> float:
        """User + system CPU time the child has used (less sensitive to a busy machine than wall time)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


MODES = ("cold", "warm", "cached", "behind")


def one_run(template: Path, work: Path, changes: int, *,
            mode: str) -> tuple[float, float, float, list[float], float]:
    """(first paint s, its CPU s, deck read s, change-to-screen latencies s, RSS MB) for one start
    on a fresh copy."""
    deck_dir = work / "deck"
    subprocess.run(["rm", "-rf", str(deck_dir)], check=True)
    subprocess.run(["cp", "-a", str(template), str(deck_dir)], check=True)
    deck = Deck(deck_dir)
    if mode != "cold":
        with Store(deck, from_snapshot=False) as store:
            store.refresh()
            store.write_snapshot()
    if mode in ("cached", "behind"):
        subprocess.run([sys.executable, "-m", "jobdeck", "--deck", str(deck_dir), "ls", "--json"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    if mode == "behind":
        ids = [job["id"] for job in json.loads((deck_dir / "jobs.json").read_text())["jobs"]]
        waiting = ids[-5:]  # never claimed: pausing them is always allowed
        with Store(deck) as store:
            store.refresh()
            store.commit([{"type": "paused", "job": job, "by": "bench", "via": "cli"} for job in waiting])
    tokens = running_tokens(deck)
    term = Terminal([sys.executable, "-m", "jobdeck", "--deck", str(deck_dir), "cockpit"], ROOT)
    try:
        shown = term.wait_for(b"Failed ")
        first_paint = shown - term.started
        cpu = term.cpu_seconds()
        # the header's full form: the deck is read (a start from saved cards or a preview reads it now)
        read_at = shown if term.has_shown(b"no runner") else term.wait_for(b"no runner")
        read = read_at - term.started
        term.drain()
        rss = term.rss_mb()
        latencies = []
        running = len(tokens)
        capacity = 8
        with Store(deck) as store:
            store.refresh()
            for job, token in tokens[:changes]:
                store.commit([{"type": "succeeded", "job": job, "token": token}])
                durable = time.perf_counter()
                running -= 1
                seen = term.wait_for(f"Running {running}/{capacity}".encode(), timeout=10)
                latencies.append(seen - durable)
                term.drain(0.2)
        return first_paint, cpu, read, latencies, rss
    finally:
        term.close()


def summary(values: list[float], scale: float = 1000.0, unit: str = "ms") -> str:
    if not values:
        return "-"
    median = statistics.median(values) * scale
    return f"{median:.0f} {unit} (min {min(values) * scale:.0f}, max {max(values) * scale:.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="100,1000,10000", help="comma-separated deck sizes")
    parser.add_argument("--runs", type=int, default=5, help="cockpit starts per deck size")
    parser.add_argument("--changes", type=int, default=5, help="changes measured per start (at most %d)" % RUNNING)
    args = parser.parse_args()
    sizes = [int(size) for size in args.jobs.split(",")]
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cockpit-") as tmp:
        for size in sizes:
            template = Path(tmp) / f"template-{size}"
            build_deck(template, size)
            paints = {mode: ([], [], []) for mode in MODES}  # wall, CPU, deck read
            latencies, memory = [], []
            for run in range(args.runs):
                for mode in MODES:
                    paint, cpu, read, changed, rss = one_run(template, Path(tmp), min(args.changes, RUNNING),
                                                       mode=mode)
                    paints[mode][0].append(paint)
                    paints[mode][1].append(cpu)
                    paints[mode][2].append(read)
                    latencies += changed
                    memory.append(rss)
            rows.append((size, paints, latencies, memory))
            print(f"{size:>6} jobs  " + "  ".join(
                f"first paint {mode} {summary(paints[mode][0])} [cpu {summary(paints[mode][1])}, "
                f"read {summary(paints[mode][2])}]"
                for mode in MODES) + f"  change to screen {summary(latencies)}  "
                f"RSS {statistics.median(memory):.0f} MB", flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("\nfirst paint: wall (CPU), medians\n")
    print("| jobs | " + " | ".join(MODES) + " | change to screen (median, max) | RSS |")
    print("|---:|" + "---:|" * len(MODES) + "---:|---:|")
    ms = lambda values: f"{statistics.median(values) * 1000:.0f} ms"  # noqa: E731
    for size, paints, latencies, memory in rows:
        cells = " | ".join(f"{ms(paints[mode][0])} ({ms(paints[mode][1])})" for mode in MODES)
        print(f"| {size:,} | {cells} | {ms(latencies)}, {max(latencies) * 1000:.0f} ms | "
              f"{statistics.median(memory):.0f} MB |")
    print("\ndeck read (the board exact, keys acting): wall, medians\n")
    print("| jobs | " + " | ".join(MODES) + " |")
    print("|---:|" + "---:|" * len(MODES))
    for size, paints, _, _ in rows:
        print(f"| {size:,} | " + " | ".join(ms(paints[mode][2]) for mode in MODES) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
