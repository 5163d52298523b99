"""What widgets ask the app for: messages up, attributes down.

A widget never calls an app method or reaches into another widget: it posts one of these, the
message bubbles up (widget -> pane -> screen -> app), and the app — the one place that holds the
Studio and knows whether editing is allowed now (a fit running, a read-only session) — handles it.
State flows the other way: the app hands each pane the Studio (`load`) and a `Change` to repaint.
This is Textual's convention, and it keeps widgets testable alone (post, assert the message).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message


class EditRequested(Message):
    """Apply the edit `build(rule)` returns (a `rap_core.edits.Edit`, or None for no edit).

    An intent, not a finished edit: the app resolves it against the rule current when the
    message is handled. Keys can queue faster than edits apply; three `+` presses read one
    weight if the edit were built at the key, and must add up to +0.3.
    """

    def __init__(self, build) -> None:
        super().__init__()
        self.build = build


class ValueRequested(Message):
    """Ask the user for a number, then apply an edit of `kind` to `feature` (None: K or m)."""

    def __init__(self, prompt: str, current: float, kind: str, feature: str | None) -> None:
        super().__init__()
        self.prompt, self.current, self.kind, self.feature = prompt, current, kind, feature


class SortRequested(Message):
    """The ranges table's sort keys: the next column, or the other direction."""

    def __init__(self, *, reverse: bool) -> None:
        super().__init__()
        self.reverse = reverse


@dataclass(frozen=True)
class ExportChoice:
    """What the export dialog returns: where, in which layout, with which initial gate."""

    path: Path
    text: str  # the path as typed (offered again next time)
    layout: str
    alpha_init: float
