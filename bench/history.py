"""What a long history costs: everyday commands, the first claim, the cockpit and the disk at 10k, 100k and 1M events.

Usage: .venv/bin/python bench/history.py [--sizes 10000,100000,1000000] [--runs 3] [--cache DIR] [--tiny]

Each deck (bench/history_deck.py) holds ~100 jobs rerun in cycles by a
simulated runner and its operators until the log holds the given number of
events, committed through ``Store.commit``, with an attempt directory per
attempt on disk. ``--cache DIR`` keeps the built decks (one per size) and
reuses them: every measurement starts from the deck as built (the log cut back
to its built length, board.json put back, caches and heartbeats removed), with
jobs.json validated before (``.jobdeck/spec.ok`` kept, as a deck in use has it)
unless the measure says otherwise.

Per size, as medians of ``--runs`` rounds (the measures interleaved within a
round), each command a fresh ``python -m jobdeck`` process (wall time; CPU time
from ``wait4``; peak RSS from GNU time, or VmHWM for the runner and the cockpit):

- ``ls``, ``ls --json`` without and with ``.jobdeck/cards.jsonl``, ``show JOB``,
  ``logs JOB``, ``pause JOB`` then ``resume JOB``, ``audit verify``, with the
  board.json a runner leaves ("fresh"); ``ls`` also on a jobs.json never
  validated, with a board.json written at 90% of the log ("old", as a runner
  killed long ago leaves it) and with none, each of these two followed by
  ``show JOB`` (the command after: the first wrote board.json again);
- ``run --once`` to its first claim (one job ready: spawn to the ``claimed``
  line of ``--json`` on stdout; the runner is then killed), with each board.json;
- the cockpit on a 120x40 pseudo-terminal with no card cache: spawn to a known
  job id on the screen (first paint), to the header's "no runner" (deck read),
  then its CPU use over a few idle seconds and its RSS, all on a jobs.json never
  validated; and its first paint again with jobs.json validated before;
- disk use of ``.jobdeck/`` and ``workspaces/``.

Targets (issue 15): at 1M events every everyday command within 1.25x of its
10k time and under 60 MB RSS; ``run --once`` to the first claim under 300 ms;
cockpit first paint under 500 ms with idle CPU under 1%.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from cockpit import Terminal  # noqa: E402  (bench/cockpit.py)
from history_deck import READY_ROOT, SHOWN_JOB, STEPS, build_deck, job_id, spec_bytes, spec_jobs  # noqa: E402
from jobdeck.state.board import Store  # noqa: E402
from jobdeck.state.checkpoints import checkpoint_dir  # noqa: E402
from jobdeck.state.deck import Deck  # noqa: E402
from jobdeck.state.events import grown_since  # noqa: E402
from jobdeck.state.lightspec import JOBS_NAME, VALID_NAME  # noqa: E402

CACHE_FORMAT = 5
"""Bump when history_deck.py builds different decks, or board.json changes format: cached decks of another
format are rebuilt (3: board.json format 3; 4: the log rotated every 64 MiB as a runner does, with checkpoints;
5: board.json format 4)."""
BOARDS = ("fresh", "old", "none")
VALIDATION = (VALID_NAME, JOBS_NAME)
"""The loader's verdict on jobs.json in .jobdeck/ (state/lightspec.py), kept across resets."""
BOARD_LABEL = {"fresh": "fresh board.json", "old": "old board.json", "none": "no board.json"}
EVERYDAY_RATIO, EVERYDAY_RSS_MB, FIRST_CLAIM_S, PAINT_S, IDLE_CPU = 1.25, 60.0, 0.300, 0.500, 0.01


@dataclass
class Sample:
    """One measured process: wall seconds, CPU seconds (user + system), peak RSS in MB."""

    wall: float
    cpu: float
    rss_mb: float


TIME = "/usr/bin/time"
"""GNU time, for the peak RSS: a child spawned by this process inherits its peak in ``wait4``'s ru_maxrss
(vfork, then exec, counts the parent's memory), while time's own fork starts from its small one."""


