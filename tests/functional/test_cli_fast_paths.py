"""Everyday commands read a jobs.json the loader already accepted without pydantic, and never a stale one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import RunCli, cli_env, run_cli
from jobdeck.state.board import Store
from jobdeck.state.deck import Deck

COMMANDS = [["ls"], ["pause", "hello"], ["resume", "hello"], ["logs", "hello"], ["events", "hello"], ["stats", "hello"],
            ["show", "hello"]]


HEAVY = ("pydantic", "croniter", "rich", "argcomplete")


def modules_loaded_by(deck: Deck, argv: list[str], watched: tuple[str, ...] = HEAVY) -> tuple[int, list[str]]:
    """Run ``jobdeck ARGV`` in a fresh interpreter: its exit code and the modules of ``watched`` it imported."""
    code = (f"import contextlib, io, json, sys\nfrom jobdeck.cli.main import main\n"
            f"with contextlib.redirect_stdout(io.TextIOWrapper(io.BytesIO())):\n    rc = main({argv!r})\n"
            f"print(json.dumps([rc, sorted(m for m in sys.modules if m.split('.')[0] in {watched!r})]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=deck.root, env=cli_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    rc, heavy = json.loads(done.stdout)
    return rc, heavy


def test_a_validated_jobs_json_is_read_without_pydantic(deck: Deck, cli: RunCli) -> None:
    assert cli("run", "--once", cwd=deck.root).returncode == 0  # validates jobs.json in full, once
    for argv in COMMANDS:
        rc, heavy = modules_loaded_by(deck, argv)
        assert rc == 0, argv
        assert heavy == [], f"`jobdeck {' '.join(argv)}` imported {heavy[:3]}"


def test_an_edited_jobs_json_is_validated_again_before_it_is_used(deck: Deck, cli: RunCli) -> None:
    """Every command says what is wrong with the edit; meanwhile they use the last valid version, as runners do
    (tests/functional/test_invalid_spec_reads.py), and one that deletes or runs refuses."""
    assert cli("ls", cwd=deck.root).returncode == 0
    spec = json.loads(deck.spec_path.read_text())
    spec["jobs"][0]["comand"] = ["typo"]
    deck.spec_path.write_text(json.dumps(spec))
    for argv in (["pause", "hello"], ["ls"], ["show", "hello"]):
        done = cli(*argv, cwd=deck.root)
        assert done.returncode == 0 and "unknown field" in done.stderr and "last valid" in done.stderr, \
            (argv, done.stderr)
    refused = cli("run", "--once", cwd=deck.root)
    assert refused.returncode == 1 and "unknown field" in refused.stderr and "last valid" not in refused.stderr


def test_show_loads_no_rich_and_prints_whole_paths_in_a_pipe(deck: Deck, cli: RunCli) -> None:
    assert cli("run", "--once", cwd=deck.root).returncode == 0
    rc, heavy = modules_loaded_by(deck, ["show", "hello"])
    assert rc == 0 and not [m for m in heavy if m.startswith("rich")], heavy
    shown = cli("show", "hello", cwd=deck.root, env={"COLUMNS": "40"})
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    header = lines.index("attempts") + 1
    assert lines[header].split() == ["N", "OUTCOME", "REASON", "EXIT", "STARTED", "TOOK", "OUTPUT"]
    assert lines[header + 1].split()[:2] == ["1", "succeeded"]
    assert lines[header + 1].endswith(str(deck.attempt_dir("default", "hello", 1) / "output"))
    assert "\x1b" not in shown.stdout  # no colour in a pipe


def test_show_prints_the_kept_validated_spec_as_validating_prints_it(deck: Deck, cli: RunCli) -> None:
    spec = json.loads(deck.spec_path.read_text())
    spec["jobs"][0].update({"command": "echo hi", "shell": True, "idempotent": True, "retry": {"max_attempts": 2}})
    deck.spec_path.write_text(json.dumps(spec))
    kept = deck.state_dir / "spec.jobs.jsonl"
    validating = [cli("show", "hello", *extra, cwd=deck.root) for extra in ([], ["--json"])]  # validates, keeps it
    assert kept.exists()
    rc, heavy = modules_loaded_by(deck, ["show", "hello", "--json"])
    assert (rc, heavy) == (0, [])
    from_kept = [cli("show", "hello", *extra, cwd=deck.root) for extra in ([], ["--json"])]
    assert [r.stdout for r in from_kept] == [r.stdout for r in validating]
    assert json.loads(from_kept[1].stdout)["spec"]["retry"] == {"max_attempts": 2}

    # the kept forms of another jobs.json are never shown: it is validated again
    spec["jobs"][0]["retry"] = {"max_attempts": 3}
    deck.spec_path.write_text(json.dumps(spec))
    kept_before = kept.read_bytes()
    assert json.loads(cli("show", "hello", "--json", cwd=deck.root).stdout)["spec"]["retry"] == {"max_attempts": 3}
    assert kept.read_bytes() != kept_before


def test_validate_judges_new_bytes_in_full_and_says_the_same_of_bytes_it_accepted(deck: Deck, cli: RunCli) -> None:
    spec = json.loads(deck.spec_path.read_text())
    spec["agents"] = {"scribe": {"type": "llm", "model": "openai/gpt-4o-mini"}}
    spec["executors"] = {"hpc": {"type": "slurm", "partition": "debug"}}
    deck.spec_path.write_text(json.dumps(spec))
    assert not (deck.state_dir / "spec.ok").exists()
    in_full = [cli("validate", *extra, cwd=deck.root) for extra in ([], ["--json"])]  # the loader runs, marks it
    assert in_full[0].returncode == 0, in_full[0].stderr
    assert "valid (2 jobs, 1 agent, 1 executor)" in in_full[0].stdout
    assert (deck.state_dir / "spec.ok").exists()
    rc, heavy = modules_loaded_by(deck, ["validate"])
    assert (rc, heavy) == (0, [])
    again = [cli("validate", *extra, cwd=deck.root) for extra in ([], ["--json"])]
    assert [(r.returncode, r.stdout) for r in again] == [(r.returncode, r.stdout) for r in in_full]

    spec["executors"]["hpc"]["options"] = {"time": "1:00:00"}  # jobdeck sets --time itself
    deck.spec_path.write_text(json.dumps(spec))
    rejected = cli("validate", cwd=deck.root)
    assert rejected.returncode == 1 and "timeout.hard" in rejected.stderr, rejected.stderr


def test_add_of_a_plain_job_to_an_accepted_jobs_json_builds_no_models_and_leaves_a_file_the_loader_accepts(
        deck: Deck, cli: RunCli) -> None:
    assert cli("ls", cwd=deck.root).returncode == 0  # the loader accepts jobs.json and says so
    rc, heavy = modules_loaded_by(deck, ["add", "--id", "later", "--label", "nightly", "--depends-on", "hello",
                                         "--", "echo", "hi"])
    assert (rc, heavy) == (0, [])
    from jobdeck.state.loader import load_spec
    job = load_spec(deck.spec_path).spec.job("later")  # the loader itself agrees
    assert job is not None and (job.command, job.depends_on, job.labels) == (["echo", "hi"], ["hello"], ["nightly"])
    rc, heavy = modules_loaded_by(deck, ["ls"])  # and the next command reads it without the models too
    assert (rc, heavy) == (0, [])
    shown = cli("show", "later", "--json", cwd=deck.root)  # show validates the new version (no kept form yet)
    assert shown.returncode == 0 and json.loads(shown.stdout)["spec"]["command"] == ["echo", "hi"], shown.stderr

    # anything it does not judge goes to the loader, which says what is wrong, and nothing is written
    before = deck.spec_path.read_bytes()
    refused = cli("add", "--id", "typo", "--depends-on", "helo", "--", "true", cwd=deck.root)
    assert refused.returncode == 1 and "depends on unknown job 'helo'" in refused.stderr, refused.stderr
    assert "did you mean 'hello'" in refused.stderr
    assert deck.spec_path.read_bytes() == before


def test_ls_after_a_change_takes_next_fires_from_the_cards_it_saved_until_one_is_due(deck: Deck, cli: RunCli) -> None:
    spec = json.loads(deck.spec_path.read_text())
    spec["jobs"].append({"id": "nightly", "command": ["true"], "schedule": "0 2 * * *", "timezone": "Europe/Paris"})
    deck.spec_path.write_text(json.dumps(spec))

    def listed() -> dict[str, object]:
        done = cli("ls", "--json", cwd=deck.root)
        assert done.returncode == 0, done.stderr
        return {card["id"]: card["next_fire"] for card in json.loads(done.stdout)}

    first = listed()  # validates, computes the fire with croniter, saves the cards
    assert isinstance(first["nightly"], float) and first["hello"] is None
    assert cli("pause", "hello", cwd=deck.root).returncode == 0  # the log grows: the cards are rebuilt
    rc, heavy = modules_loaded_by(deck, ["ls"])
    assert (rc, heavy) == (0, [])  # no croniter: the saved cards still tell the next fire
    assert listed() == first

    cache = deck.state_dir / "cards.jsonl"
    header, rest = cache.read_bytes().split(b"\n", 1)
    saved = json.loads(header)
    saved["valid_until"] = saved["now"]  # as if the fire were due now: it must be worked out again
    cache.write_bytes(json.dumps(saved).encode() + b"\n" + rest)
    assert cli("resume", "hello", cwd=deck.root).returncode == 0
    rc, heavy = modules_loaded_by(deck, ["ls"])
    assert rc == 0 and "croniter" in heavy
    assert listed() == first


def test_everyday_commands_do_not_import_dataclasses(deck: Deck, cli: RunCli) -> None:
    """Importing dataclasses loads inspect, ast, dis, tokenize...: ~7 ms, plus each decorated class, a
    tenth of what `show` costs. The state these commands read is NamedTuples and plain classes."""
    assert cli("run", "--once", cwd=deck.root).returncode == 0  # a history to fold; jobs.json accepted
    for argv in (["show", "hello"], ["logs", "hello"], ["pause", "hello"], ["resume", "hello"], ["validate"],
                 ["ls"], ["add", "--id", "extra", "--", "true"]):  # add last: it changes jobs.json
        rc, slow = modules_loaded_by(deck, argv, ("dataclasses", "inspect"))
        assert rc == 0, argv
        assert slow == [], f"`jobdeck {' '.join(argv)}` imported {slow}"


def test_everyday_commands_on_an_accepted_jobs_json_import_neither_the_loader_nor_subprocess(
        deck: Deck, cli: RunCli) -> None:
    """The loader brings zoneinfo, difflib and sysconfig, subprocess brings threading and selectors: ~10 ms
    that a command reading (or adding a plain job to) a jobs.json the loader accepted before does not need."""
    assert cli("run", "--once", cwd=deck.root).returncode == 0  # a history to fold; jobs.json accepted
    for argv in (["validate"], ["ls"], ["show", "hello"], ["logs", "hello"], ["pause", "hello"],
                 ["add", "--id", "extra", "--", "true"]):  # add last: it changes jobs.json
        rc, slow = modules_loaded_by(deck, argv, ("zoneinfo", "difflib", "subprocess"))
        assert rc == 0, argv
        assert slow == [], f"`jobdeck {' '.join(argv)}` imported {slow}"


def test_main_leaves_the_collector_as_it_found_it(deck: Deck) -> None:
    """main() turns the cyclic collector off for a brief command; a caller in the same process gets it back."""
    import contextlib
    import gc
    import io

    from jobdeck.cli.main import main

    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                assert main(["--deck", str(deck.root), "ls"]) == 0
                assert main(["--deck", str(deck.root), "show", "nosuchjob"]) == 1  # ends in an error: the same
            assert gc.isenabled() is enabled
        finally:
            gc.enable()


def test_help_reads_no_deck() -> None:
    """`jobdeck --help` builds every command's parser; none of them needs the deck's modules, json or hashlib."""
    code = ("import sys\nfrom jobdeck.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('jobdeck.state.') or m in ('json', 'hashlib')),"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "jobdeck ls" in done.stdout, done.stderr
    assert done.stderr.strip() == "['jobdeck.state.errors']"


def test_what_add_run_and_edit_validated_in_full_needs_no_validation_after_them(deck: Deck, cli: RunCli,
                                                                               tmp_path) -> None:
    done = cli("add", "--id", "nightly", "--schedule", "0 2 * * *", "--", "true", cwd=deck.root)
    assert done.returncode == 0, done.stderr  # a schedule: judged by the loader, which marks what it installed
    assert modules_loaded_by(deck, ["ls"], ("pydantic",)) == (0, [])

    spec = json.loads(deck.spec_path.read_text())
    spec["jobs"][0]["labels"] = ["by hand"]
    deck.spec_path.write_text(json.dumps(spec))  # saved by hand: nobody has validated it
    assert cli("run", "--once", cwd=deck.root).returncode == 0  # the runner adopts it, and says it is good
    assert modules_loaded_by(deck, ["ls"], ("pydantic",)) == (0, [])

    editor = tmp_path / "editor.py"
    editor.write_text("import json, sys\ndoc = json.load(open(sys.argv[1]))\ndoc['jobs'][0]['labels'] = ['edited']\n"
                      "json.dump(doc, open(sys.argv[1], 'w'))\n")
    done = cli("edit", cwd=deck.root, env={"EDITOR": f"{sys.executable} {editor}", "VISUAL": ""})
    assert done.returncode == 0, done.stderr
    assert modules_loaded_by(deck, ["ls"], ("pydantic",)) == (0, [])


def test_the_first_command_on_a_deck_that_is_only_a_jobs_json_marks_it_accepted(tmp_path) -> None:
    from jobdeck.state.deck import Deck as DeckAt

    deck = DeckAt(tmp_path / "clone")
    deck.root.mkdir()
    deck.spec_path.write_text(json.dumps({"jobs": [{"id": "hello", "command": ["true"]}]}))  # a fresh clone
    assert run_cli("ls", cwd=deck.root).returncode == 0
    assert (deck.state_dir / "spec.ok").exists()
    assert modules_loaded_by(deck, ["pause", "hello"]) == (0, [])


def test_validate_vouches_for_a_verdict_only_in_the_environment_it_was_reached_in(deck: Deck, cli: RunCli,
                                                                                   tmp_path) -> None:
    """The loader's verdict also depends on what is installed (agent plugins' entry points, pydantic,
    tzdata) and PYTHONPATH: another environment validates again, and validate leaves a deck that has
    no .jobdeck/ without one."""
    import shutil

    shutil.rmtree(deck.state_dir)
    assert cli("validate", cwd=deck.root).returncode == 0
    assert not deck.state_dir.exists()  # a checkout validated in CI stays as it was
    assert cli("ls", cwd=deck.root).returncode == 0  # marks it (ls makes .jobdeck/ anyway)
    marker = deck.state_dir / "spec.ok"
    assert len(marker.read_text().splitlines()) == 1
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    elsewhere = cli("validate", cwd=deck.root, env={"PYTHONPATH": str(plugins)})
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert len(marker.read_text().splitlines()) == 2  # judged again there, and marked for there
    assert modules_loaded_by(deck, ["validate"]) == (0, [])  # here, the first verdict still stands


def test_cards_saved_in_another_environment_are_not_used(deck: Deck, cli: RunCli, tmp_path: Path) -> None:
    """An agent plugin on PYTHONPATH there, not here: here the loader may refuse the jobs.json the cards show."""
    plugins = tmp_path / "plugins"
    (plugins / "someplugin-0.1.dist-info").mkdir(parents=True)
    there = cli("ls", "--json", cwd=deck.root, env={"PYTHONPATH": str(plugins)})
    assert there.returncode == 0 and (deck.state_dir / "cards.jsonl").exists()
    assert modules_loaded_by(deck, ["ls", "--json"])[1][:1] == ["pydantic"]  # judged here, not taken from there
    assert modules_loaded_by(deck, ["ls", "--json"]) == (0, [])  # and now this environment's cards serve


TEARDOWN = ("import atexit, sys, threading\n"
            "atexit.register(lambda: sys.stderr.write('torn down\\n'))\n"
            "if sys.argv[1] == 'thread':\n"
            "    threading.Thread(target=threading.Event().wait, args=(0.2,)).start()\n"
            "from jobdeck.cli.main import console\n"
            "sys.argv = ['jobdeck', *sys.argv[2:]]\n"
            "console()\n")


def test_a_brief_command_exits_without_the_interpreters_teardown_and_loses_no_output(deck: Deck) -> None:
    """`console` ends a brief command with os._exit (~6 ms of teardown saved), after flushing what it printed;
    a long command, or a process with a thread still running, exits as usual."""
    with Store(deck) as store:  # enough records that the output spans many pipe buffers
        store.commit([{"type": "note", "text": f"note {n} " + "x" * 200} for n in range(2000)])

    def run(mode: str, *argv: str, pipe_into: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", TEARDOWN, mode, *argv]
        if pipe_into is None:
            return subprocess.run(command, cwd=deck.root, env=cli_env(), capture_output=True, text=True, timeout=60)
        with subprocess.Popen(command, cwd=deck.root, env=cli_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as producer:
            reader = subprocess.run(pipe_into, stdin=producer.stdout, capture_output=True, text=True, timeout=60)
            assert producer.stdout is not None
            producer.stdout.close()
            err = producer.stderr.read() if producer.stderr else ""
            producer.wait(60)
        return subprocess.CompletedProcess(command, producer.returncode, reader.stdout, err)

    events = run("plain", "events", "--json")
    assert events.returncode == 0 and "torn down" not in events.stderr
    assert [json.loads(line)["seq"] for line in events.stdout.splitlines()] == list(range(1, 2001))
    for argv in (["--help"], ["ls", "--no-such-option"]):
        done = run("plain", *argv)
        assert "torn down" not in done.stderr and done.stdout + done.stderr, argv
    cut = run("plain", "events", "--json", pipe_into=["head", "-n", "1"])  # the reader goes away early
    assert (cut.returncode, cut.stderr, len(cut.stdout.splitlines())) == (0, "", 1)
    threaded = run("thread", "events", "--json")
    assert threaded.returncode == 0 and threaded.stderr == "torn down\n" and len(threaded.stdout.splitlines()) == 2000
    long = run("plain", "status")  # not a brief command: the usual exit
    assert "torn down" in long.stderr


def test_reading_a_schedule_starts_no_process(tmp_path: Path) -> None:
    """croniter's import asks platform.architecture(), which runs `file -b` (a fork and exec, ~6 ms of every
    runner start); state/schedule answers it without one. A `file` first on PATH says whether it was run."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "file").write_text(f"#!/bin/sh\ntouch {tmp_path / 'ran'}\necho ELF\n")
    (fake / "file").chmod(0o755)
    code = ("import time\nfrom jobdeck.state.schedule import check_cron, next_fire\n"
            "check_cron('0 2 * * *', 'Europe/Paris')\nprint(next_fire('@daily', 'UTC', 0.0))\n"
            "import platform\nprint(platform.architecture()[0])")  # (the real one is back afterwards)
    done = subprocess.run([sys.executable, "-c", code], env=cli_env({"PATH": f"{fake}:/usr/bin:/bin"}),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["86400.0", "64bit"]
    assert (tmp_path / "ran").exists()  # by the last line's own call: the fake is where platform looks
    (tmp_path / "ran").unlink()
    again = subprocess.run([sys.executable, "-c", code.rsplit("\nimport platform", 1)[0]],
                           env=cli_env({"PATH": f"{fake}:/usr/bin:/bin"}), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and not (tmp_path / "ran").exists()
