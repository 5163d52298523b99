"""Rules pane: the rule as a sentence, live metrics, the J-curve, and one row per vote.

Every feature has a row (disabled votes dimmed), so any feature can get a vote. Row order is fixed
when a rule is loaded — the fit's votes first, heaviest first, then the rest in dataset order — so
a row never jumps away from the cursor while it is being edited. The keys only build `Edit`s and
hand them to the app; all arithmetic on the rule lives in `rap_core`.
"""

from __future__ import annotations

import numpy as np
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from rap_core.edits import Edit, flip, toggle
from rap_core.ranges import format_range
from tui.actions import RULE_ACTIONS, bindings
from tui.widgets.charts import JCurve

VOTE_COLUMNS = (("on", "on"), ("feature", "feature"), ("range", "critical range"),
                ("sign", "votes"), ("weight", "weight"))
WHICH = ("fitted", "previous", "current")


def metrics_table(metrics: dict) -> Table:
    """J, AUC, TPR, FPR and k of the fitted, previous and current rule side by side."""
    table = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 1))
    table.add_column("", style="bold")
    for which in WHICH:
        table.add_column(which, justify="right", style="bold" if which == "current" else "")
    for label, attr, fmt in (("J", "j", "{:.3f}"), ("AUC", "auc", "{:.3f}"),
                             ("TPR", "tpr", "{:.3f}"), ("FPR", "fpr", "{:.3f}"),
                             ("k", "k", "{}")):
        cells = []
        for which in WHICH:
            m = metrics.get(which)
            cells.append("–" if m is None else fmt.format(getattr(m, attr)))
        table.add_row(label, *cells)
    return table


class VoteTable(DataTable):
    """One row per feature; editing keys turn into Edits for the app to apply."""

    BINDINGS = bindings(RULE_ACTIONS)

    def _feature(self) -> str | None:
        if self.row_count == 0:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def _rule(self):
        return getattr(self.app, "studio", None) and self.app.studio.rule

    def action_nudge(self, delta: float) -> None:
        feature, rule = self._feature(), self._rule()
        if feature is None or rule is None:
            return
        i = rule.index(feature)
        if not rule.enabled[i]:
            if delta > 0:
                self.app.apply_edit(toggle(rule, feature))
            return
        self.app.apply_edit(Edit("weight", feature, max(0.0, round(float(rule.weight[i]) + delta,
                                                                   6))))

    def action_toggle_vote(self) -> None:
        feature, rule = self._feature(), self._rule()
        if feature is not None and rule is not None:
            self.app.apply_edit(toggle(rule, feature))

    def action_flip_sign(self) -> None:
        feature, rule = self._feature(), self._rule()
        if feature is not None and rule is not None:
            self.app.apply_edit(flip(rule, feature))

    def action_type_weight(self) -> None:
        feature, rule = self._feature(), self._rule()
        if feature is not None and rule is not None:
            current = float(rule.weight[rule.index(feature)])
            self.app.ask_value(f"weight of {feature}", current, "weight", feature)

    def action_edit_k(self) -> None:
        if self._rule() is not None:
            self.app.ask_value("K (logit scale)", self._rule().K, "K", None)

    def action_edit_m(self) -> None:
        if self._rule() is not None:
            self.app.ask_value("m (m-of-k threshold)", self._rule().m, "m", None)

    def action_step_m(self, step: int) -> None:
        rule = self._rule()
        if rule is not None:
            self.app.apply_edit(Edit("m", None, max(0.0, rule.m + step)))


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
        yield VoteTable(id="votes", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(VoteTable)
        for key, label in VOTE_COLUMNS:
            table.add_column(label, key=key)

    def load(self, studio) -> None:
        """Fill the table for a new rule (a new Studio): fixed row order, cursor at the top."""
        rule = studio.rule
        fitted = [i for i, *_ in studio.fitted_rule.votes()]
        rest = [i for i in range(rule.n_features) if i not in set(fitted)]
        self._order = fitted + rest
        table = self.query_one(VoteTable)
        table.clear()
        for i in self._order:
            table.add_row(*self._cells(studio, i), key=rule.features[i])
        self._shown = (rule.sign.copy(), rule.weight.copy(), rule.enabled.copy())
        fit = studio.fit
        self.query_one(JCurve).show(studio.j_curve(), None if fit is None else fit.k_chosen)
        self._refresh_text(studio)

    @staticmethod
    def _cells(studio, i: int) -> list[Text]:
        rule, ranges = studio.rule, studio.ranges
        on = bool(rule.enabled[i])
        style = "" if on and rule.weight[i] > 0 else "dim"
        sign = "inside" if rule.sign[i] > 0 else "outside"
        return [Text("●" if on else "○", style=style),
                Text(rule.features[i], style=style),
                Text(format_range(float(ranges.rmin[i]), float(ranges.rmax[i])), style=style),
                Text(sign, style=style),
                Text(f"{float(rule.weight[i]):.2f}", style=style, justify="right")]

    def update_rule(self, studio) -> None:
        """Repaint only the rows whose vote changed, plus the sentence and metrics."""
        rule = studio.rule
        if self._shown is None:
            self.load(studio)
            return
        sign, weight, enabled = self._shown
        changed = np.flatnonzero((sign != rule.sign) | (weight != rule.weight)
                                 | (enabled != rule.enabled))
        table = self.query_one(VoteTable)
        for i in changed.tolist():
            key = rule.features[i]
            for (col, _), cell in zip(VOTE_COLUMNS, self._cells(studio, i), strict=True):
                table.update_cell(key, col, cell)
        self._shown = (rule.sign.copy(), rule.weight.copy(), rule.enabled.copy())
        self._refresh_text(studio)

    def _refresh_text(self, studio) -> None:
        rule = studio.rule
        head = Text.assemble(("Rule ", "bold"), (f"K={rule.K:g} m={rule.m:g}: ", "cyan"),
                             studio.rule_text())
        self.query_one("#rule-text", Static).update(head)
        metrics = {which: studio.metrics(which) for which in WHICH}
        self.query_one("#metrics", Static).update(metrics_table(metrics))
