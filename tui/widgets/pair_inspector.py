"""The pair inspector: three lines under the heatmap that say why the entry at the cursor is what
it is — which two votes, their weights, how often both are active among positives and among
negatives, the statistic's per-class terms, S, and B.

The numbers come from `rap_core.pair_stats` (pure, O(1) per pair); this widget only words them:
line 1 is the entry and its product S × wᵢ × wⱼ ÷ max|B|, lines 2 and 3 the counts and the
statistic's term among positives and among negatives, and which side made S what it is.
A cursor on a block of positions (zoomed out) or on a lag stands for many feature pairs: the
first line gives the value of the whole cell and names the strongest pair in it, which the other
two lines explain. Every line is cut with "…" rather than wrapped, so the heatmap keeps its room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text

from rap_core.pair_stats import PairStats
from tui.widgets.text_lines import TextLines

_NAME = "cyan"
_TERM = {"cpmi": "PMI", "pmi": "PMI", "phi": "φ"}


@dataclass(frozen=True)
class CellInfo:
    """The cursor's cell: its position names, its value, and how many feature pairs it holds."""

    row_label: str
    col_label: str
    value: float  # normalised (max|B| = 1); NaN when unknown
    n_positions: int  # positions under the cursor (1 unless zoomed out)
    n_pairs: int  # feature pairs summed into one position pair (lags layout) or in the block


def _signed(value: float, digits: int = 3) -> str:
    return "–" if math.isnan(value) else f"{value:+.{digits}f}"


def _rate(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.0%})" if whole else f"{part}/0"


def _product(stats: PairStats) -> str:
    return f"S {_signed(stats.s)} × w {stats.weight_i:.2f} × {stats.weight_j:.2f}"


def head_line(cell: CellInfo, stats: PairStats | None, scale: float) -> Text:
    text = Text.assemble(("B ", "bold"), (cell.row_label, _NAME), " × ", (cell.col_label, _NAME),
                         " = ", (_signed(cell.value), "bold"))
    single = cell.n_positions <= 1 and cell.n_pairs <= 1
    if stats is None:
        text.append("  no vote maps to this cell", style="dim")
    elif not single:
        what = "block mean" if cell.n_positions > 1 else f"sum of {cell.n_pairs} pairs"
        text.append(f" ({what}); strongest ", style="dim")
        text.append_text(Text.assemble((stats.feature_i, _NAME), " × ", (stats.feature_j, _NAME),
                                       " ", _signed(stats.b)))
    elif not stats.diagonal:
        text.append(f" = {_product(stats)}" + (f" ÷ {scale:.3g}" if scale > 0 else ""))
    return text


def _outside_note(stats: PairStats) -> str:
    """"active" is inside the critical range for a +1 vote and outside it for a -1 vote ("outside
    votes positive"): say which, or "each 1" of 127 positives reads as a contradiction."""
    outside = [f for f, sign in ((stats.feature_i, stats.sign_i),
                                 (stats.feature_j, stats.sign_j)) if sign < 0]
    if not outside:
        return ""
    if len(outside) == 2:
        return " · both vote outside"
    return f" · {outside[0]} votes outside"


def class_line(stats: PairStats, positive: bool) -> Text:
    """One class's counts and term, e.g. "positives both 40/127 (31%), each 52, 60,
    PMI +0.41" (each: rows where that vote alone is active, whatever the other does)."""
    c = stats.positives if positive else stats.negatives
    term = _TERM.get(stats.statistic, "term")
    text = Text.assemble((f"{'positives' if positive else 'negatives'} ", "bold"),
                         "both ", _rate(c.both, c.n), (", each ", "dim"),
                         f"{c.first}, {c.second}", (", ", "dim"),
                         f"{term} {c.term:+.2f}".replace("-", "−"))
    return text


def reason_lines(stats: PairStats, single: bool) -> list[Text]:
    """Two lines: the counts per class and how they make S, or why the entry is 0."""
    if stats.diagonal:
        return [Text(f"a vote with itself: S = 0 by definition (its weight "
                     f"{stats.weight_i:.2f} says how much it counts)"),
                Text("the diagonal carries no pair information", style="dim")]
    first, second = class_line(stats, True), class_line(stats, False)
    first.append(_outside_note(stats), style="dim")
    off = [f for f, w in ((stats.feature_i, stats.weight_i), (stats.feature_j, stats.weight_j))
           if w == 0]
    if off:
        verb = "is" if len(off) == 1 else "are"
        second.append(f" → B = 0: {' and '.join(off)} {verb} off", style="bold")
        return [first, second]
    if stats.statistic == "pmi":
        verdict = "S > 0: more often than chance" if stats.s > 0 else "S ≤ 0: not above chance"
    elif stats.s > 0:
        verdict = "S > 0: more in positives"
    elif stats.s < 0:
        verdict = "S < 0: more in negatives"
    else:
        verdict = "S = 0"
    second.append(f" → {verdict}", style="bold")
    if not single:
        second.append(f" · {_product(stats)}")
    return [first, second]


class PairInspector(TextLines):
    """Three lines explaining the prior's entry at the cursor."""

    def show(self, cell: CellInfo, stats: PairStats | None, scale: float) -> None:
        lines = [head_line(cell, stats, scale)]
        if stats is not None:
            lines += reason_lines(stats, cell.n_positions <= 1 and cell.n_pairs <= 1)
        self.update(lines)
