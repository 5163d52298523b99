"""The four panes, mounted when first needed instead of all at start-up.

At 80 columns only the Rules pane is on screen, at 140 the Prior beside it. Composing the two
hidden panes (the ranges table with its filter `Input`, the evaluation pane with its 1 s timer)
and loading them with the Studio cost about as much UI-thread time as the whole rest of the
first screen: Textual parses each new widget class's CSS when its first instance registers, and
styles and lays out every mounted widget, shown or not. So the app composes the Rules pane only;
a pane is mounted (in its place in the tab order, so the side-by-side layout is unchanged) the
first time it is shown; the Prior and Evaluate panes are also mounted in the background after
the rule's first frame (`prefetch`), so a later tab switch does not wait for them.

A pane that is mounted after the Studio was installed is loaded with it at once (`loader`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from textual.css.query import NoMatches
from textual.widget import MountError, Widget

from tui.widgets.rules_pane import RulesPane

ORDER = ("ranges", "rules", "prior", "evaluate")  # left to right, as in the wide layout
PREFETCH = ("prior", "evaluate")  # mounted in the background after the rule's first frame


def pane_class(name: str) -> type[Widget]:
    """The pane's widget class, imported when first needed: the hidden panes' modules (the
    ranges table, the heatmap and its palette, the pair statistics) are start-up time too."""
    if name == "rules":
        return RulesPane
    if name == "ranges":
        from tui.widgets.ranges_pane import RangesPane

        return RangesPane
    if name == "prior":
        from tui.widgets.prior_pane import PriorPane

        return PriorPane
    if name == "evaluate":
        from tui.widgets.evaluate_pane import EvaluatePane

        return EvaluatePane
    raise KeyError(name)


def warm(studio) -> None:
    """Compute, on the loader thread, what the Rules pane reads first: the metrics of the three
    rules (the Studio caches them), so the UI thread only formats them. The held-out J curve
    is drawn once computed, after the rule (`RapStudioApp._draw_curve`)."""
    for which in ("fitted", "previous", "current"):
        for rows in (("held_out", "train") if studio.has_held_out else ("train",)):
            studio.metrics(which, rows)


class Panes:
    """Which panes exist; mounts the missing ones into `container` on demand."""

    def __init__(self, container: Callable[[], Widget],
                 loader: Callable[[str, Widget], None]) -> None:
        self._container = container
        self._loader = loader
        self._mounted: dict[str, Widget] = {}
        self._ready: dict[str, asyncio.Event] = {}  # set once a pane is composed and loaded

    def first(self, name: str) -> Widget:
        """The pane composed with the app (not mounted through `ensure`)."""
        pane = pane_class(name)(id=f"{name}-pane")
        self._mounted[name] = pane
        return pane

    def get(self, name: str) -> Widget | None:
        """The pane if it is mounted and composed, else None (a Change for it needs no repaint:
        it will be loaded with the current Studio when its mount completes).

        A pane being mounted in the background is not returned: its children do not exist yet,
        and loading it then failed a fit that ended during the mount ("No nodes match
        'Heatmap'", seen in CI)."""
        ready = self._ready.get(name)
        if ready is not None and not ready.is_set():
            return None
        return self._mounted.get(name)

    def missing(self) -> list[str]:
        return [name for name in ORDER if name not in self._mounted]

    async def prefetch(self, after: Awaitable | None = None) -> None:
        """Mount the missing Prior and Evaluate panes once `after` is done (the frame that shows
        the rule), one at a time. Run it as a worker, not in a message handler: the app's own
        messages (keys) are handled between the mounts instead of waiting for all of them.

        The Ranges pane is left to its tab: it is the costliest to mount, and its `on_mount`
        reads its own children, which a mount cut short by quitting does not have. A quit
        during a background mount ends the prefetch quietly (the pane has no children to load).
        """
        if after is not None:
            await after
        for name in self.missing():
            if name not in PREFETCH:
                continue
            try:
                await self.ensure(name)
            except (NoMatches, MountError):
                return
            await asyncio.sleep(0)

    async def ensure(self, *names: str) -> None:
        """Mount the named panes that are missing, hidden, in tab order, then load them."""
        for name in names:
            if name in self._ready:  # mounted, or being mounted by another caller
                await self._ready[name].wait()
                continue
            if name in self._mounted:
                continue
            self._ready[name] = ready = asyncio.Event()
            pane = pane_class(name)(id=f"{name}-pane")
            pane.display = False  # the caller's layout pass decides what shows
            after = [self._mounted[n] for n in ORDER[ORDER.index(name) + 1:] if n in self._mounted]
            self._mounted[name] = pane
            container = self._container()
            if after:
                await container.mount(pane, before=after[0])
            else:
                await container.mount(pane)
            self._loader(name, pane)
            ready.set()
