"""How jobdeck words what a terminal shows: exit codes."""

from __future__ import annotations

from jobdeck.state.terminal import exit_words


def test_an_exit_code_reads_as_people_say_it() -> None:
    assert [exit_words(c) for c in (None, 0, 75, -15, -9, -200)] == \
        ["", "0", "75", "killed by SIGTERM", "killed by SIGKILL", "killed by signal 200"]
