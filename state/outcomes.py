"""What an ended attempt counts as in the rollups and in `jobdeck stats`: one rule for both folds.

An outcome event says where an attempt leaves its job, which is not always how the
attempt went: output that failed its job's ``validate`` is a ``succeeded`` event sent
to review (runner/verdict.py), so that a person may still accept it, unless the
job's review is "never", where it is a ``failed`` event. Counted, both are a failure
of class ``invalid_output``, and neither one's wall time is a success's run time.
"""

from __future__ import annotations

from jobdeck.state.machine import EventType

INVALID_OUTPUT = "invalid_output"
"""The reason of a failed attempt whose output failed validation (review "never"), and of one counted so."""
INVALID_OUTPUT_REVIEW = "invalid output"
"""The reason of a succeeded attempt sent to review because its output failed validation."""

FAILURE_CLASSES: dict[str, tuple[str, ...]] = {
    "exit": ("exit_code", "signal"),
    "idle_timeout": ("idle_timeout",),
    "hard_timeout": ("hard_timeout",),
    "invalid_output": (INVALID_OUTPUT, "output_limit"),
    "provider_auth": ("auth",),
    "provider_rate_limit": ("rate_limit",),
    "provider_server": ("server_error", "connection", "timeout", "empty_answer"),
}
"""Failed attempts' ``reason`` (runner/verdict.py, agents/failures.py), as ``counted_as`` gives it, by class; any other
is "other".

Interrupted attempts are their own class, "interrupted"; cancelled ones are no failure."""
CLASS_OF = {reason: name for name, reasons in FAILURE_CLASSES.items() for reason in reasons}


def counted_as(outcome: str, reason: str | None) -> tuple[str, str | None]:
    """The outcome and reason an ended attempt counts under: output that failed validation as a failure."""
    if outcome == EventType.SUCCEEDED and reason == INVALID_OUTPUT_REVIEW:
        return EventType.FAILED.value, INVALID_OUTPUT
    return outcome, reason


def failure_class(reason: str | None) -> str:
    """The class of a failed attempt's counted ``reason``."""
    return CLASS_OF.get(reason or "", "other")
