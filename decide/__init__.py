"""The decision service: which ready jobs to start, in what order, and why.

It reads the spec, the board (with its rollups), the shared cooldowns and the
clock, and returns verdicts with reasons tied to numbers; it never writes. The
runner records those verdicts as ``decided`` events and, in ``live`` mode,
follows them; the cockpit and ``jobdeck why`` show them. It imports only
``jobdeck.state``.
"""
