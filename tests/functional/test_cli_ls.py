"""`jobdeck ls`: the cached fast path answers exactly what the slow path answers, or steps aside.

`ls --json` serves cards from .jobdeck/cards.jsonl without loading pydantic when
jobs.json, the event log and the clock all still match what the cards were computed
from; the `ls` table too, when board.json is also the one they were folded from. Each test compares against a fresh slow-path run and checks which path ran.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobdeck.cli.main import main
from conftest import ROOT, cli_env
from jobdeck.state.board import Store
from jobdeck.state.cardcache import cached_cards, cards_path
from jobdeck.state.deck import Deck, init_deck

SPEC = {"jobs": [
    {"id": "fetch", "command": ["true"], "labels": ["etl"]},
    {"id": "clean", "command": ["true"], "depends_on": ["fetch"], "labels": ["etl", "nightly"]},
    {"id": "report", "model": "openai/gpt-4o-mini", "prompt": "p", "depends_on": ["clean"], "workspace": "other"},
    {"id": "publish", "command": ["true"], "risk": "high", "depends_on": ["report"], "title": "Publish – ünïcode"},
    {"id": "nightly", "command": ["date"], "schedule": "0 2 * * *", "timezone": "Europe/Paris"},
    {"id": "flaky", "command": ["true"], "retry": {"max_attempts": 3}},
    {"id": "dropped", "command": ["true"]},
    {"id": "checked", "command": ["true"], "workspace": "other"},
]}

LS = """
import contextlib, io, json, os, sys
from jobdeck.cli.main import main
cache, runs, results = sys.argv[1], json.loads(sys.argv[2]), []
def inode():
    try:
        return os.stat(cache).st_ino
    except FileNotFoundError:
        return None
for argv, drop_cache in runs:
    if drop_cache and os.path.exists(cache):
        os.unlink(cache)
    before, out = inode(), io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    results.append([code, out.getvalue(), inode() != before])  # the slow path rewrites the cache
print(json.dumps({"runs": results, "pydantic": "pydantic" in sys.modules}))
"""

FILTERS = [[], ["--status", "review,failed"], ["--status", "cancelled"], ["--label", "etl"],
           ["--workspace", "other"], ["--status", "backlog", "--label", "nightly"]]


def ls_runs(deck: Deck, runs: list[tuple[list[str], bool]]) -> tuple[list[tuple[int, str, bool]], bool]:
    """Run `ls --json FILTERS` for each (filters, drop the cache first) in one process.

    Returns (exit code, stdout, took the slow path) per run, and whether pydantic was loaded.
    """
    plan = [[["--deck", str(deck.root), "ls", "--json", *filters], drop] for filters, drop in runs]
    done = subprocess.run([sys.executable, "-c", LS, str(cards_path(deck)), json.dumps(plan)],
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    return [tuple(run) for run in result["runs"]], result["pydantic"]


def ls_json(deck: Deck, *filters: str) -> tuple[int, str, bool]:
    """(exit code, stdout, whether pydantic was loaded) of one fresh `jobdeck ls --json FILTERS`."""
    [(code, out, _)], pydantic = ls_runs(deck, [(list(filters), False)])
    return code, out, pydantic


def ls_here(deck: Deck, *filters: str) -> tuple[int, str, bool]:
    """`ls --json FILTERS` run in this process: (exit code, stdout, took the slow path)."""
    def inode() -> int | None:
        return cards_path(deck).stat().st_ino if cards_path(deck).exists() else None

    before, out = inode(), io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--deck", str(deck.root), "ls", "--json", *filters])
    return code, out.getvalue(), inode() != before


def slow_ls_json(deck: Deck, *filters: str) -> str:
    """The slow path's answer (the cache removed first, then rewritten)."""
    cards_path(deck).unlink(missing_ok=True)
    code, out, slow = ls_here(deck, *filters)
    assert code == 0 and slow
    return out


