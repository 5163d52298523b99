"""The one error type of rap_core.

Every problem a user can cause (bad file, bad column, stale session, cancelled fit) is raised as a
`RapError` whose message is a single line saying what is wrong, where, and what to do. The edges
(the `rap` CLI, the TUI) print that line and nothing else: no traceback ever reaches a user for
input they can fix.
"""

from __future__ import annotations


class RapError(Exception):
    """A user-facing failure with a one-line message (what, where, what to do)."""

    def __init__(self, message: str) -> None:
        # Keep it one line even when a caller interpolates multi-line text.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


class FitCancelled(RapError):
    """The user cancelled a fit; nothing was cached and no state changed."""

    def __init__(self, message: str = "fit cancelled; nothing was saved") -> None:
        super().__init__(message)
