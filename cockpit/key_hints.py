"""The footer: the keys that apply right now, as one line of text.

Textual's Footer rebuilds a widget per key on every bindings change, which on
a slow machine costs more than the key press itself; the cockpit changes its
hints on every cursor move (approve only shows for jobs that can be approved),
so it draws them as a single Text instead. When the line is wider than the
terminal, the screen's keys give way from the right (the job's first key, its
likeliest act, last of all) and the app's own (quit, help, palette, undo) stay:
at 80 columns a backlog card has more keys than room. On the board it starts
with the selected card's full id, which a narrow card may have to cut.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Static

PALETTE = ("^p", "palette", True)


class KeyHints(Static):
    """' a approve  r retry  / filter ... ^p palette' for the screen's active bindings."""

    def __init__(self, *, selected: Callable[[], str | None] | None = None) -> None:
        super().__init__(markup=False, id="key-hints")
        self._shown = ""
        self.selected = selected
        """Gives the selected job's id, shown first (None: the screen shows it elsewhere)."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self, event: Resize) -> None:
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            hints = self.hints(self.size.width)
            if hints.plain != self._shown:  # most cursor moves change nothing here
                self._shown = hints.plain
                self.update(hints, layout=False)

    def hints(self, width: int = 0) -> Text:
        """The hints, fitted to ``width`` cells (0: all of them)."""
        screen_keys: list[tuple[str, str, bool]] = []
        app_keys: list[tuple[str, str, bool]] = []
        own = {binding.action for binding in vars(type(self.screen)).get("BINDINGS", ()) if isinstance(binding, Binding)}
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            (app_keys if isinstance(active.node, App) else screen_keys).append(
                (self.app.get_key_display(binding), binding.description, binding.action in own))
        app_keys.append(PALETTE)
        job_id = self.selected() if self.selected is not None else None
        if width and job_id and len(job_id) > max(ID_ROOM_LEAST, width // 3):  # (a 64-character id left no key)
            cut = max(ID_ROOM_LEAST, width // 3)
            job_id = job_id[:cut - 1] + "…"
        if width:
            room = width + 1 - sum(_cells(hint) for hint in app_keys)  # the last hint has no trailing space
            if job_id:
                room -= len(job_id) + 3
            # The screen's own keys (back, filter, review) say where one is: the shared job keys give way
            # first, but for the first of them (the likeliest act on this job), which goes last.
            shared = [hint for hint in screen_keys if not hint[2]]
            for giving_way in shared[:0:-1] + [hint for hint in reversed(screen_keys) if hint[2]] + shared[:1]:
                if sum(_cells(hint) for hint in screen_keys) <= room:
                    break
                if giving_way in screen_keys:
                    screen_keys.remove(giving_way)
        text = Text(no_wrap=True, overflow="ellipsis")
        if job_id:
            text.append(f" {job_id} ", "bold")
            text.append("│", "dim")
        for key, description, _ in screen_keys + app_keys:
            text.append(f" {key} ", "bold reverse")
            text.append(f" {description} ")
        text.rstrip()
        return text


ID_ROOM_LEAST = 16
"""Cells the selected id may always take in the footer; a longer id gets a third of the line, cut (Enter shows it
whole)."""


def _cells(hint: tuple[str, str, bool]) -> int:
    """Cells one hint takes: ' k ' and ' description '."""
    key, description, _ = hint
    return len(key) + len(description) + 4


def key_shown(app: App[object], name: str, default: str) -> str:
    """The key of binding ``name`` (``default`` unless keys.toml remaps it) as the footer shows it ("^z")."""
    keys = getattr(app, "keymap_in_use", {}).get(name) or default  # (the app keeps the keymap in use)
    return app.get_key_display(Binding(keys.split(",")[0].strip(), name))
