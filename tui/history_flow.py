"""The edit history in RAP Studio: the view (`h`), jumps, notes, and replaying a session (`ctrl+o`).

A mixin of `RapStudioApp` (tui/app.py), like tui/fitting.py: the app owns the Studio, so the
history screen (tui/screens/history.py) only posts what the user asked for and this code answers
it through the Studio (`goto`, `set_note`, `replay`) and hands the screen fresh lines.
"""

from __future__ import annotations

from pathlib import Path

from rap_core.errors import RapError
from tui.paths import short_path


class HistoryFlow:
    """History view, jumps, notes and replay for RapStudioApp (expects `studio`, `_editable`,
    `_changed`)."""

    def _history_lines(self):
        from tui.screens.history import Line, describe

        studio = self.studio
        rows = "held_out" if studio.has_held_out else "train"
        position = len(studio.edits)
        fitted = studio.evaluate(studio.fitted_rule, rows)
        lines = [Line(0, None, "as fitted" if studio.fit is not None else "provisional",
                      fitted.j, fitted.auc, "", True, position == 0)]
        for step in studio.history():
            m = studio.evaluate(step.rule, rows)
            time = None if self.deterministic else step.stamp.time  # snapshots: no clock
            lines.append(Line(step.position, time, describe(step.edit), m.j, m.auc,
                              step.stamp.note, step.done, step.position == position))
        return lines

    def action_history(self) -> None:
        from tui.screens.history import HistoryScreen

        if self._editable() and not isinstance(self.screen, HistoryScreen):
            self.push_screen(HistoryScreen(self._history_lines(), self.studio.has_held_out))

    def on_history_screen_jump(self, message) -> None:
        try:
            change = self.studio.goto(message.position)
        except RapError as exc:
            self.notify(str(exc), severity="error")
            return
        self._changed(change)
        self._refresh_history()

    def on_history_screen_note_wanted(self, message) -> None:
        from tui.screens.modals import TextScreen

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                self.studio.set_note(message.position, text)
            except RapError as exc:
                self.notify(str(exc), severity="error")
                return
            self._refresh_history()

        self.push_screen(TextScreen(f"Note on edit {message.position}:", message.note), done)

    def _refresh_history(self) -> None:
        """Redraw an open history view (after a jump, a note, or an edit that was in flight)."""
        from tui.screens.history import HistoryScreen

        for screen in self.screen_stack:
            if isinstance(screen, HistoryScreen):
                screen.show(self._history_lines())

    def action_replay(self) -> None:
        """Apply another session's edits (data with the same feature names) as new edits."""
        from tui.screens.modals import TextScreen

        if not self._editable():
            return

        def check(text: str) -> str:
            path = Path(text.strip()).expanduser()
            if not text.strip():
                raise RapError("give the path of a session file (.json), or escape")
            change = self.studio.replay(path)  # a refusal keeps the dialog open
            self._changed(change)
            n = len(self.studio.edits)
            self.notify(f"replayed {short_path(path)}: {n} edit{'s' if n != 1 else ''} now; "
                        f"ctrl+z undoes them one by one", title="session")
            return text

        self.push_screen(TextScreen("Replay the edits of a session file (path):", "", check))
