"""`jobdeck ls` lists a job taken out of jobs.json by hand while its attempt runs, until the attempt ends.

A real runner runs jobs that block on a FIFO (each ends when the test writes to it); jobs.json is rewritten
without them; `ls`, `ls --json` and the card cache behind them must show them, marked, and then drop them.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.functional.runner_kit import env_for, events, jobdeck, make_deck, start_runner, status, wait_for


def _fifo_job(tmp_path: Path, job_id: str) -> dict[str, Any]:
    """A job that runs until the test opens its FIFO for writing and closes it (``_release``)."""
    fifo = tmp_path / f"{job_id}.fifo"
    os.mkfifo(fifo)
    return {"id": job_id, "command": ["cat", str(fifo)]}


def _release(tmp_path: Path, job_id: str) -> None:
    """End the job's ``cat``: open its FIFO for writing (once the job has it open for reading), then close it."""
    def opened() -> int | None:
        try:
            return os.open(tmp_path / f"{job_id}.fifo", os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            return None

    os.close(wait_for(opened, what=f"{job_id}'s cat to open its FIFO"))


def _ls_json(deck: Path) -> list[dict[str, Any]]:
    return json.loads(jobdeck(deck, "ls", "--json", check=True).stdout)


def _ended(deck: Path, job_id: str) -> bool:
    return any(e["type"] in ("succeeded", "failed", "interrupted") and e.get("job") == job_id for e in events(deck))


def _stop(runner: subprocess.Popen[str]) -> None:
    runner.terminate()
    runner.communicate(timeout=60)


def test_running_jobs_taken_out_of_jobs_json_are_listed_marked_until_their_attempts_end(tmp_path: Path) -> None:
    deck = make_deck(tmp_path, [_fifo_job(tmp_path, "gone"), _fifo_job(tmp_path, "also"),
                                {"id": "stays", "command": ["true"]}])
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "gone") == "running" and status(deck, "also") == "running"
                 and status(deck, "stays") == "done", what="gone and also to run, stays to be done")
        (deck / "jobs.json").write_text(json.dumps({"jobs": [{"id": "stays", "command": ["true"]}]}))

        listed = _ls_json(deck)  # computed, and left in the card cache
        assert [card["id"] for card in listed] == ["stays", "also", "gone"]
        assert [(card["id"], card["column"], card["declared"]) for card in listed] == [
            ("stays", "done", True), ("also", "running", False), ("gone", "running", False)]
        gone = listed[2]
        assert gone["flags"] == ["no longer in jobs.json"] and gone["attempt"] == 1
        cache = deck / ".jobdeck" / "cards.jsonl"
        inode = cache.stat().st_ino
        assert _ls_json(deck) == listed  # the same from the card cache
        assert cache.stat().st_ino == inode  # (the slow path would have written a new one)

        for _ in range(2):  # twice: the same whether computed or from the cache
            table = jobdeck(deck, "ls", check=True)
            rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
            assert set(rows) == {"stays", "gone", "also"}
            assert rows["gone"].split()[1:4] == ["running", "?", "1/?"] and "no longer in jobs.json" in rows["gone"]
            assert table.stderr == ("jobdeck: 2 jobs still run but are no longer in jobs.json: also, gone "
                                    "(hint: `jobdeck cancel ID` stops one)\n")  # once, not per row
        assert [c["id"] for c in json.loads(jobdeck(deck, "ls", "--json", "--status", "running").stdout)] == \
            ["also", "gone"]

        _release(tmp_path, "also")
        wait_for(lambda: _ended(deck, "also"), what="also's attempt to end")
        table = jobdeck(deck, "ls", check=True)
        assert "also" not in table.stdout and "gone" in table.stdout
        assert table.stderr == ("jobdeck: gone still runs but is no longer in jobs.json "
                                "(hint: `jobdeck cancel gone` stops it)\n")
        assert [card["id"] for card in _ls_json(deck)] == ["stays", "gone"]

        _release(tmp_path, "gone")
        wait_for(lambda: _ended(deck, "gone"), what="gone's attempt to end")
        assert [card["id"] for card in _ls_json(deck)] == ["stays"]  # not stuck in the cache
        assert [card["id"] for card in _ls_json(deck)] == ["stays"]
        table = jobdeck(deck, "ls", check=True)
        assert [line.split()[0] for line in table.stdout.splitlines()[1:]] == ["stays"] and table.stderr == ""
    finally:
        _stop(runner)


