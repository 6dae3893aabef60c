"""Everyday commands against `python -c pass`: what a jobdeck command costs over starting Python at all.

Usage: .venv/bin/python bench/cli.py [--runs 21] [--events 2000] [--python PATH] [--tiny]

On a small deck (bench/history_deck.py: 100 jobs, a history of --events events,
attempt directories on disk) each round runs, in turn, `python -c pass` (the
same interpreter as jobdeck's), `jobdeck --help`, `ls`, `ls --json` (served
from the card cache, as it is between changes), `show JOB`, `logs JOB`,
`validate`, `add` (jobs.json is put back after it), `approve` of a high-risk job
awaiting approval and `pause` (the log is cut back after each). Every command is
a fresh process; the order rotates from round to round. Prints, per command,
the median wall time over --runs rounds, its CPU time, its peak RSS (GNU time),
the median of its per-round wall ratios to `python -c pass` and the ratio of
the CPU medians (steadier on a loaded machine). jobdeck's bytecode is written
first, as an install writes it: with PYTHONDONTWRITEBYTECODE set (as in some
containers) an editable install would otherwise compile every module it
imports on every run, 25-45 ms that no installed jobdeck pays.

``--python`` runs both `python -c pass` and jobdeck with another interpreter,
one whose environment has jobdeck installed (``pip install .``, not ``-e``): the
editable install's finder costs every start of this venv's Python ~14 ms, which
`python -c pass` pays here and an installed jobdeck does not. The commands then
run from the scratch directory, where no jobdeck/ folder hides the installed one.

The row `python -c 'import <...>'` imports, in a bare interpreter, every
standard-library module `show` imports (asked of a `show` run before the rounds):
the share of the ratio that jobdeck's own code and work do not decide.

Target (issue 15): every command's median under 50 ms and at most 3x `python -c pass`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from history import ROOT, Sample, load, timed  # noqa: E402  (bench/history.py)
from history_deck import SHOWN_JOB, build_deck  # noqa: E402
from jobdeck.state.board import Store  # noqa: E402
from jobdeck.state.deck import Deck  # noqa: E402

TARGET_MS, TARGET_RATIO = 50.0, 3.0
BASELINE = "python -c pass"
FLOOR = "python -c 'import <the standard library's modules that show imports>'"

MODULES_OF = """
import os, sys
before = set(sys.modules)  # (os is imported by every start-up)
out, sys.stdout = sys.stdout, open(os.devnull, "w")
from jobdeck.cli.main import main
main(sys.argv[1:])
out.write(" ".join(sorted(name for name in set(sys.modules) - before
                          if name.partition(".")[0] not in ("jobdeck", "__main__"))))
"""
"""Prints the modules a jobdeck command imports beyond a bare interpreter's, jobdeck's own left out."""


def stdlib_floor(python: str, argv: list[str], *, env: dict[str, str], cwd: Path) -> list[str]:
    """`python -c "import ..."` of every standard-library module the jobdeck command ``argv`` imports: what the
    command would cost if jobdeck's own code and work took no time at all."""
    import subprocess

    found = subprocess.run([python, "-c", MODULES_OF, *argv], env=env, cwd=cwd, capture_output=True, text=True,
                           check=True)
    return [python, "-c", "import " + ", ".join(found.stdout.split())]


def compile_jobdeck() -> None:
    """Write the bytecode of every jobdeck module (``py_compile`` writes it whatever PYTHONDONTWRITEBYTECODE says)."""
    import compileall
    import importlib.util

    for package in ("jobdeck", *(f"jobdeck.{layer}" for layer in ("state", "cli", "runner", "agents", "cockpit"))):
        found = importlib.util.find_spec(package)
        for where in (found.submodule_search_locations or []) if found else []:
            compileall.compile_dir(where, maxlevels=0, quiet=1)


def approvable(deck: Deck) -> str:
    """A high-risk job in the backlog not yet approved (`approve` applies to it)."""
    from history_deck import spec_jobs

    high = [job["id"] for job in spec_jobs() if job.get("risk") == "high"]
    with Store(deck) as store:
        store.refresh()
        for job in high:
            state = store.board.state(job)
            if state.status.value == "backlog" and not state.approved:
                return job
    raise RuntimeError("no high-risk job awaits approval in this deck; try another --events")