@pytest.fixture
def busy_deck(tmp_path: Path) -> Deck:
    """A deck with jobs in every column, a retry wait, a schedule, two workspaces."""
    deck = init_deck(tmp_path / "deck", json.dumps(SPEC, ensure_ascii=False, indent=1).encode())
    now = time.time()
    with Store(deck) as store:
        def run(job: str, end: dict) -> None:
            store.commit([{"type": "claimed", "job": job, "attempt": store.board.state(job).next_attempt}])
            store.commit([{**end, "job": job, "token": store.board.state(job).token}])

        run("fetch", {"type": "succeeded", "exit_code": 0})
        run("clean", {"type": "succeeded", "review": True, "reasons": ["looks odd"]})
        run("flaky", {"type": "failed", "reason": "rate limited", "retry_at": now + 3600})
        run("checked", {"type": "failed", "reason": "exit 2"})
        store.commit([{"type": "cancelled", "job": "dropped", "reason": "not needed"}])
        store.commit([{"type": "approved", "job": "publish"}])
    return deck


def test_fast_path_prints_exactly_what_the_slow_path_prints(busy_deck: Deck) -> None:
    slow, _ = ls_runs(busy_deck, [(filters, True) for filters in FILTERS])
    fast, _ = ls_runs(busy_deck, [(filters, False) for filters in FILTERS])
    for filters, (code, expected, was_slow), (fast_code, out, fast_was_slow) in zip(FILTERS, slow, fast):
        assert (code, was_slow) == (0, True)
        assert (fast_code, fast_was_slow) == (0, False), filters
        assert out == expected, filters
    everything = json.loads(slow[0][1])
    assert {c["id"]: c["column"] for c in everything} == {
        "fetch": "done", "clean": "review", "report": "backlog", "publish": "backlog", "nightly": "backlog",
        "flaky": "backlog", "dropped": "cancelled", "checked": "failed"}
    assert [c["id"] for c in json.loads(slow[3][1])] == ["fetch", "clean"]
    assert ls_json(busy_deck) == (0, slow[0][1], False)  # a fresh process: no pydantic at all


