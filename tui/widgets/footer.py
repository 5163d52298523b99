"""Textual's Footer, recomposed only when the keys it shows change.

Textual's Footer rebuilds all its key widgets (about twenty here, each restyled) after every
bindings update: each focus change, each `refresh_bindings`, and once per update even when
several arrive before the next frame. At start-up that was 9 rebuilds of identical keys, about a
sixth of the UI thread's time before the rule was editable. This one schedules at most one
rebuild per frame and skips it when the shown keys (key, label, action, enabled, tooltip) are
the same as on screen, so what it shows is exactly what Textual's Footer shows.

At start-up the app holds the keys back (`held=True`) until its first rule is drawn, then calls
`release()`: building and styling them took about 10 ms of the UI thread while the data loaded,
and with the relayouts they caused, 30-45 ms on the way to the editable frame.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    def __init__(self, *args, held: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None  # the keys of the last compose
        self._pending = False
        self._held = held  # no keys until release(): start-up time (tui.app)

    def release(self) -> None:
        """Show the keys from now on. The app holds them back until its first rule is drawn:
        building the key widgets (about twenty, each styled) took ~10 ms of the UI thread while
        the data loaded, on the way to the editable frame."""
        if self._held:
            self._held = False
            if self.is_attached and self._bindings_ready and not self._pending:
                # call_later: composed in this widget's own context (FooterKey.data_bind
                # needs it), whoever calls release
                self._pending = True
                self.call_later(self._recompose_if_changed)

    def _keys(self) -> tuple:
        active = self.screen.active_bindings
        shown = tuple((b.key, b.description, b.action, enabled, tooltip, b.group)
                      for _node, b, enabled, tooltip in active.values() if b.show)
        return shown, self.show_command_palette, self.compact

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = self._keys()
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if self._held or not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._pending = False
        if self._keys() != self._shown:
            await self.recompose()
