"""Cron mistakes said in plain words (state/schedule.py): which field, which value, what it may be."""

from __future__ import annotations

import pytest

from jobdeck.state.schedule import check_cron


@pytest.mark.parametrize(("expr", "message"), [
    ("61 2 * * *", "minute 61 is out of range (0-59) in '61 2 * * *'"),
    ("0 25 * * *", "hour 25 is out of range (0-23) in '0 25 * * *'"),
    ("0 0 32 * *", "day 32 is out of range (1-31)"),
    ("0 0 1-40 * *", "day 40 is out of range (1-31)"),
    ("0 0 0 * *", "day 0 is out of range (1-31)"),
    ("0 0 * 13 *", "month 13 is out of range (1-12)"),
    ("0 0 * * 8", "weekday 8 is out of range (0-7, Sunday is 0 or 7)"),
    ("1,2,60 * * * *", "minute 60 is out of range (0-59)"),
    ("-5 * * * *", "minute -5 is out of range (0-59)"),
    ("*/0 * * * *", "minute step 0 is not allowed (a step is 1 or more)"),
    ("*/a * * * *", "minute step 'a' is not a number"),
    ("x 2 * * *", "minute 'x' is not a number (0-59)"),
    ("1.5 * * * *", "minute '1.5' is not a number (0-59)"),
    ("0 0 1 janvier *", "month 'janvier' is not a number (1-12) or a month's name (jan-dec)"),
    ("0 0 * * monday", "weekday 'monday' is not a number (0-7) or a day's name (sun-sat)"),
    ("0 0 * * mon-fry", "weekday 'fry' is not"),
    ("? * * * *", "minute cannot be '?' (only day and weekday can)"),
    ("1,,2 * * * *", "minute '1,,2' has an empty item"),
    ("bad", "'bad' has 1 field; a cron schedule has 5 (minute hour day month weekday)"),
    ("0 2 * *", "'0 2 * *' has 4 fields;"),
    ("0 0 * * * *", "'0 0 * * * *' has 6 fields;"),
    ("@fortnightly", "unknown schedule alias '@fortnightly'"),
    ("0 0 31 2 *", "'0 0 31 2 *' never fires"),
])
def test_a_mistake_is_named_in_plain_words(expr: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_cron(expr)
    assert message in str(caught.value)
    assert "not acceptable" not in str(caught.value)  # croniter's words, which name no field


@pytest.mark.parametrize("expr", ["0 2 * * *", "*/15 * * * *", "0 0 * * mon-fri", "0 0 * jan-mar *", "0 0 * * 0-7",
                                  "0 0 L * *", "0 0 15W * *", "0 0 * * 1#2", "0 0 ? * 1", "5-1 * * * *", "@daily"])
def test_what_croniter_accepts_is_not_second_guessed(expr: str) -> None:
    check_cron(expr)


def test_what_no_plain_words_fit_keeps_croniters() -> None:
    with pytest.raises(ValueError, match=r"'0 0 \* \* 2#6' is not a valid cron expression: .*day_of_week"):
        check_cron("0 0 * * 2#6")
