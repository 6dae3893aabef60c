"""Amounts of money as reasons and tables show them."""

from __future__ import annotations

import math


def format_cost(usd: float) -> str:
    """``$1.23``; under ten cents, two significant digits (``$0.0036``): a cheap model's calls cost fractions of a
    cent, and a budget's reasons must not read "$0.00 spent >= $0.00 a day"."""
    if math.isfinite(usd):  # to the micro-dollar first, as the tallies' sums are (state/tally.py ``dollars``):
        usd = round(usd, 6)  # three calls at $0.075 summed as floats are $0.22499999..., which stats says is $0.23
    if usd == 0 or abs(usd) >= 0.1 or not math.isfinite(usd):
        return f"${usd:.2f}"
    decimals = min(6, 1 - math.floor(math.log10(abs(usd))))
    whole, _, cents = f"{usd:.{decimals}f}".partition(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"
