"""A toast's lines: broken at spaces, a path after a separator, never inside a name (cockpit/toast_text.py)."""

from __future__ import annotations

import pytest

from jobdeck.cockpit.toast_text import fit_toast, toast_text_width

PATH = "/tmp/cdeck2/workspaces/research/runs/news-signals/1/output"


def test_a_long_path_breaks_after_separators_and_keeps_every_name_whole() -> None:
    lines = fit_toast(f"copied {PATH}", 36).split("\n")
    assert lines == ["copied /tmp/cdeck2/workspaces/", "research/runs/news-signals/1/output"]
    assert "".join(lines) == f"copied {PATH}"


def test_the_words_after_a_path_go_on_filling_its_last_line() -> None:
    text = fit_toast("/home/someone/.config/jobdeck/keys.toml: no action 'fly' (actions: approve, retry)", 36)
    assert text.split("\n") == ["/home/someone/.config/jobdeck/", "keys.toml: no action 'fly' (actions:",
                                "approve, retry)"]


def test_text_whose_words_all_fit_is_left_to_textual() -> None:
    said = "cannot pin job 'news-signals': it is in review (hint: pin, hold and release apply to the backlog)"
    assert fit_toast(said, 36) == said


@pytest.mark.parametrize("width", [12, 20, 36])
def test_no_line_is_wider_than_the_toast(width: int) -> None:
    text = fit_toast(f"your edit is kept at {PATH} and at /x/{'y' * 50}/z", width)
    assert max(len(line) for line in text.split("\n")) <= width


def test_a_name_longer_than_a_line_is_cut_as_there_is_no_other_way() -> None:
    assert fit_toast("/" + "a" * 10, 4).split("\n") == ["/", "aaaa", "aaaa", "aa"]


def test_the_text_width_follows_the_screen_up_to_the_toasts_own_width() -> None:
    assert [toast_text_width(width) for width in (40, 80, 81, 120, 200)] == [16, 36, 36, 56, 57]


def test_a_name_longer_than_a_line_breaks_after_a_dash_underscore_or_dot_before_it_is_cut() -> None:
    long_id = "crm-enrichment-for-the-accounts-of-northern-europe-daily-refresh"
    assert fit_toast(f"copied {long_id}", 36).split("\n") == ["copied", "crm-enrichment-for-the-accounts-of-",
                                                               "northern-europe-daily-refresh"]
    assert fit_toast("/x/" + "report_of_the_week.final.txt", 12).split("\n") == ["/x/", "report_of_", "the_week.",
                                                                               "final.txt"]


def test_a_path_still_breaks_after_its_slashes_first() -> None:
    lines = fit_toast("/tmp/some-deck/workspaces/a-long-workspace-name/runs", 30).split("\n")
    assert lines == ["/tmp/some-deck/workspaces/", "a-long-workspace-name/runs"]
