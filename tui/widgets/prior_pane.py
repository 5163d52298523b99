"""Prior pane: a legend that says what B is, the heatmap with axis labels, and the pair inspector.

From top to bottom: one line (what B is, the colour ramp and how to read it, then the layout
and block size where there is room), the column names, the row names beside the heatmap, and
three lines explaining the entry under the cursor (tui.widgets.pair_inspector). At 80 x 24 that
leaves the heatmap 15 lines, so a 30 x 30 prior is drawn at one position per half-line.

The pane reads the Studio handed to `load` and never calls the app: the heatmap posts
`CursorMoved`, and this pane answers by redrawing its axes and inspector. A layout switch (`l`)
keeps the cursor on the same feature pair: features map to their lag, a lag to its first feature.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from rap_core.pair_stats import pair_stats, strongest_pair
from tui.widgets.heatmap import Heatmap, legend_text
from tui.widgets.pair_inspector import CellInfo, PairInspector
from tui.widgets.prior_axes import AxisView, LeftAxis, TopAxis, gutter_width
from tui.widgets.text_lines import TextLines

READING = {  # how to read the colours, per statistic (docs/PRIOR.md): (wide, narrow)
    "cpmi": ("red: the votes co-activate more among positives, blue: among negatives",
             "red: co-active more in positives, blue: in negatives"),
    "pmi": ("red: the votes co-activate more than chance among positives, blue: less",
            "red: co-active above chance in positives, blue: below"),
    "phi": ("red: the votes are more correlated among positives, blue: among negatives",
            "red: correlated more in positives, blue: in negatives"),
}


class PriorPane(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._studio = None
        self._layout = None  # the rap_core Layout the heatmap shows (to keep the cursor on `l`)
        self._axes_shown = None  # (AxisView, labels) the axes were last drawn for

    def compose(self) -> ComposeResult:
        yield TextLines("", id="legend")
        yield TopAxis("", id="prior-top-axis")
        with Horizontal(id="prior-body"):
            yield LeftAxis("", id="prior-left-axis")
            yield Heatmap(id="heatmap")
        yield PairInspector("", id="prior-info")

    @property
    def heatmap(self) -> Heatmap:
        return self.query_one(Heatmap)

    def load(self, studio) -> None:
        """Point the heatmap at `studio`'s prior (a new Studio or a new layout)."""
        keep = self._cursor_features(studio)
        self._studio = studio
        self._layout = studio.prior.layout
        self.heatmap.set_source(lambda: (studio.bias_raw(), studio.scale))
        if keep is not None:
            self.heatmap.move_to(*keep)
        self._legend()

    def _cursor_features(self, studio):
        """The cursor's position in `studio`'s current layout, from the one shown until now."""
        old, new = self._layout, studio.prior.layout
        if old is None or self.heatmap.n_blocks == 0:
            return None
        row, col = self.heatmap.cursor_position
        if old.name == new.name:
            return row, col

        def moved(position: int) -> int:
            if old.name == "features":  # a feature -> its lag (0 when it has none)
                return max(int(new.position_of[position]), 0)
            members = old.members[position]  # a lag -> its first feature
            return int(members[0])

        return moved(row), moved(col)

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
        width = max(0, self.size.width - 2)
        mode = heatmap.mode
        short = width < 100
        wide_words, narrow_words = READING.get(studio.statistic, READING["cpmi"])
        reading = narrow_words if short else wide_words
        if mode != "colour":
            reading = reading.replace("red", "+*#").replace("blue", "-=≡")
        ramp = Text.assemble(*legend_text(mode != "colour", heatmap.colour_span,
                                          heatmap.palette, steps=6 if short else 2))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("B=S·wᵢwⱼ " if short else "B = S·wᵢ·wⱼ  ", style="bold")
        text.append_text(ramp)
        text.append((" " if short else "  ") + reading)
        size = len(studio.labels())
        extra = f"  ·  {studio.layout} {size}×{size} · block {heatmap.bs}"
        causal = " · upper △ dimmed (causal)" if mode == "colour" else " · causal: lower △"
        for more in (extra, causal):
            if text.cell_len + len(more) <= width:
                text.append(more, style="dim")
        self._set("legend", text)

    def _set(self, name: str, text: Text) -> None:
        """Show `text` in #name: only its lines that changed repaint (tui.widgets.text_lines)."""
        self.query_one(f"#{name}", TextLines).update(text)

    def on_resize(self) -> None:
        self._legend()

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
        heatmap = self.heatmap
        view = AxisView.of(heatmap)
        gutter = gutter_width(labels)
        if (view, labels) != self._axes_shown:  # an edit moves no label: skip the redraw
            self._axes_shown = (view, labels)
            self.query_one(LeftAxis).show(view, labels, gutter)
            self.query_one(TopAxis).show(view, labels, gutter)
        (r0, r1), (c0, c1) = rows, cols

        def span(a: int, b: int) -> str:
            return labels[a] if b - a <= 1 else f"{labels[a]}…{labels[b - 1]}"

        prior = studio.prior
        found = strongest_pair(prior, range(r0, r1), range(c0, c1))
        stats = None if found is None else pair_stats(prior, found[0], found[1])
        n_pairs = 0 if found is None else found[2]
        cell = CellInfo(span(r0, r1), span(c0, c1), value, max(r1 - r0, c1 - c0),
                        n_pairs if prior.layout.name != "features" else 1)
        self.query_one(PairInspector).show(cell, stats, prior.scale)
