"""Every command explains itself, and a command run outside a deck says how to make one."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from jobdeck.cli.main import build_parser, main
from conftest import RunCli


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def command_help() -> dict[str, str | None]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: choice.help for choice in action._choices_actions}


def test_every_command_and_option_has_help_text() -> None:
    """Like sqlite-utils: no command, argument or option without a line of help."""
    helps = command_help()
    assert set(helps) == set(subcommands())
    missing = [name for name, text in helps.items() if not text]
    missing += [f"{name} {action.option_strings or action.dest}"
                for name, parser in subcommands().items()
                for action in parser._actions
                if not isinstance(action, argparse._HelpAction) and not action.help]
    assert missing == []


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_command_help_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`jobdeck COMMAND --help` exits 0 (no deck needed) and shows the command's description."""
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: jobdeck {name}")
    description = subcommands()[name].description.splitlines()[0]
    assert " ".join(description.split()) in " ".join(out.split())


def examples(text: str) -> list[list[str]]:
    """The jobdeck command lines of the "examples:" section of a help text, as argv (without "jobdeck")."""
    import re
    import shlex

    section = text.split("\nexamples:\n", 1)[1].split("\n\n", 1)[0] if "\nexamples:\n" in text else ""
    lines = []
    for line in section.splitlines():
        command = line[line.index("jobdeck "):] if "jobdeck " in line else ""
        command = re.split(r"\s{2,}| \|\|? | && | > |\)", command)[0]  # without its comment, pipe, "> FILE", "$(...)"
        lines.append(shlex.split(command)[1:])
    return lines


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_shows_examples_that_parse(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each command's --help ends with examples, and each one is a command line the parser takes as written
    (an option renamed without its examples fails here)."""
    with pytest.raises(SystemExit):
        main([name, "--help"])
    shown = examples(capsys.readouterr().out)
    assert any(name in argv[:3] for argv in shown), shown  # (after `--deck DIR`, if given)
    parser = build_parser()
    for argv in shown:
        parser.parse_args(argv)  # a usage error is SystemExit(2): the test fails with argparse's message


@pytest.mark.parametrize("name", ["", *sorted(subcommands()), "notify test"])
def test_help_fits_an_80_column_terminal(name: str, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Prose is filled to the terminal and examples are kept short, so nothing wraps at 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main([*name.split(), "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out
    assert [line for line in out.splitlines() if len(line) >= 80] == []


def test_top_level_help_lists_every_command(cli: RunCli, tmp_path: Path) -> None:
    done = cli("--help", cwd=tmp_path)
    assert done.returncode == 0
    for name in subcommands():
        assert f"    {name} " in done.stdout or f"    {name}\n" in done.stdout, name
    assert "JOBDECK_DECK" in done.stdout


def test_the_readme_lists_every_command() -> None:
    """README's "Commands" section names each command, in backquotes (`log rotate|compact` for `log`)."""
    from conftest import ROOT

    section = (ROOT / "README.md").read_text().split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    named = {word.split()[0] for word in section.split("`")[1::2] if word.strip()}
    assert sorted(set(subcommands()) - named) == []


def test_ls_outside_a_deck_says_so_and_how_to_make_one(cli: RunCli, tmp_path: Path) -> None:
    done = cli("ls", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"jobdeck: not inside a deck (no jobs.json in {tmp_path.resolve()} or any parent)")
    assert "run `jobdeck init`" in done.stderr


@pytest.mark.parametrize("how", ["--deck", "JOBDECK_DECK"])
def test_named_deck_that_is_not_one(how: str, cli: RunCli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    if how == "--deck":
        done = cli("--deck", str(missing), "ls", cwd=tmp_path)
    else:
        done = cli("ls", cwd=tmp_path, env={"JOBDECK_DECK": str(missing)})
    assert done.returncode == 2
    assert done.stderr == f"jobdeck: {how} {missing}: no jobs.json there (hint: create one with `jobdeck init {missing}`)\n"


def test_a_file_named_as_the_deck_is_not_offered_init(cli: RunCli, tmp_path: Path) -> None:
    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0\n")
    done = cli("--deck", str(a_file), "ls", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == f"jobdeck: --deck {a_file}: not a directory (hint: a deck is the directory that holds jobs.json)\n"


def test_deck_may_follow_the_command(cli: RunCli, tmp_path: Path) -> None:
    """`jobdeck ls --deck DIR` as well as `jobdeck --deck DIR ls`; after the command, it wins."""
    for name in ("one", "two"):
        assert cli("init", str(tmp_path / name), cwd=tmp_path).returncode == 0
    added = cli("add", "--id", "solo", "--deck", str(tmp_path / "one"), "--", "true", cwd=tmp_path)
    one = cli("ls", "--json", "--deck", str(tmp_path / "one"), cwd=tmp_path)
    two = cli("--deck", str(tmp_path / "nowhere"), "ls", "--json", "--deck", str(tmp_path / "two"), cwd=tmp_path)
    assert (added.returncode, one.returncode, two.returncode) == (0, 0, 0), added.stderr + one.stderr + two.stderr
    assert '"solo"' in one.stdout and '"solo"' not in two.stdout


def test_unknown_command_is_a_usage_error(cli: RunCli, tmp_path: Path) -> None:
    done = cli("frobnicate", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "jobdeck: no command 'frobnicate' (hint: see `jobdeck --help`)\n"
    assert "Traceback" not in done.stderr


def test_an_unknown_option_is_told_by_the_commands_own_usage(cli: RunCli, tmp_path: Path) -> None:
    """`jobdeck logs X --json` printed the top-level usage, as if the command were not known."""
    done = cli("logs", "x", "--json", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[0].startswith("usage: jobdeck logs [-h]")
    assert done.stderr.splitlines()[-1] == "jobdeck logs: error: unrecognized arguments: --json"


def test_a_command_built_alone_parses_and_explains_itself_as_in_the_full_parser() -> None:
    """`build_parser(only=NAME)` (what `main` builds for `jobdeck NAME ...`) loses no argument of NAME."""
    from jobdeck.cli.main import named_command

    full = subcommands()
    for name, parser in full.items():
        alone = build_parser(name)
        action = next(a for a in alone._actions if isinstance(a, argparse._SubParsersAction))
        assert list(action.choices) == [name]
        assert action.choices[name].format_help() == parser.format_help(), name
    assert build_parser("nope").format_help() == build_parser().format_help()  # no such command: all of them
    assert [named_command(argv) for argv in (["ls"], ["--deck", "d", "show", "x"], ["--deck=d", "ls"],
                                             ["--help"], ["--dec", "d", "ls"], [])] == [
        "ls", "show", "ls", None, None, None]


def test_a_mistyped_command_gets_the_nearest_names_and_no_command_gets_the_help(cli: RunCli, tmp_path: Path) -> None:
    typo = cli("lss", cwd=tmp_path)
    assert (typo.returncode, typo.stderr) == (2, "jobdeck: no command 'lss' (hint: did you mean 'ls'?)\n")
    assert "did you mean 'decisions'?" in cli("decision", cwd=tmp_path).stderr
    assert "see `jobdeck --help`" in cli("frobnicate", "--json", cwd=tmp_path).stderr
    bare = cli(cwd=tmp_path)
    assert bare.returncode == 2 and "positional arguments:" in bare.stdout and "examples:" in bare.stdout
    assert cli("--deck", str(tmp_path), cwd=tmp_path).stdout == bare.stdout


def test_a_jobs_json_that_is_not_a_file_is_named_and_init_does_not_replace_a_link(cli: RunCli, tmp_path: Path) -> None:
    import os

    dangling, folder = tmp_path / "dangling", tmp_path / "folder"
    dangling.mkdir()
    (dangling / "jobs.json").symlink_to(tmp_path / "shared" / "jobs.json")  # its share is not mounted yet
    (folder / "jobs.json").mkdir(parents=True)
    for done in (cli("--deck", str(dangling), "ls", cwd=tmp_path), cli("ls", cwd=dangling)):
        assert done.returncode == 2
        assert f"jobs.json is a link to {tmp_path / 'shared' / 'jobs.json'}, which does not exist" in done.stderr
        assert "jobdeck init" in done.stderr and "create one" not in done.stderr  # no hint that would replace it
    init = cli("init", str(dangling), cwd=tmp_path)
    assert init.returncode == 2 and "which does not exist" in init.stderr, init.stderr
    assert os.path.islink(dangling / "jobs.json") and not (dangling / ".jobdeck").exists()  # the link is kept
    done = cli("--deck", str(folder), "ls", cwd=tmp_path)
    assert done.returncode == 2 and "jobs.json is a directory" in done.stderr, done.stderr
    (tmp_path / "afile").write_text("notes")
    done = cli("init", str(tmp_path / "afile"), cwd=tmp_path)
    assert done.returncode == 2 and "afile is a file, not a directory (hint:" in done.stderr, done.stderr


def test_wait_needs_the_job_it_waits_for(cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "jobs.json").write_text('{"jobs": [{"id": "a", "command": ["true"]}]}')
    done = cli("run", "--wait", cwd=tmp_path, timeout=30)
    assert done.returncode == 2 and "--wait waits for the job of --job" in done.stderr  # not a runner until stopped
