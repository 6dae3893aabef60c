"""Costs as reasons and tables show them: a cheap model's fractions of a cent stay readable."""

from __future__ import annotations

from jobdeck.state.money import format_cost


def test_under_ten_cents_two_significant_digits_else_cents() -> None:
    shown = {usd: format_cost(usd) for usd in (0.0, 0.0036, 0.0012, 0.003, 0.05, 0.099, 0.0995, 0.25, 1.234, 12.0)}
    assert shown == {0.0: "$0.00", 0.0036: "$0.0036", 0.0012: "$0.0012", 0.003: "$0.003", 0.05: "$0.05",
                     0.099: "$0.099", 0.0995: "$0.10", 0.25: "$0.25", 1.234: "$1.23", 12.0: "$12.00"}
    assert format_cost(0.0000001) == "$0.00"  # below a millionth of a dollar: nothing worth a digit


def test_a_sum_of_float_costs_reads_as_the_tallies_exact_sum_does() -> None:
    """A reason's spend (a sum of floats) and `stats` (picodollars) must say the same amount."""
    from jobdeck.state.tally import dollars, picodollars

    for calls, cost in ((3, 0.075), (5, 0.075), (7, 0.0045), (3, 0.1)):
        floats = sum([cost] * calls)
        exact = dollars(sum(picodollars(cost) for _ in range(calls)))
        assert format_cost(floats) == format_cost(exact), (calls, cost, floats)
    assert format_cost(0.075 * 3) == "$0.23" and format_cost(0.375) == "$0.38"
