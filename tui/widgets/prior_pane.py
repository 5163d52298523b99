"""Prior pane: cursor read-out, the heatmap of B, and a legend with layout and zoom."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui.widgets.heatmap import Heatmap, legend_text


class PriorPane(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._studio = None

    def compose(self) -> ComposeResult:
        yield Static("", id="prior-info")
        yield Heatmap(id="heatmap")
        yield Static("", id="legend")

    @property
    def heatmap(self) -> Heatmap:
        return self.query_one(Heatmap)

    def load(self, studio) -> None:
        """Point the heatmap at `studio`'s prior (a new Studio or a new layout)."""
        self._studio = studio
        self.heatmap.set_source(lambda: (studio.bias_raw(), studio.scale))
        self._legend()

    def changed(self, change) -> None:
        """Repaint after a `Change`: only the touched rows/columns are re-averaged (a relayout
        reloads the whole prior)."""
        if change.relayout and self._studio is not None:
            self.load(self._studio)
            return
        self.heatmap.invalidate(change.positions)
        self._legend()

    def _legend(self) -> None:
        studio, heatmap = self._studio, self.heatmap
        if studio is None:
            return
        size = len(studio.labels())
        text = Text.assemble(*legend_text(self.app.no_color, heatmap.colour_span))
        text.append(f"  {studio.layout} {size}×{size}", style="bold")
        causal = "causal: lower △" if self.app.no_color else "upper △ dimmed (causal)"
        text.append(f"  block {heatmap.bs}  {causal}", style="dim")
        self.query_one("#legend", Static).update(text, layout=False)

    def on_heatmap_cursor_moved(self, event: Heatmap.CursorMoved) -> None:
        studio = self._studio
        if studio is None:
            return
        self._legend()
        labels = studio.labels()
        (r0, r1), (c0, c1), value = event.rows, event.cols, event.value

        def span(a: int, b: int) -> str:
            return labels[a] if b - a <= 1 else f"{labels[a]}…{labels[b - 1]}"

        shown = "–" if math.isnan(value) else f"{value:+.3f}"
        mean = "" if (r1 - r0) * (c1 - c0) <= 1 else " (block mean)"
        self.query_one("#prior-info", Static).update(Text.assemble(
            ("B ", "bold"), (span(r0, r1), "cyan"), " × ", (span(c0, c1), "cyan"), " = ",
            (shown, "bold"), mean), layout=False)
