"""Small text charts: a feature's histogram by class with its critical range, and the J-curve.

Both are pure functions from numbers to Rich `Text` (easy to test, no terminal needed), wrapped in
thin `Static` widgets. Bars use the eighth-block characters, so a chart of `h` lines has 8·h
levels and stays readable in 256 colours; the range marker is a glyph row, not a colour, so it
survives NO_COLOR.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text
from textual.widgets import Static

from tui.widgets.palette import ChartColours, chart_colours

_DEFAULT = ChartColours()

BARS = " ▁▂▃▄▅▆▇█"


def bar_rows(heights: np.ndarray, lines: int) -> list[str]:
    """Column heights in [0, 1] -> `lines` strings of eighth blocks, top line first."""
    levels = np.rint(np.clip(heights, 0.0, 1.0) * 8 * lines).astype(int)
    rows = []
    for line in range(lines - 1, -1, -1):
        part = np.clip(levels - 8 * line, 0, 8)
        rows.append("".join(BARS[v] for v in part.tolist()))
    return rows


def _label(value: float) -> str:
    return f"{value:.4g}"


def histogram_text(values: np.ndarray, y: np.ndarray, rmin: float, rmax: float, *,
                   width: int, lines: int = 3, colours: ChartColours = _DEFAULT) -> Text:
    """Positives above, negatives below, a `━` row under the bins inside [rmin, rmax]."""
    width = max(int(width), 10)
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return Text("no finite values")
    lo, hi = float(values[finite].min()), float(values[finite].max())
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, width + 1)
    positive = np.asarray(y) == 1
    pos, _ = np.histogram(values[finite & positive], bins=edges)
    neg, _ = np.histogram(values[finite & ~positive], bins=edges)
    inside = np.ones(width, dtype=bool)
    if not math.isnan(rmin):
        inside &= edges[1:] >= rmin
    if not math.isnan(rmax):
        inside &= edges[:-1] <= rmax
    text = Text()
    text.append(f"positives (n={int(pos.sum())})\n", style="bold")
    for row in bar_rows(pos / max(pos.max(), 1), lines):
        text.append(row + "\n", style=colours.positive)
    marker = "".join("━" if flag else "─" for flag in inside.tolist())
    text.append(marker + "\n", style=colours.marker)
    for row in bar_rows(neg / max(neg.max(), 1), lines):
        text.append(row + "\n", style=colours.negative)
    text.append(f"negatives (n={int(neg.sum())})\n", style="bold")
    left, right = _label(lo), _label(hi)
    text.append(left + " " * max(1, width - len(left) - len(right)) + right, style="dim")
    return text


def j_curve_text(j_curve: np.ndarray, k_chosen: int | None, *, lines: int = 2,
                 width: int = 30, rows: str = "train", note: str | None = None,
                 colours: ChartColours = _DEFAULT, total: int | None = None) -> Text:
    """One bar per k (J of the top-k rule), at most `width` of them; the chosen k highlighted.

    `rows` names where J was measured ("held_out" or "train"); `note` (e.g. "not adopted")
    follows the maximum, so the curve never claims the rule shown is its m-of-k rule. `total`:
    the whole curve's length when `j_curve` is a prefix of it (marked "…" when cut)."""
    j = np.asarray(j_curve, dtype=np.float64)
    if j.size == 0:
        return Text("J vs k: fit pending", style="dim")
    full = j.size if total is None else max(total, j.size)
    j = j[:max(width, 4)]
    text = Text()
    text.append(("held-out" if rows == "held_out" else "train") + " J vs k ", style="bold")
    best = int(np.nanargmax(j)) + 1 if np.isfinite(j).any() else 0
    text.append(f"(max {np.nanmax(j):.2f}, k={best}" + (f"; {note}" if note else "") + ")\n",
                style="dim")
    rows = bar_rows(np.nan_to_num(np.clip(j, 0, 1)), lines)
    for row in rows:
        for k, ch in enumerate(row, start=1):
            text.append(ch, style=colours.chosen if k == k_chosen else colours.bars)
        text.append("\n")
    last = f"k={j.size}" + ("…" if full > j.size else "")
    text.append("k=1" + " " * max(1, j.size - 3 - len(last)) + last, style="dim")
    return text


class Histogram(Static):
    """The selected feature's values by class, critical range marked; colours follow the
    theme, and a theme change or a resize redraws it."""

    _shown: tuple | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    def show(self, values, y, rmin: float, rmax: float, title: str) -> None:
        self._shown = (values, y, rmin, rmax, title)
        width = max(self.size.width - 2, 20) if self.size.width else 60
        body = histogram_text(values, y, rmin, rmax, width=width, lines=2,
                              colours=chart_colours(self.app))
        self.update(Text.assemble((title + "\n", "bold"), body))

    def say(self, message: str) -> None:
        """Show a line instead of a histogram (and draw no stale one on the next resize)."""
        self._shown = None
        self.update(message)

    def _redraw(self) -> None:
        if self._shown is not None:
            self.show(*self._shown)

    def on_resize(self) -> None:
        self._redraw()


class JCurve(Static):
    """Youden's J versus k from the fit's logic polish."""

    _data: tuple = (np.zeros(0), None)

    def show(self, j_curve, k_chosen: int | None, *, rows: str = "train",
             note: str | None = None, total: int | None = None) -> None:
        self._data = (j_curve, k_chosen)
        self._labels = (rows, note, total)
        width = self.size.width - 2 if self.size.width else 30
        # layout=False: the chart's box is sized by the CSS (#jcurve), not by its text; a
        # relayout per redraw cost ~5 ms of the UI thread at start-up and on each resize
        self.update(j_curve_text(j_curve, k_chosen, width=max(width, 8), rows=rows, note=note,
                                 colours=chart_colours(self.app), total=total), layout=False)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.on_resize())

    _labels: tuple = ("train", None, None)

    def on_resize(self) -> None:
        rows, note, total = self._labels
        self.show(*self._data, rows=rows, note=note, total=total)
