"""The banner shown while jobs.json on disk is invalid (the board keeps the last good spec)."""

from __future__ import annotations


from rich.text import Text
from textual.widgets import Static

from jobdeck.state.errors import SpecError, SpecErrors


def describe(error: SpecError, has_spec: bool) -> Text:
    """'jobs.json is invalid (showing the last good version): jobs.json:3:7: job 'x', ...'."""
    errors = error.errors if isinstance(error, SpecErrors) else [error]
    first = errors[0]
    where = first.where(short=True)
    head = "jobs.json is invalid; showing the last good version" if has_spec else "jobs.json is invalid; no jobs to show"
    text = Text(f"{head}\n", "bold")
    text.append(f"{where}: {first.message}")
    if first.hint:
        text.append(f" (hint: {first.hint})", "italic")
    if len(errors) > 1:
        text.append(f"  (+{len(errors) - 1} more: run `jobdeck validate`)")
    return text


class SpecBanner(Static):
    """Hidden while jobs.json is valid; otherwise says what is wrong and where."""

    _shown: str | None = "\0"  # nothing decided yet: the first call always applies

    def show_error(self, error: SpecError | None, has_spec: bool) -> None:
        text = describe(error, has_spec) if error is not None else None
        if (text.plain if text else None) == self._shown:
            return
        self._shown = text.plain if text else None
        self.display = text is not None
        if text is not None:
            self.update(text)
