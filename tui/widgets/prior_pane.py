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
        self._shown: dict[str, Text] = {}  # what each Static shows: an equal update is skipped

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
        heatmap = self.heatmap
        heatmap.invalidate(change.positions)
        self._legend()
        # The read-out now, in the same frame as the heatmap: the CursorMoved the heatmap posts
        # arrives after that frame and, finding the same text, repaints nothing.
        self._cursor_info(*heatmap.cursor_span())

    def _legend(self) -> None:
        studio, heatmap = self._studio, self.heatmap
        if studio is None:
            return
        size = len(studio.labels())
        text = Text.assemble(*legend_text(self.app.no_color, heatmap.colour_span))
        text.append(f"  {studio.layout} {size}×{size}", style="bold")
        causal = "causal: lower △" if self.app.no_color else "upper △ dimmed (causal)"
        text.append(f"  block {heatmap.bs}  {causal}", style="dim")
        self._set("legend", text)

    def _set(self, name: str, text: Text) -> None:
        """Update a Static unless it shows this already: every update costs a re-render and,
        when it comes after the frame, a frame of its own (about 1 ms of layout each)."""
        if self._shown.get(name) == text:
            return
        self._shown[name] = text
        self.query_one(f"#{name}", Static).update(text, layout=False)

    def on_heatmap_cursor_moved(self, event: Heatmap.CursorMoved) -> None:
        studio = self._studio
        if studio is None:
            return
        self._legend()
        self._cursor_info(event.rows, event.cols, event.value)

    def _cursor_info(self, rows: tuple[int, int], cols: tuple[int, int], value: float) -> None:
        studio = self._studio
        if studio is None:
            return
        labels = studio.labels()
        (r0, r1), (c0, c1) = rows, cols

        def span(a: int, b: int) -> str:
            return labels[a] if b - a <= 1 else f"{labels[a]}…{labels[b - 1]}"

        shown = "–" if math.isnan(value) else f"{value:+.3f}"
        mean = "" if (r1 - r0) * (c1 - c0) <= 1 else " (block mean)"
        self._set("prior-info", Text.assemble(
            ("B ", "bold"), (span(r0, r1), "cyan"), " × ", (span(c0, c1), "cyan"), " = ",
            (shown, "bold"), mean))
