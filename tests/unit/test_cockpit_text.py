"""Pure helpers of the cockpit: inert output, the board filter, card texts."""

from __future__ import annotations

from rich.text import Text

from jobdeck.cockpit.card_cell import CardCell, age_text, flag_texts
from jobdeck.cockpit.filtering import matches
from jobdeck.state.card import Card
from jobdeck.state.machine import Status
from jobdeck.state.terminal import inert

NOW = 1_000_000.0


def card(**changes: object) -> Card:
    fields = dict(id="build", title="Build it", column=Status.BACKLOG, agent="make", attempt=0,
                  max_attempts=1, workspace="default", priority=0, labels=("ci", "nightly"), since=None)
    fields.update(changes)
    return Card(**fields)  # type: ignore[arg-type]


def test_inert_strips_terminal_control_sequences() -> None:
    evil = ("\x1b[2J\x1b[H\x1b]0;title\x07\x1b]52;c;Y2xpcA==\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"
            "\x1bP+q\x1b\\\x9b31mred\x1b[0m \x07bell\x00 \u202eevil\u202c")
    assert inert(evil) == "linkred bell evil"


def test_inert_keeps_text_newlines_and_markup_like_brackets() -> None:
    assert inert("[bold]x[/bold]\n\ty") == "[bold]x[/bold]\n    y"
    assert Text(inert("[red]no[/red]")).plain == "[red]no[/red]"


def test_inert_shows_the_last_redraw_of_a_progress_line() -> None:
    assert inert("10%\r50%\r100%\ndone\r\n") == "100%\ndone\n"


def test_a_carriage_return_overwrites_as_a_terminal_does_and_hides_no_more() -> None:
    # a reviewer must see what a terminal would: the tail of a longer line stays
    assert inert("secret\rOVER") == "OVERet"
    assert inert("DROPPED TABLE users\r  ok") == "  okPED TABLE users"


def test_inert_drops_a_sequence_cut_at_a_chunk_end() -> None:
    assert inert("abc\x1b[3") == "abc3"  # the tail re-sanitizes its whole buffer, so the rest comes later
    assert "\x1b" not in inert("abc\x1b")


def test_filter_terms_all_must_match() -> None:
    job = card()
    assert matches(job, "build")
    assert matches(job, "BUILD label:night")
    assert matches(job, "ws:default status:back")
    assert not matches(job, "build label:deploy")
    assert not matches(job, "workspace:reports")
    assert not matches(job, "status:done")


def test_card_texts_use_the_injected_clock() -> None:
    retrying = card(attempt=2, max_attempts=3, since=NOW - 130, flags=("retrying",), retry_at=NOW + 45)
    assert age_text(retrying, NOW) == "2/3 2m"
    assert flag_texts(retrying, NOW) == ["retry in 45s"]
    single = card(attempt=1, since=NOW - 5, column=Status.RUNNING)
    assert age_text(single, NOW) == "5s"


def test_card_cells_compare_by_what_they_show() -> None:
    a, b = CardCell(card(since=NOW - 5), NOW, 0), CardCell(card(since=NOW - 5), NOW + 1, 0)
    assert a == CardCell(card(since=NOW - 5), NOW, 0)
    assert a != b  # the age moved from 5s to 6s
    assert a.lines[0].plain == "Build it" and a.lines[1].plain == "make"


def first_line(cell: CardCell, width: int) -> str:
    return cell._layout(width)[0].plain


def test_a_card_keeps_its_attempt_and_age_and_cuts_its_id_for_them() -> None:
    long = card(id="merge-enrichment", attempt=1, max_attempts=3, since=NOW - 57)
    cell = CardCell(long, NOW, 0)
    assert first_line(cell, 30) == "merge-enrichment       1/3 57s"
    assert first_line(cell, 22) == "merge-enrichm… 1/3 57s"  # no room beside the whole id: the id is cut
    assert first_line(cell, 16) == "merge-e… 1/3 57s"  # down to ID_KEPT cells
    assert first_line(cell, 13) == "merge-en… 57s"  # narrower: the age alone
    assert first_line(cell, 11) == "merge-enri…"  # narrower still: the id alone
    single = CardCell(card(id="merge-enrichment", attempt=1, since=NOW - 57), NOW, 0)
    assert first_line(single, 22) == "merge-enrichment   57s"  # '1/1' says little: never worth cutting the id
    gone = CardCell(card(id="long-runner", attempt=1, max_attempts=0, since=NOW - 57, declared=False), NOW, 0)
    assert first_line(gone, 22) == "long-runner    1/? 57s"  # no longer in jobs.json: its tries are not known


def test_the_board_folds_the_fewest_columns_and_keeps_the_focused_one_in_view() -> None:
    from jobdeck.cockpit.board import columns_that_fit, fold_start

    assert [columns_that_fit(width) for width in (80, 84, 94, 95, 160)] == [3, 4, 4, 4, 7]
    assert fold_start(6, 5, focused=0, start=0) == 0  # Backlog..Failed in view
    assert fold_start(6, 5, focused=5, start=0) == 1  # → to Cancelled slides by one
    assert fold_start(6, 5, focused=3, start=1) == 1  # back to Done: no need to move
    assert fold_start(6, 5, focused=0, start=1) == 0
    assert fold_start(6, 1, focused=4, start=0) == 4  # one column at a time
    assert fold_start(5, 5, focused=4, start=3) == 0  # all fit: nothing folded


def test_a_title_or_reason_with_line_breaks_stays_on_its_line_of_the_card() -> None:
    titled = CardCell(card(title="first line\nsecond line\r\nthird", column=Status.FAILED, reason="exit 3\nFATAL"), NOW, 0)
    second, third = titled.lines
    assert second.plain == "first line second line third" and third.plain.startswith("exit 3 FATAL")
