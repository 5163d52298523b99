"""Rules pane: the rule as a sentence, live metrics, the J-curve, and one row per vote.

Every feature has a row (disabled votes dimmed), so any feature can get a vote. Row order is fixed
when a rule is loaded — the fit's votes first, heaviest first, then the rest in dataset order — so
a row never jumps away from the cursor while it is being edited. The keys only build `Edit`s and
hand them to the app; all arithmetic on the rule lives in `rap_core`.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tui.widgets.charts import JCurve
from tui.widgets.vote_table import VoteTable, header_line

WHICH = ("fitted", "previous", "current")
MAX_SENTENCE = 400


def metrics_table(metrics: dict, *, provisional: bool = False) -> Text:
    """J, AUC, TPR, FPR and k of the fitted, previous and current rule side by side.

    Fixed-width text rather than a Rich Table: it repaints on every keypress, and a Table's
    layout pass costs more than the rest of the rules pane. Before a fit has finished the first
    column is the provisional preview, and says so: it was never fitted."""
    text = Text()
    labels = [("provisional" if provisional and which == "fitted" else which) for which in WHICH]
    widths = [max(10, len(label) + 1) for label in labels]
    text.append("     " + "".join(f"{label:>{w}}" for label, w in zip(labels, widths, strict=True))
                + "\n", style="bold")
    rows = (("J", "j", "{:.3f}"), ("AUC", "auc", "{:.3f}"), ("TPR", "tpr", "{:.3f}"),
            ("FPR", "fpr", "{:.3f}"), ("k", "k", "{}"))
    for n, (label, attr, fmt) in enumerate(rows):
        text.append(f"{label:<5}", style="bold")
        for which, w in zip(WHICH, widths, strict=True):
            m = metrics.get(which)
            cell = "–" if m is None else fmt.format(getattr(m, attr))
            text.append(f"{cell:>{w}}", style="bold" if which == "current" else "")
        if n < len(rows) - 1:
            text.append("\n")
    return text


class RulesPane(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._order: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="rule-text")
        with Horizontal(id="rule-stats"):
            yield Static("", id="metrics")
            yield JCurve("", id="jcurve")
        yield Static("", id="votes-header")
        yield VoteTable(id="votes")

    def load(self, studio) -> None:
        """Fill the table for a new rule (a new Studio): fixed row order, cursor at the top."""
        rule = studio.rule
        fitted = [i for i, *_ in studio.fitted_rule.votes()]
        rest = [i for i in range(rule.n_features) if i not in set(fitted)]
        self._order = fitted + rest
        table = self.query_one(VoteTable)
        table.set_rows(studio, self._order)
        self.query_one("#votes-header", Static).update(
            Text(header_line(table.name_width, table.range_width), style="bold"))
        self._shown = (rule.sign.copy(), rule.weight.copy(), rule.enabled.copy())
        fit = studio.fit
        self.query_one(JCurve).show(studio.j_curve(), None if fit is None else fit.k_chosen)
        self._refresh_text(studio)

    def update_rule(self, studio) -> None:
        """Repaint only the rows whose vote changed, plus the sentence and metrics."""
        rule = studio.rule
        if self._shown is None:
            self.load(studio)
            return
        sign, weight, enabled = self._shown
        changed = np.flatnonzero((sign != rule.sign) | (weight != rule.weight)
                                 | (enabled != rule.enabled))
        self.query_one(VoteTable).rows_changed(changed.tolist())
        self._shown = (rule.sign.copy(), rule.weight.copy(), rule.enabled.copy())
        self._refresh_text(studio)

    def _refresh_text(self, studio) -> None:
        rule = studio.rule
        sentence = studio.rule_text()
        if len(sentence) > MAX_SENTENCE:  # thousands of votes: the table has them all
            sentence = sentence[:MAX_SENTENCE] + "…"
        head = Text.assemble(("Rule ", "bold"), (f"K={rule.K:g} m={rule.m:g}: ", "cyan"),
                             sentence)
        self.query_one("#rule-text", Static).update(head, layout=False)
        metrics = {which: studio.metrics(which) for which in WHICH}
        self.query_one("#metrics", Static).update(
            metrics_table(metrics, provisional=studio.fit is None), layout=False)