def timed(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> Sample:
    """Run ``argv`` in ``cwd`` to its end with output to files; its wall time, CPU time (``wait4``) and peak RSS
    (GNU time)."""
    if not os.access(TIME, os.X_OK):
        raise SystemExit(f"{TIME} is missing: install GNU time (apt-get install time) for the peak RSS")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="bench-rss-") as rss:
        start = time.perf_counter()
        process = subprocess.Popen([TIME, "-f", "%M", "-o", rss.name, *argv], stdout=out, stderr=err, cwd=cwd,
                                   env=env)
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of time and of the command it waited for
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv[3:])} exited {process.returncode}: {err.read().decode()[-2000:]}")
        peak_kb = int(Path(rss.name).read_text().split()[-1])
    return Sample(wall, usage.ru_utime + usage.ru_stime, peak_kb / 1024)


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def jobdeck(deck: Deck, *args: str) -> list[str]:
    return [sys.executable, "-m", "jobdeck", "--deck", str(deck.root), *args]


# -- the cached decks -----------------------------------------------------------------------


class CachedDeck:
    """A built deck and what restores it: a copy of its .jobdeck/ as built, board.json at 90%, jobs.json."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.deck = Deck(home / "deck")
        self.built_state = home / "state-built"
        self.manifest: dict[str, Any] = json.loads((home / "manifest.json").read_text())
        self.spec = spec_bytes()
        self._restored: dict[str, tuple[int, int]] = {}
        """(size, mtime) of each state file as last restored: unchanged since, it needs no copy."""

    @property
    def log_bytes(self) -> int:
        return self.manifest["log_bytes"]

    def intact(self) -> bool:
        return self.manifest.get("format") == CACHE_FORMAT and self.built_state.is_dir()

    def reset(self, board: str, *, validated: bool = True) -> None:
        """Back to the deck as built, with board.json ``fresh`` (as the build left it), ``old`` or ``none``.

        Every file of .jobdeck/ is made what it was after the build, whatever it is
        (the layout is the product's); files and folders made since are removed, except
        the loader's verdict on jobs.json (``spec.ok``, ``spec.jobs.jsonl``) while
        ``validated``: a deck in use has it, and it says nothing of the history.
        """
        if self.deck.spec_path.read_bytes() != self.spec:
            self.deck.spec_path.write_bytes(self.spec)
        live_root = self.deck.state_dir
        for folder, folders, files in os.walk(live_root):
            relative = Path(folder).relative_to(live_root)
            for name in files:
                if validated and folder == str(live_root) and name in VALIDATION:
                    continue
                if not (self.built_state / relative / name).is_file():
                    os.unlink(Path(folder, name))
            for name in list(folders):
                if not (self.built_state / relative / name).is_dir():
                    shutil.rmtree(Path(folder, name))
                    folders.remove(name)
        for folder, _, files in os.walk(self.built_state):
            relative = Path(folder).relative_to(self.built_state)
            (live_root / relative).mkdir(mode=0o700, exist_ok=True)
            for name in files:
                self._restore(str(relative / name), Path(folder, name), live_root / relative / name)
        self.use_board(board)

    def _restore(self, key: str, built: Path, live: Path) -> None:
        try:
            stat = live.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and self._restored.get(key) == (stat.st_size, stat.st_mtime_ns):
            return
        if (live == self.deck.events_path and stat is not None and stat.st_size > self.log_bytes
                and grown_since(live, self.log_bytes, self.manifest["last_hash"]) is not None):
            os.truncate(live, self.log_bytes)  # records appended since the build: cut them off
        else:
            shutil.copyfile(built, live)
        stat = live.stat()
        self._restored[key] = (stat.st_size, stat.st_mtime_ns)

    def use_board(self, board: str) -> None:
        """Put board.json ``fresh`` (as the build left it), ``old`` (at 90% of the log) or ``none`` in place;
        ``bare``: no board.json and no checkpoint either (as after an upgrade to another snapshot format)."""
        target = self.deck.board_path
        if board in ("none", "bare"):
            target.unlink(missing_ok=True)
            if board == "bare":
                for checkpoint in checkpoint_dir(self.deck).glob("*"):
                    checkpoint.unlink()
        elif board == "old":
            shutil.copyfile(self.home / "board-old.json", target)
        else:
            shutil.copyfile(self.built_state / target.name, target)


def cached_deck(cache: Path, size: int) -> tuple[CachedDeck, bool]:
    """The deck of ``size`` events under ``cache``, built unless a good one is there; (deck, reused)."""
    home = cache / f"history-{size}"
    if (home / "manifest.json").exists():
        found = CachedDeck(home)
        if found.intact():
            return found, True
    partial = cache / f"history-{size}.partial"
    for stale in (home, partial):
        shutil.rmtree(stale, ignore_errors=True)
    partial.mkdir(parents=True)
    started = time.perf_counter()

    def progress(events: int) -> None:
        if events % 100_000 < 5000 and size >= 100_000:
            print(f"  building: {events:,} events, {time.perf_counter() - started:.0f} s", flush=True)

    built = build_deck(partial / "deck", size, old_board=partial / "board-old.json", progress=progress)
    deck = Deck(partial / "deck")
    check_settled(deck)
    shutil.copytree(deck.state_dir, partial / "state-built")
    (partial / "manifest.json").write_text(json.dumps({"format": CACHE_FORMAT, **asdict(built)}, indent=1))
    partial.rename(home)
    return CachedDeck(home), False


def check_settled(deck: Deck) -> None:
    """The built deck has no job running or ready (run --once would have nothing to do)."""
    from jobdeck.state.loader import load_spec
    from jobdeck.state.views import ready_jobs

    spec = load_spec(deck.spec_path).spec
    with Store(deck) as store:
        store.refresh()
        running = [job for job, state in store.board.jobs.items() if state.status.value == "running"]
        ready = [job.id for job in ready_jobs(spec, store.board, time.time())
                 if spec.job(job.id).schedule is None]
    if running or ready:
        raise RuntimeError(f"the built deck is not settled: running {running}, ready {ready}")


# -- measures -------------------------------------------------------------------------------


UNVALIDATED = "ls, jobs.json never validated"
EVERYDAY = [
    # (label, board.json to reset to (None: as the measure before left it), arguments)
    ("ls", "fresh", ["ls"]),
    (UNVALIDATED, "fresh", ["ls"]),
    ("ls --json, no card cache", "fresh", ["ls", "--json"]),
    ("ls --json, card cache", None, ["ls", "--json"]),
    (f"show {SHOWN_JOB}", "fresh", ["show", SHOWN_JOB]),
    (f"logs {SHOWN_JOB}", "fresh", ["logs", SHOWN_JOB]),
    (f"pause {SHOWN_JOB}", "fresh", ["pause", SHOWN_JOB]),
    (f"resume {SHOWN_JOB}", None, ["resume", SHOWN_JOB]),
    ("ls, old board.json", "old", ["ls"]),
    (f"show {SHOWN_JOB}, the command after it", None, ["show", SHOWN_JOB]),
    ("ls, no board.json", "none", ["ls"]),
    (f"show {SHOWN_JOB}, the command after that", None, ["show", SHOWN_JOB]),
    ("ls, no board.json nor checkpoint", "bare", ["ls"]),
]
"""Each measure starts with jobs.json validated before (``.jobdeck/spec.ok``), as on a deck in use,
except UNVALIDATED. A command that replays more than a bounded tail writes board.json again, so
the command after an old or missing one replays little ("the command after")."""
WHOLE_LOG = [("audit verify", "fresh", ["audit", "verify"])]
"""Commands that read every record by design: timed, held to the RSS target only."""


def first_claim(cached: CachedDeck, board: str) -> Sample:
    """Spawn of `run --once --json` to its `claimed` line, with READY_ROOT the one ready job."""
    from jobdeck.state.schedule import last_fire

    cached.reset("fresh")
    deck = cached.deck
    now = time.time()
    with Store(deck) as store:
        store.refresh()
        events: list[dict[str, Any]] = []
        for job in spec_jobs():  # cron fires due since the build are armed, as a runner up meanwhile would have
            if "schedule" in job:
                latest = last_fire(job["schedule"], job["timezone"], now)
                if latest > (store.board.state(job["id"]).last_fire or 0.0):
                    events.append({"type": "progress", "job": job["id"], "what": "schedule_armed", "fire": latest})
        pipeline = int(READY_ROOT[1:3])
        events += [{"type": "triggered", "job": job_id(pipeline, step), "by": "bench", "via": "cli",
                    "source": "cli:bench", "root": READY_ROOT} for step in STEPS]
        store.commit(events)
    cached.use_board(board)
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        runner = subprocess.Popen(jobdeck(deck, "run", "--once", "--json"), stdout=subprocess.PIPE, stderr=err,
                                  cwd=ROOT, start_new_session=True)
        claimed = None
        assert runner.stdout is not None
        for line in runner.stdout:
            record = json.loads(line)
            if record.get("type") == "claimed":
                claimed, took = record, time.perf_counter() - start
                break
        peak = peak_rss_mb(runner.pid) if claimed is not None else float("nan")
        os.killpg(runner.pid, signal.SIGKILL)
        _, _, usage = os.wait4(runner.pid, 0)
        runner.returncode = -signal.SIGKILL
        runner.stdout.close()
        if claimed is None:
            err.seek(0)
            raise RuntimeError(f"run --once exited without a claim: {err.read().decode()[-2000:]}")
    if claimed["job"] != READY_ROOT:
        raise RuntimeError(f"run --once claimed {claimed['job']}, expected {READY_ROOT}")
    shutil.rmtree(deck.attempt_dir(claimed["workspace"], claimed["job"], claimed["attempt"]), ignore_errors=True)
    cached.reset("fresh")
    return Sample(took, usage.ru_utime + usage.ru_stime, peak)


@dataclass
class CockpitStart:
    paint: float
    paint_cpu: float
    read: float
    idle_cpu: float
    """CPU seconds per second over the idle window after the deck is read."""
    rss_mb: float


def cockpit_start(cached: CachedDeck, paint_job: str, idle_seconds: float, *, accepted: bool = False) -> CockpitStart:
    """First paint (``paint_job`` on the screen), deck read, idle CPU and RSS of a cockpit without card cache.

    ``accepted``: jobs.json was validated before (`jobdeck validate` marks it in .jobdeck/spec.ok, as any
    command or runner does on a deck in use), so the cockpit may paint from its preview."""
    cached.reset("fresh", validated=accepted)
    if accepted:
        subprocess.run(jobdeck(cached.deck, "validate"), check=True, capture_output=True)
    term = Terminal(jobdeck(cached.deck, "cockpit"), ROOT)
    try:
        shown = term.wait_for(paint_job.encode(), timeout=900)
        paint_cpu = term.cpu_seconds()
        read_at = shown if term.has_shown(b"no runner") else term.wait_for(b"no runner", timeout=900)
        term.drain(0.5)
        cpu_before, began = term.cpu_seconds(), time.perf_counter()
        deadline = began + idle_seconds
        while (left := deadline - time.perf_counter()) > 0:  # keep reading what it draws, as a terminal would
            if select.select([term.master], [], [], left)[0]:
                term.text = (term.text + os.read(term.master, 1 << 16))[-200_000:]
        idle = (term.cpu_seconds() - cpu_before) / (time.perf_counter() - began)
        return CockpitStart(shown - term.started, paint_cpu, read_at - term.started, idle,
                            peak_rss_mb(term.process.pid))
    finally:
        term.close()
        cached.reset("fresh")


def disk_use(path: Path) -> int:
    """Bytes of disk ``path`` takes (blocks, as `du` counts them)."""
    done = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def paint_job_of(cached: CachedDeck) -> str:
    """The first card of the Done column (done longest ago): on the screen from the first paint."""
    states = json.loads((cached.built_state / "board.json").read_bytes())["states"]
    done = [(state.get("since") or 0.0, job) for job, state in states.items() if state["status"] == "done"]
    return min(done)[1]


# -- one size -------------------------------------------------------------------------------


def measure_size(cached: CachedDeck, runs: int, idle_seconds: float) -> dict[str, list[Sample]]:
    """Every measure, ``runs`` rounds, interleaved within a round."""
    deck = cached.deck
    results: dict[str, list[Sample]] = {}
    paint_job = paint_job_of(cached)
    cached.reset("fresh")
    subprocess.run(jobdeck(deck, "validate"), check=True, capture_output=True)  # as any command leaves it
    for _ in range(runs):
        for label, board, args in EVERYDAY + WHOLE_LOG:
            if board is not None:
                cached.reset(board, validated=label != UNVALIDATED)
            results.setdefault(label, []).append(timed(jobdeck(deck, *args), env={**os.environ, "COLUMNS": "120"}))
        for board in BOARDS:
            results.setdefault(f"run --once to first claim, {BOARD_LABEL[board]}", []).append(first_claim(cached, board))
        start = cockpit_start(cached, paint_job, idle_seconds)
        results.setdefault("cockpit first paint (no card cache, jobs.json never validated)", []).append(
            Sample(start.paint, start.paint_cpu, start.rss_mb))
        results.setdefault("cockpit deck read", []).append(Sample(start.read, float("nan"), start.rss_mb))
        results.setdefault("cockpit idle CPU (share of a core)", []).append(Sample(start.idle_cpu, float("nan"), start.rss_mb))
        start = cockpit_start(cached, paint_job, idle_seconds, accepted=True)
        results.setdefault("cockpit first paint (no card cache, jobs.json accepted before)", []).append(
            Sample(start.paint, start.paint_cpu, start.rss_mb))
    cached.reset("fresh")
    return results


def target_of(label: str) -> str:
    if label.startswith("run --once"):
        return f"< {FIRST_CLAIM_S * 1000:.0f} ms"
    if label.startswith("cockpit first paint"):
        return f"< {PAINT_S * 1000:.0f} ms"
    if label.startswith("cockpit idle"):
        return f"< {IDLE_CPU:.0%}"
    if label.startswith("cockpit"):
        return ""
    if label in dict((item[0], item) for item in WHOLE_LOG):
        return f"RSS < {EVERYDAY_RSS_MB:.0f} MB"
    return f"<= {EVERYDAY_RATIO}x 10k, RSS < {EVERYDAY_RSS_MB:.0f} MB"


def fmt_wall(label: str, seconds: float) -> str:
    if label.startswith("cockpit idle"):
        return f"{seconds:.2%}"
    return f"{seconds * 1000:,.0f} ms"


def size_table(size: int, cached: CachedDeck, results: dict[str, list[Sample]], disk: dict[str, int]) -> None:
    print("\n| measure | wall, median (min-max) | CPU | peak RSS | target |\n|---|---:|---:|---:|---|")
    for label, samples in results.items():
        walls = sorted(s.wall for s in samples)
        cpu = statistics.median(s.cpu for s in samples)
        print(f"| {label} | {fmt_wall(label, statistics.median(walls))} ({fmt_wall(label, walls[0])}-"
              f"{fmt_wall(label, walls[-1])}) | {'' if cpu != cpu else f'{cpu * 1000:,.0f} ms'} | "
              f"{statistics.median(s.rss_mb for s in samples):.1f} MB | {target_of(label)} |")
    manifest = cached.manifest
    print(f"\ndisk: .jobdeck/ {disk['.jobdeck'] / 2**20:,.1f} MiB (events.jsonl {manifest['log_bytes'] / 2**20:,.1f} MiB, "
          f"board.json {(cached.built_state / 'board.json').stat().st_size / 2**20:,.1f} MiB); "
          f"workspaces/ {disk['workspaces'] / 2**20:,.1f} MiB for {manifest['attempts']:,} attempt directories "
          f"({disk['workspaces'] / max(manifest['attempts'], 1) / 1024:.1f} KiB each)")


def human(size: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1000)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size:,}"


def summary(by_size: dict[int, dict[str, list[Sample]]]) -> None:
    sizes = sorted(by_size)
    small, large = sizes[0], sizes[-1]
    ratio_name = f"{human(large)}/{human(small)}"
    print(f"\n## summary: wall medians by size, and {ratio_name} of the wall and CPU medians\n")
    print("| measure | " + " | ".join(human(size) for size in sizes) + f" | {ratio_name} wall | {ratio_name} CPU "
          f"| peak RSS at {human(large)} | target | met |")
    print("|---|" + "---:|" * (len(sizes) + 3) + "---|---|")
    for label in by_size[large]:
        medians = {size: statistics.median(s.wall for s in by_size[size][label]) for size in sizes}
        cpu = {size: statistics.median(s.cpu for s in by_size[size][label]) for size in sizes}
        rss = statistics.median(s.rss_mb for s in by_size[large][label])
        ratio = medians[large] / medians[small] if medians[small] > 0 else float("nan")
        cpu_ratio = cpu[large] / cpu[small] if cpu[small] > 0 else float("nan")
        print(f"| {label} | " + " | ".join(fmt_wall(label, medians[size]) for size in sizes)
              + f" | {f'{ratio:.2f}x' if large != small else '-'} | "
              f"{f'{cpu_ratio:.2f}x' if large != small and cpu_ratio == cpu_ratio else '-'} | {rss:.1f} MB | "
              f"{target_of(label)} | {met(label, medians[large], ratio, rss, small)} |")


def met(label: str, value: float, ratio: float, rss: float, small: int) -> str:
    if label.startswith("run --once"):
        return "yes" if value < FIRST_CLAIM_S else "**no**"
    if label.startswith("cockpit first paint"):
        return "yes" if value < PAINT_S else "**no**"
    if label.startswith("cockpit idle"):
        return "yes" if value < IDLE_CPU else "**no**"
    if label.startswith("cockpit"):
        return ""
    rss_ok = rss < EVERYDAY_RSS_MB
    if label in dict((item[0], item) for item in WHOLE_LOG):
        return "yes" if rss_ok else "**no** (RSS)"
    time_ok = ratio <= EVERYDAY_RATIO
    if small != 10_000:
        return ("RSS yes" if rss_ok else "**RSS no**") + f" (the ratio target is against 10k, not {human(small)})"
    return "yes" if time_ok and rss_ok else "**no** (" + ", ".join(
        why for why, ok in (("time", time_ok), ("RSS", rss_ok)) if not ok) + ")"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (5 min {five:.2f}) on {os.cpu_count()} CPUs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated event counts")
    parser.add_argument("--runs", type=int, default=3, help="rounds of every measure per size (medians)")
    parser.add_argument("--cache", metavar="DIR", help="keep built decks here and reuse them (one per size)")
    parser.add_argument("--idle", type=float, default=3.0, metavar="S", help="seconds of cockpit idle CPU measured")
    parser.add_argument("--tiny", action="store_true", help="2,000 events, 1 run, 1 s idle: for the smoke test")
    args = parser.parse_args()
    sizes = [2000] if args.tiny else [int(size) for size in args.sizes.split(",")]
    runs, idle = (1, 1.0) if args.tiny else (args.runs, args.idle)
    print(f"load average at the start: {load()}; medians of {runs} run(s); page cache warm", flush=True)
    by_size: dict[int, dict[str, list[Sample]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as scratch:
        cache = Path(args.cache) if args.cache else Path(scratch)
        for size in sizes:
            began = time.perf_counter()
            cached, reused = cached_deck(cache, size)
            manifest = cached.manifest
            print(f"\n## history at {size:,} events: {manifest['events']:,} records, {len(spec_jobs())} jobs, "
                  f"{manifest['attempts']:,} attempts; "
                  + (f"deck from the cache (built in {manifest['seconds']:.1f} s)" if reused else
                     f"deck built in {time.perf_counter() - began:.1f} s (commits {manifest['commit_seconds']:.1f} s, "
                     f"attempt directories {manifest['disk_seconds']:.1f} s on 2 threads)"), flush=True)
            print(f"events by type: {json.dumps(manifest['types'], sort_keys=True)}")
            print(f"load average before: {load()}", flush=True)
            cached.reset("fresh")
            disk = {".jobdeck": disk_use(cached.deck.state_dir), "workspaces": disk_use(cached.deck.workspaces_dir)}
            by_size[size] = measure_size(cached, runs, idle)
            print(f"load average after: {load()}")
            size_table(size, cached, by_size[size], disk)
            sys.stdout.flush()
        summary(by_size)
    print(f"\nload average at the end: {load()}")
    print(f"targets: at 1M events every everyday command within {EVERYDAY_RATIO}x its 10k time and under "
          f"{EVERYDAY_RSS_MB:.0f} MB RSS; run --once to the first claim under {FIRST_CLAIM_S * 1000:.0f} ms; "
          f"cockpit first paint under {PAINT_S * 1000:.0f} ms with idle CPU under {IDLE_CPU:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
