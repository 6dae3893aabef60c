"""Escape typed just before a key is Escape and that key, not Alt+key.

A terminal sends Alt+a as ESC then ``a``, and so does an operator who presses
Escape and then ``a`` within Textual's escape delay (ESCDELAY, 100 ms by
default): Textual reads both as ``alt+a``, so the Escape (close the dialog,
clear the filter) and the key are lost, and an Input even types the letter.
The cockpit binds no Alt key, so it reads every Alt+key as the two keys.
"""

from __future__ import annotations

from textual import events


def split_alt(event: events.Key) -> tuple[events.Key, events.Key] | None:
    """Escape and the plain key for an ``alt+`` key with a character (None: not one)."""
    if not event.key.startswith("alt+") or event.character is None or len(event.character) != 1:
        return None
    character = event.character
    key = event.key.removeprefix("alt+")
    if key.startswith("shift+") and character.isupper():
        key = character  # Textual names an upper-case letter by itself: "A"
    return events.Key("escape", "\x1b"), events.Key(key, character)