class Restore:
    """Puts back jobs.json, the log's length and the card cache as they were when made."""

    def __init__(self, deck: Deck) -> None:
        self.deck = deck
        self.files = {path: path.read_bytes() for path in (deck.spec_path, deck.state_dir / "cards.jsonl")}
        self.log_bytes = deck.events_path.stat().st_size

    def __call__(self) -> None:
        if self.deck.events_path.stat().st_size != self.log_bytes:
            os.truncate(self.deck.events_path, self.log_bytes)
        for path, data in self.files.items():
            if path.read_bytes() != data:
                path.write_bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21, help="rounds (each command once per round)")
    parser.add_argument("--events", type=int, default=2000, help="events in the deck's history")
    parser.add_argument("--python", metavar="PATH", default=sys.executable,
                        help="the interpreter to run `-c pass` and jobdeck with (default: this one)")
    parser.add_argument("--tiny", action="store_true", help="3 rounds on a 500-event deck: for the smoke test")
    args = parser.parse_args()
    runs, events = (3, 500) if args.tiny else (args.runs, args.events)
    compile_jobdeck()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as scratch:
        deck = Deck(Path(scratch) / "deck")
        built = build_deck(deck.root, events)
        approve = approvable(deck)
        env = {**os.environ, "COLUMNS": "120"}
        python, where = args.python, (Path(scratch) if args.python != sys.executable else ROOT)

        def jobdeck(*arguments: str) -> list[str]:
            return [python, "-m", "jobdeck", "--deck", str(deck.root), *arguments]

        timed(jobdeck("ls", "--json"), env=env, cwd=where)  # leaves the card cache, as any earlier `ls` would
        restore = Restore(deck)
        commands: list[tuple[str, list[str]]] = [
            (BASELINE, [python, "-c", "pass"]),
            (FLOOR, stdlib_floor(python, ["--deck", str(deck.root), "show", SHOWN_JOB], env=env,
                                               cwd=where)),
            ("jobdeck --help", jobdeck("--help")),
            ("jobdeck ls", jobdeck("ls")),
            ("jobdeck ls --json", jobdeck("ls", "--json")),
            (f"jobdeck show {SHOWN_JOB}", jobdeck("show", SHOWN_JOB)),
            (f"jobdeck logs {SHOWN_JOB}", jobdeck("logs", SHOWN_JOB)),
            ("jobdeck validate", jobdeck("validate")),
            ("jobdeck add --id added -- true", jobdeck("add", "--id", "added", "--", "true")),
            (f"jobdeck approve {approve}", jobdeck("approve", approve)),
            (f"jobdeck pause {SHOWN_JOB}", jobdeck("pause", SHOWN_JOB)),
        ]
        print(f"python: {python}")
        print(f"deck: {len(commands)} commands on 100 jobs and {built.events:,} events ({built.attempts:,} attempts); "
              f"{runs} rounds; load average at the start {load()}", flush=True)
        samples: dict[str, list[Sample]] = {name: [] for name, _ in commands}
        for round_number in range(runs):
            shift = round_number % len(commands)
            for name, argv in commands[shift:] + commands[:shift]:
                samples[name].append(timed(argv, env=env, cwd=where))
                restore()
        print(f"load average at the end: {load()}\n")
        base = samples[BASELINE]
        print(f"| command | wall, median (min-max) | CPU | peak RSS | wall vs `{BASELINE}` | CPU vs `{BASELINE}` | "
              f"target < {TARGET_MS:.0f} ms and <= {TARGET_RATIO:.0f}x |")
        print("|---|---:|---:|---:|---:|---:|---|")
        base_cpu = statistics.median(s.cpu for s in base)
        for name, _ in commands:
            runs_of = samples[name]
            walls = sorted(s.wall * 1000 for s in runs_of)
            median = statistics.median(walls)
            ratio = statistics.median(s.wall / b.wall for s, b in zip(runs_of, base))
            met = median < TARGET_MS and ratio <= TARGET_RATIO
            verdict = "" if name in (BASELINE, FLOOR) else ("met" if met else "**missed**")
            cpu = statistics.median(s.cpu for s in runs_of)
            print(f"| `{name}` | {median:.0f} ms ({walls[0]:.0f}-{walls[-1]:.0f}) | {cpu * 1000:.0f} ms | "
                  f"{statistics.median(s.rss_mb for s in runs_of):.1f} MB | {ratio:.2f}x | "
                  f"{cpu / base_cpu:.2f}x | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
