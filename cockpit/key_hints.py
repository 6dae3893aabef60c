"""The footer: the keys that apply right now, as one line of text.

Textual's Footer rebuilds a widget per key on every bindings change, which on
a slow machine costs more than the key press itself; the cockpit changes its
hints on every cursor move (approve only shows for jobs that can be approved),
so it draws them as a single Text instead.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static


class KeyHints(Static):
    """' a approve  r retry  / filter ... ^p palette' for the screen's active bindings."""

    def __init__(self) -> None:
        super().__init__(markup=False, id="key-hints")
        self._shown = ""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            hints = self.hints()
            if hints.plain != self._shown:  # most cursor moves change nothing here
                self._shown = hints.plain
                self.update(hints, layout=False)

    def hints(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            text.append(f" {self.app.get_key_display(binding)} ", "bold reverse")
            text.append(f" {binding.description} ")
        text.append(" ^p ", "bold reverse")
        text.append(" palette")
        return text
