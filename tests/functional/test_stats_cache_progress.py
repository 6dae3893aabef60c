"""`jobdeck stats` folding the log: a line of progress on a terminal's stderr, nothing elsewhere.

The CLI runs in a real process with its stderr on a pseudo-terminal (or a pipe).
The progress waits a second before it shows and a test deck folds in
milliseconds, so the child sets ``Progress.DELAY`` and ``EVERY`` to 0, and
reads the log in small chunks so that the line is rewritten several times.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from conftest import RunCli, cli_env
from jobdeck.state.deck import Deck

CHILD = """
import sys
from jobdeck.cli.progress import Progress
from jobdeck.state import chain, stats_cache
Progress.DELAY = Progress.EVERY = 0.0
stats_cache.CATCH_UP_BYTES = 1024
chain.PROGRESS_EVERY = 8
from jobdeck.cli.main import console
sys.argv = ["jobdeck", *sys.argv[1:]]
console()
"""
LINE = re.compile(r"\r\x1b\[Kstats: folding the log \(([\d,]+) of ([\d,]+) events\)\.\.\.")


def stats_with_stderr_on(deck: Deck, terminal: bool, argv: tuple[str, ...] = ("stats", "--json")) -> tuple[str, str]:
    """stdout and stderr of ``jobdeck ARGV`` (``stats --json``) run with stderr on a pseudo-terminal or a pipe."""
    env = cli_env({"TERM": "xterm"})
    if not terminal:
        done = subprocess.run([sys.executable, "-c", CHILD, *argv], cwd=deck.root, env=env, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr
    master, slave = os.openpty()
    try:
        child = subprocess.Popen([sys.executable, "-c", CHILD, *argv], cwd=deck.root, env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    finally:
        os.close(slave)
    shown = b""
    try:
        while chunk := os.read(master, 65536):
            shown += chunk
    except OSError:  # EIO: the child, the last holder of the terminal, is gone
        pass
    finally:
        os.close(master)
    stdout = child.communicate(timeout=60)[0].decode()
    assert child.returncode == 0, shown
    return stdout, shown.decode()


def last_seq(deck: Deck) -> int:
    return json.loads(deck.events_path.read_bytes().splitlines()[-1])["seq"]


def grow(deck: Deck, records: int) -> None:
    """``records`` more records in the deck's log (an operator triggering hello again and again)."""
    from jobdeck.state.board import open_store

    with open_store(deck) as store:
        for n in range(records):
            store.commit([{"type": "triggered", "job": "hello", "by": f"op{n}"}])


def test_a_fold_shows_how_far_it_has_come_on_a_terminal_and_erases_it(deck: Deck, cli: RunCli) -> None:
    from jobdeck.state.stats_cache import cache_path

    assert cli("run", "--once", cwd=deck.root).returncode == 0
    grow(deck, 40)  # some 8 KiB: a chunk of the log after another
    report, shown = stats_with_stderr_on(deck, terminal=True)
    total = last_seq(deck)
    lines = LINE.findall(shown)
    assert len(lines) > 1, shown  # rewritten in place, chunk after chunk
    reached = [int(seq.replace(",", "")) for seq, _ in lines]
    assert reached == sorted(reached) and reached[-1] == total, shown
    assert {int(of.replace(",", "")) for _, of in lines} == {total}
    assert shown.endswith("\r\x1b[K") and LINE.sub("", shown) == "\r\x1b[K", repr(shown)  # erased: nothing else

    warm, shown = stats_with_stderr_on(deck, terminal=True)  # the cache holds: nothing to fold, nothing shown
    assert shown == "" and json.loads(warm)["deck"] == json.loads(report)["deck"]

    cache_path(deck).unlink()
    quiet, stderr = stats_with_stderr_on(deck, terminal=False)  # a script's stderr: nothing, the same report
    assert stderr == "" and json.loads(quiet)["deck"] == json.loads(report)["deck"]
    assert cache_path(deck).exists()


def test_the_progress_counts_from_where_the_cache_stopped(deck: Deck, cli: RunCli) -> None:
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    assert cli("stats", "--json", cwd=deck.root).returncode == 0  # the cache, folded to here
    folded_to = last_seq(deck)
    grow(deck, 40)
    _, shown = stats_with_stderr_on(deck, terminal=True)
    reached = [int(seq.replace(",", "")) for seq, _ in LINE.findall(shown)]
    assert reached and reached[0] > folded_to and reached[-1] == last_seq(deck) == folded_to + 40, shown


def test_the_fold_tells_its_progress_with_the_logs_last_seq(deck: Deck, cli: RunCli) -> None:
    from jobdeck.state.stats_cache import load_history

    assert cli("run", "--once", cwd=deck.root).returncode == 0
    told: list[tuple[int, int | None]] = []
    history = load_history(deck, progress=lambda seq, last: told.append((seq, last)))
    assert told and told[-1] == (last_seq(deck), last_seq(deck)) and history.total["deck"].runs == 2
    told.clear()
    load_history(deck, progress=lambda seq, last: told.append((seq, last)))
    assert told == []  # nothing appended: nothing folded


def test_audit_verify_shows_how_far_it_has_come_on_a_terminal_and_erases_it(deck: Deck, cli: RunCli) -> None:
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    grow(deck, 40)
    assert cli("ls", cwd=deck.root).returncode == 0  # board.json at the head: the records there are to check
    verified, shown = stats_with_stderr_on(deck, terminal=True, argv=("audit", "verify"))
    assert verified.startswith(f"chain of work verified: {last_seq(deck)} records, no breaks")
    line = re.compile(r"\r\x1b\[Kaudit: verifying the chain of work \(([\d,]+) of ([\d,]+) records\)\.\.\.")
    reached = [int(seq.replace(",", "")) for seq, _ in line.findall(shown)]
    assert len(reached) > 1 and reached == sorted(reached), shown
    assert shown.endswith("\r\x1b[K") and line.sub("", shown) == "\r\x1b[K", repr(shown)
    quiet, stderr = stats_with_stderr_on(deck, terminal=False, argv=("audit", "verify"))
    assert stderr == "" and quiet == verified