def test_the_table_from_the_cache_is_the_table_from_the_fold(busy_deck: Deck) -> None:
    """`ls` without --json serves its table from the same cards, at one frozen clock."""
    plan = [[["--deck", str(busy_deck.root), "ls", *filters], drop] for filters in FILTERS for drop in (True, False)]
    frozen = "import time\n_now = time.time()\ntime.time = lambda: _now\n"
    done = subprocess.run([sys.executable, "-c", frozen + LS, str(cards_path(busy_deck)), json.dumps(plan)],
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)["runs"]
    for filters, (slow, fast) in zip(FILTERS, zip(runs[::2], runs[1::2])):
        assert slow[0] == fast[0] == 0 and slow[2] and not fast[2], filters
        assert fast[1] == slow[1], filters
    assert runs[0][1].splitlines()[0].split() == ["ID", "STATUS", "AGENT", "TRY", "SINCE", "NOTES"]
    fresh = subprocess.run([sys.executable, "-c", LS, str(cards_path(busy_deck)),
                            json.dumps([[["--deck", str(busy_deck.root), "ls"], False]])],
                           cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
    [(code, out, slow)] = json.loads(fresh.stdout)["runs"]
    assert (code, slow, json.loads(fresh.stdout)["pydantic"]) == (0, False, False)  # a fresh process: no pydantic
    assert out.splitlines()[0] == runs[0][1].splitlines()[0]


def test_the_table_warns_of_a_cut_chain_from_the_cache_too_and_a_new_board_json_is_folded(
        busy_deck: Deck, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(busy_deck) as store:
        store.refresh()
        store.write_snapshot()
    lines = busy_deck.events_path.read_bytes().splitlines(keepends=True)
    busy_deck.events_path.write_bytes(b"".join(lines[:-1]))  # the record board.json saw is gone
    warned = []
    for _ in range(2):  # the fold, then the cache
        before = cards_path(busy_deck).stat().st_ino if cards_path(busy_deck).exists() else None
        assert main(["--deck", str(busy_deck.root), "ls"]) == 0
        warned.append(("no longer holds the record board.json saw" in capsys.readouterr().err,
                       cards_path(busy_deck).stat().st_ino != before))
    assert warned == [(True, True), (True, False)]
    busy_deck.board_path.unlink()  # a board.json other than the one the cards were folded from
    assert main(["--deck", str(busy_deck.root), "ls"]) == 0
    assert "no longer holds" not in capsys.readouterr().err


def test_a_new_event_is_seen(busy_deck: Deck) -> None:
    slow_ls_json(busy_deck)
    with Store(busy_deck) as store:
        store.commit([{"type": "approved", "job": "clean"}])
    code, out, slow = ls_here(busy_deck)
    assert slow, "served stale cards after the log grew"
    assert {c["id"]: c["column"] for c in json.loads(out)}["clean"] == "done"
    assert ls_here(busy_deck) == (0, out, False)


def test_a_changed_jobs_json_is_seen(busy_deck: Deck) -> None:
    slow_ls_json(busy_deck)
    spec = json.loads(busy_deck.spec_path.read_text())
    spec["jobs"].append({"id": "late", "command": ["true"]})
    busy_deck.spec_path.write_text(json.dumps(spec))
    code, out, slow = ls_here(busy_deck)
    assert slow and json.loads(out)[-1]["id"] == "late"


def test_an_invalid_jobs_json_is_reported_not_hidden_by_the_cache(
        busy_deck: Deck, capsys: pytest.CaptureFixture[str]) -> None:
    expected = slow_ls_json(busy_deck)
    busy_deck.spec_path.write_text('{"jobs": [{"id": "x", "command": ["true"],}]}')
    capsys.readouterr()
    code, out, _ = ls_here(busy_deck)
    assert (code, out) == (0, expected)  # its last valid version, as runners keep it meanwhile
    err = capsys.readouterr().err
    assert "trailing comma" in err and "using the last valid jobs.json meanwhile" in err


def test_the_same_bytes_saved_again_keep_the_fast_path(busy_deck: Deck) -> None:
    expected = slow_ls_json(busy_deck)
    busy_deck.spec_path.write_bytes(busy_deck.spec_path.read_bytes())  # new mtime, same content
    assert ls_here(busy_deck) == (0, expected, False)


@pytest.mark.parametrize("damage", ["truncate", "flip", "torn-log"])
def test_a_damaged_cache_or_torn_log_falls_back_to_the_slow_path(busy_deck: Deck, damage: str) -> None:
    expected = slow_ls_json(busy_deck)
    cache = cards_path(busy_deck)
    if damage == "truncate":
        cache.write_bytes(cache.read_bytes()[:-40])
    elif damage == "flip":
        data = bytearray(cache.read_bytes())
        data[-30] ^= 0x01
        cache.write_bytes(bytes(data))
    else:
        with open(busy_deck.events_path, "ab") as log:
            log.write(b'{"seq": 99, "type": "cla')
    assert ls_here(busy_deck) == (0, expected, True)


def test_cards_expire_when_a_retry_wait_or_a_cron_fire_comes_due(busy_deck: Deck) -> None:
    rows = json.loads(slow_ls_json(busy_deck))
    retry_at = next(c["retry_at"] for c in rows if c["id"] == "flaky")
    next_fire = next(c["next_fire"] for c in rows if c["id"] == "nightly")
    due = min(retry_at, next_fire)
    assert cached_cards(busy_deck, due - 1) is not None
    assert cached_cards(busy_deck, due) is None
    assert cached_cards(busy_deck, due + 1) is None


def test_ls_table_lists_open_jobs_with_why_they_wait(busy_deck: Deck, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--deck", str(busy_deck.root), "ls"]) == 0
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "AGENT", "TRY", "SINCE", "NOTES"]
    assert printed.err == "1 cancelled not shown (--all)\n"  # not a row of the table a script reads
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == ["fetch", "clean", "report", "publish", "nightly", "flaky", "checked"]  # not cancelled
    assert rows["report"].split()[1:3] == ["backlog", "openai/gpt-4o-mini"]
    assert rows["report"].endswith("blocked by clean (review)")
    assert "looks odd" not in rows["clean"] and rows["clean"].split()[1] == "review"
    assert rows["checked"].split()[1:4] == ["failed", "true", "1/1"]
    assert "retry in 59m" in rows["flaky"] or "retry in 1h" in rows["flaky"]
    columns = {line.index(line.split()[1]) for line in lines[:-1]}  # STATUS starts in one column
    assert len(columns) == 1
    assert main(["--deck", str(busy_deck.root), "ls", "--status", "cancelled"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["dropped", "cancelled"]


def test_text_from_jobs_cannot_drive_the_terminal(busy_deck: Deck, capsys: pytest.CaptureFixture[str]) -> None:
    """A reason with escape sequences and line breaks prints as inert text, on one line."""
    hostile = "boom\x1b]0;owned\x07\x1b[2J\nsecond line"
    with Store(busy_deck) as store:
        store.commit([{"type": "retried", "job": "checked"}])
        store.commit([{"type": "claimed", "job": "checked", "attempt": 2}])
        store.commit([{"type": "failed", "job": "checked", "reason": hostile,
                       "token": store.board.state("checked").token}])
    shown = {}
    for argv in (["ls"], ["events", "checked"]):
        assert main(["--deck", str(busy_deck.root), *argv]) == 0
        shown[argv[0]] = capsys.readouterr().out
        assert "\x1b" not in shown[argv[0]] and "\x07" not in shown[argv[0]]
    checked = next(line for line in shown["ls"].splitlines() if line.startswith("checked"))
    assert checked.endswith("boom\\x1b]0;owned\\x07\\x1b[2J second line")
    assert 'reason="boom\\u001b]0;owned\\u0007\\u001b[2J\\nsecond line"' in shown["events"]


def test_the_table_says_how_many_cancelled_jobs_it_leaves_out(tmp_path: Path, cli) -> None:
    (tmp_path / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"]}]}')
    assert cli("cancel", "b", cwd=tmp_path).returncode == 0
    for _ in range(2):  # computed, then from the card cache
        done = cli("ls", cwd=tmp_path)
        shown = done.stdout.splitlines()
        assert [line.split()[0] for line in shown[1:]] == ["a"] and done.stderr == "1 cancelled not shown (--all)\n"
    everything = cli("ls", "--all", cwd=tmp_path).stdout.splitlines()
    assert [line.split()[0] for line in everything[1:]] == ["a", "b"]
    assert "not shown" not in cli("ls", "--status", "backlog", cwd=tmp_path).stdout


def test_ls_json_from_its_cache_warns_as_the_fold_does(tmp_path: Path) -> None:
    from conftest import run_cli
    from jobdeck.state.deck import init_deck

    deck = init_deck(tmp_path / "deck", b'{"jobs": [{"id": "a", "command": ["true"]}]}')
    assert run_cli("hold", cwd=deck.root).returncode == 0
    first, second = (run_cli("ls", "--json", cwd=deck.root) for _ in range(2))
    assert (deck.state_dir / "cards.jsonl").exists()
    assert first.stdout == second.stdout
    assert "held" in first.stderr and second.stderr == first.stderr  # the second is served from the cards


def test_an_empty_deck_says_so_and_a_filter_that_matches_nothing_says_that(tmp_path: Path) -> None:
    """Both said "no jobs match", as if a filter had hidden the jobs of a deck that has none."""
    deck = init_deck(tmp_path / "deck", b'{"jobs": []}')
    for _ in range(2):  # the slow path, then the card cache's
        done = subprocess.run([sys.executable, "-m", "jobdeck", "--deck", str(deck.root), "ls"], cwd=ROOT,
                              env=cli_env(), capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (0, "")
        assert done.stderr == "no jobs in jobs.json yet (hint: `jobdeck add --id hello -- echo hi`)\n"
    deck.spec_path.write_text('{"jobs": [{"id": "a", "command": ["true"]}]}')
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "jobdeck", "--deck", str(deck.root), "ls", "--status", "failed"],
                              cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "no jobs match\n")