COCKPIT = """
import sys, time
from jobdeck.cockpit.fast_start import save_board
from jobdeck.cockpit.model import DeckModel
from jobdeck.state.cardcache import cached_cards
from jobdeck.state.deck import find_deck

model = DeckModel(find_deck(None), time.time)
model.load()
print(" ".join(card.id for card in model.cards_in_order()), flush=True)
log = model.store.log  # what the cockpit saves on quit (app.save_card_cache):
save_board(model.deck, model.cards_in_order(), spec=model.source.current.digest, offset=log.offset,
           last_hash=log.last_hash, now=model.clock())
print(cached_cards(model.deck, time.time()) is not None, flush=True)
sys.stdin.readline()  # the test ends the attempt
delta = model.refresh()
print(" ".join(sorted(delta.removed)), "|", " ".join(card.id for card in model.cards_in_order()), flush=True)
model.close()
"""


def test_the_cockpit_shows_such_a_job_until_its_attempt_ends_and_its_saved_cards_answer_ls(tmp_path: Path) -> None:
    """The cockpit's board lists it as `ls` does, drops it when its end is recorded, and the cards it saves on
    quit serve `ls --json` as they are (they include it)."""
    deck = make_deck(tmp_path, [_fifo_job(tmp_path, "gone"), {"id": "stays", "command": ["true"]}])
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "gone") == "running" and status(deck, "stays") == "done",
                 what="gone to run, stays to be done")
        (deck / "jobs.json").write_text(json.dumps({"jobs": [{"id": "stays", "command": ["true"]}]}))
        cockpit = subprocess.Popen([sys.executable, "-c", COCKPIT], cwd=deck, env=env_for(deck), text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert cockpit.stdout is not None and cockpit.stdin is not None
            assert cockpit.stdout.readline() == "stays gone\n"
            assert cockpit.stdout.readline() == "True\n"  # saved, and valid for this deck and environment
            cache = deck / ".jobdeck" / "cards.jsonl"
            saved = cache.read_bytes()
            listed = _ls_json(deck)
            assert [card["id"] for card in listed] == ["stays", "gone"]
            assert [card["declared"] for card in listed] == [True, False]
            assert cache.read_bytes() == saved, "ls answered from the cockpit's cards, as they were"
            _release(tmp_path, "gone")
            wait_for(lambda: _ended(deck, "gone"), what="gone's attempt to end")
            cockpit.stdin.write("\n")
            cockpit.stdin.flush()
            assert cockpit.stdout.readline() == "gone | stays\n"
            assert cockpit.wait(timeout=60) == 0, cockpit.stderr.read() if cockpit.stderr else ""
        finally:
            if cockpit.poll() is None:
                cockpit.kill()
                cockpit.wait()
        assert [card["id"] for card in _ls_json(deck)] == ["stays"]
    finally:
        _stop(runner)


def test_logs_shows_such_a_jobs_output_and_show_says_what_it_is(tmp_path: Path) -> None:
    """`ls` lists it; `logs` must show what it does, so the operator can judge whether to cancel it, and `show`
    say why it has no spec to show, rather than "no job" for an id `ls` just listed."""
    fifo = tmp_path / "gone.fifo"
    os.mkfifo(fifo)
    deck = make_deck(tmp_path, [{"id": "gone", "command": ["sh", "-c", f'echo halfway; cat "{fifo}"']},
                                {"id": "stays", "command": ["true"]}])
    runner = start_runner(deck)
    try:
        wait_for(lambda: status(deck, "gone") == "running" and status(deck, "stays") == "done",
                 what="gone to run, stays to be done")
        (deck / "jobs.json").write_text(json.dumps({"jobs": [{"id": "stays", "command": ["true"]}]}))
        wait_for(lambda: jobdeck(deck, "logs", "gone").stdout == "halfway\n", what="gone's output through logs")
        shown = jobdeck(deck, "show", "gone")
        assert shown.returncode == 1 and shown.stdout == ""
        assert shown.stderr == (f"jobdeck: job 'gone' is no longer in {deck / 'jobs.json'}; its attempt 1 is still "
                                "under way (hint: `jobdeck logs gone` shows its output, `jobdeck cancel gone` stops "
                                "it)\n")
        _release(tmp_path, "gone")
        wait_for(lambda: _ended(deck, "gone"), what="gone's attempt to end")
        after = jobdeck(deck, "logs", "gone")
        assert after.returncode == 1 and "no job 'gone'" in after.stderr
    finally:
        _stop(runner)
