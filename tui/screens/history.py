"""The history view: every edit with its time, what it changed, the metrics after it and a note.

`enter` jumps there (undo or redo up to that edit; the top line is the fitted rule), `n` writes a
note on the highlighted edit, `escape` closes. Edits after the current point (the redo side) are
listed dimmed: jumping to one redoes up to it. The screen holds no Studio: the app hands it the
lines (`show`) and handles what it asks for (messages up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

COLUMNS = ("", "#", "time", "edit", "held J", "AUC", "note")


@dataclass(frozen=True)
class Line:
    """One history line, as the app measured it."""

    position: int  # edits applied at this point (0: the fitted rule)
    time: str | None  # ISO UTC
    what: str
    j: float
    auc: float
    note: str
    done: bool
    current: bool


def describe(edit) -> str:
    """One line for an edit: "V3_t2 weight 1.5", "V3_t2 off", "m = 2"."""
    if edit.kind == "weight":
        return f"{edit.feature} weight {edit.value:g}"
    if edit.kind == "enable":
        return f"{edit.feature} {'on' if edit.value else 'off'}"
    if edit.kind == "sign":
        return f"{edit.feature} votes {'inside' if edit.value > 0 else 'outside'}"
    return f"{edit.kind} = {edit.value:g}"


def local_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return iso[:19]


class HistoryScreen(ModalScreen[None]):
    """The edit history; posts `Jump` and `NoteWanted`, the app answers with `show`."""

    AUTO_FOCUS = "#history-table"
    BINDINGS = [Binding("escape,h", "close", "Close"), Binding("n", "note", "Note"),
                Binding("enter", "jump", "Jump here", priority=True)]

    class Jump(Message):
        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    class NoteWanted(Message):
        def __init__(self, position: int, note: str) -> None:
            super().__init__()
            self.position, self.note = position, note

    def __init__(self, lines: list[Line], held_out: bool = True) -> None:
        super().__init__()
        self.lines = lines
        self.held_out = held_out

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="history-dialog"):
            rows = "held-out" if self.held_out else "train"
            yield Label(f"History: enter jumps, n notes, escape closes ({rows} J, AUC)",
                        classes="title")
            yield DataTable(id="history-table", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in COLUMNS:
            table.add_column("J" if label == "held J" and not self.held_out else label)
        self.show(self.lines)

    def show(self, lines: list[Line]) -> None:
        """Redraw with new lines (after a jump or a note); the cursor stays on the current one."""
        self.lines = lines
        table = self.query_one(DataTable)
        table.clear()
        current = 0
        for row, line in enumerate(lines):
            style = "" if line.done else "dim"
            if line.current:
                current, style = row, "bold"
            table.add_row(Text("▶" if line.current else ""), Text(str(line.position), style=style),
                          Text(local_time(line.time), style=style), Text(line.what, style=style),
                          Text(f"{line.j:.3f}", style=style, justify="right"),
                          Text(f"{line.auc:.3f}", style=style, justify="right"),
                          Text(line.note, style="italic " + style))
        table.move_cursor(row=current)

    def _highlighted(self) -> Line | None:
        table = self.query_one(DataTable)
        if not self.lines:
            return None
        return self.lines[min(max(table.cursor_row, 0), len(self.lines) - 1)]

    def action_jump(self) -> None:
        line = self._highlighted()
        if line is not None:
            self.post_message(self.Jump(line.position))

    def action_note(self) -> None:
        line = self._highlighted()
        if line is not None and line.position > 0:
            self.post_message(self.NoteWanted(line.position, line.note))
        elif line is not None:
            self.app.bell()

    def action_close(self) -> None:
        self.dismiss(None)
