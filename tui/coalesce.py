"""Coalesce the repaints of edits handled back to back: every press applies, views catch up once.

A held `+` or a fast typist queues key events faster than a big prior re-averages. Applying each
edit to the Studio is cheap (well under a millisecond at P = 4,096) and must happen for every
press; redrawing the heatmap blocks, the rule sentence and the metrics after each one is what
would build a lag queue. So edits report their `Change` here, and the views are updated once,
with the union of the changes, after the events already queued behind the first one
(`App.call_later` puts the flush at the end of the message queue). An isolated keypress still
repaints at once: its flush runs right after it, before the next frame.
"""

from __future__ import annotations

from collections.abc import Callable

from rap_core.change import Change


class Coalescer:
    """Collects Changes; calls `show(merged)` once per burst via `schedule(callback)`."""

    def __init__(self, schedule: Callable[[Callable[[], None]], object],
                 show: Callable[[Change], None]) -> None:
        self._schedule = schedule
        self._show = show
        self._pending: Change | None = None
        self.flushes = 0  # bursts shown: a bench and the tests read it

    def add(self, change: Change | None) -> None:
        if change is None:
            return
        if self._pending is None:
            self._pending = change
            self._schedule(self.flush)
        else:
            self._pending = self._pending.merge(change)

    def flush(self) -> None:
        change, self._pending = self._pending, None
        if change is not None:
            self.flushes += 1
            self._show(change)
