"""Rules pane: the rule as a sentence, live metrics, the J-curve, and one row per vote.

Every feature has a row (disabled votes dimmed), so any feature can get a vote. Row order is fixed
when a rule is loaded — the fit's votes first, heaviest first, then the rest in dataset order — so
a row never jumps away from the cursor while it is being edited. The keys only build `Edit`s and
post them up (tui.messages); all arithmetic on the rule lives in `rap_core`. After an edit the
app hands down the `Change`, whose `votes` are the rows to repaint: the pane keeps no copy of
the rule to diff against.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from tui.widgets.charts import JCurve
from tui.widgets.text_lines import TextLines
from tui.widgets.vote_table import VoteTable, header_line

WHICH = ("fitted", "previous", "current")
MAX_SENTENCE = 400
SENTENCE_LINES = 3  # the height of #rule-text in app.tcss


def fit_lines(text: Text, width: int, lines: int, console) -> list[Text]:
    """`text` wrapped at word boundaries into at most `lines` lines of `width` cells; when it is
    longer, the last line ends at a whole word with " …" (the votes table lists every vote)."""
    wrapped = text.wrap(console, max(width, 8))
    if len(wrapped) <= lines:
        return list(wrapped)
    kept = list(wrapped[:lines])
    last = kept[-1]
    plain = last.plain.rstrip()
    room = max(width, 8) - 2
    cut = len(plain) if len(plain) <= room else plain.rfind(" ", 0, room + 1)
    if cut <= 0:
        cut = min(len(plain), room)
    last = last[:cut]
    last.rstrip()
    last.append(" …", style="bold")
    kept[-1] = last
    return kept


# The J curve's bars: one per column of the chart, so a prefix this long fills any terminal
# under ~300 columns (longer curves end in "…"); computing all of a 1,000-vote curve on the
# held-out rows took a second before the rule could be shown (tui.panes.warm).
CURVE_K = 256


def metrics_lines(metrics: dict, *, provisional: bool = False) -> list[Text]:
    """J, AUC, TPR and FPR of the fitted, previous and current rule: held-out, then train.

    `metrics` maps (which, rows) -> RuleMetrics, rows "held_out" or "train". Held-out comes first
    because it is the honest number: the fit never saw those rows (rap_core.split); train is
    what the fit optimised. k (the votes) is one number per rule, shown once. Fixed-width text
    rather than a Rich Table: it repaints on every keypress, and a Table's layout pass costs more
    than the rest of the rules pane. 3 + 6 x 7 = 45 columns (room for a minus sign in every cell):
    it fits 80-column terminals beside the J-versus-k curve.
    Before a fit has finished the first group is the provisional preview, and says so."""
    labels = [("provisional" if provisional and which == "fitted" else which) for which in WHICH]
    lines = [Text("   " + "".join(f"{label:>14}" for label in labels), style="bold"),
             Text("   " + "".join(f"{'held':>7}{'train':>7}" for _ in WHICH), style="dim")]
    rows = (("J", "j"), ("AUC", "auc"), ("TPR", "tpr"), ("FPR", "fpr"))
    for label, attr in rows:
        text = Text()
        text.append(f"{label:<3}", style="bold")
        for which in WHICH:
            for part in ("held_out", "train"):
                m = metrics.get((which, part))
                cell = "–" if m is None else f"{getattr(m, attr):.3f}"
                style = "bold" if which == "current" and part == "held_out" else (
                    "dim" if part == "train" else "")
                text.append(f"{cell:>7}", style=style)
        lines.append(text)
    text = Text()
    text.append(f"{'k':<3}", style="bold")
    for which in WHICH:
        m = metrics.get((which, "held_out")) or metrics.get((which, "train"))
        text.append(f"{'–' if m is None else m.k:>7}{'':>7}",
                    style="bold" if which == "current" else "")
    lines.append(text)
    return lines


class RulesPane(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._order: list[int] = []
        self._studio = None

    def on_resize(self) -> None:
        if self._studio is not None:  # the sentence is wrapped for the width
            self._refresh_text(self._studio)

    def compose(self) -> ComposeResult:
        yield TextLines("", id="rule-text")
        with Horizontal(id="rule-stats"):
            yield TextLines("", id="metrics")
            yield JCurve("", id="jcurve")
        yield Static("", id="votes-header")
        yield VoteTable(id="votes")

    def load(self, studio) -> None:
        """Fill the table for a new rule (a new Studio): fixed row order, cursor at the top."""
        self._studio = studio
        rule = studio.rule
        fitted = [i for i, *_ in studio.fitted_rule.votes()]
        rest = [i for i in range(rule.n_features) if i not in set(fitted)]
        self._order = fitted + rest
        table = self.query_one(VoteTable)
        table.set_rows(studio, self._order)
        self.query_one("#votes-header", Static).update(
            Text(header_line(table.name_width, table.range_width), style="bold"), layout=False)
        if studio.has_j_curve(CURVE_K):
            self.show_curve(studio)
        else:  # the app draws it once computed (a held-out rule evaluation per bar)
            self.query_one(JCurve).update(Text("J vs k: computing…", style="dim"), layout=False)
        self._refresh_text(studio)

    def show_curve(self, studio) -> None:
        """Draw the J-versus-k chart of `studio`'s fit (its curve evaluated where needed)."""
        fit = studio.fit
        # The chosen k is marked only when the rule shown is that m-of-k rule.
        chosen = fit.k_chosen if fit is not None and fit.adopted else None
        total = 0 if fit is None else len(fit.j_curve)
        self.query_one(JCurve).show(studio.j_curve(length=CURVE_K), chosen,
                                    rows=studio.j_curve_rows, total=total,
                                    note=None if fit is None or fit.adopted else "not adopted")

    def update_rule(self, studio, change) -> None:
        """Repaint the rows of the votes `change` names, plus the sentence and metrics."""
        if change.votes:
            self.query_one(VoteTable).rows_changed(list(change.votes))
        self._refresh_text(studio)

    def _refresh_text(self, studio) -> None:
        rule = studio.rule
        sentence = studio.rule_text()
        if len(sentence) > MAX_SENTENCE:  # thousands of votes: the table has them all
            sentence = sentence[:MAX_SENTENCE] + "…"
        header = studio.rule_header()
        k_m = f"K={rule.K:g} m={rule.m:g}"
        lead = header[:-len(k_m)]
        head = Text.assemble((lead, "bold" if studio.fit is None or studio.fit.adopted
                              else "bold yellow"), (f"{k_m}: ", "cyan"), sentence)
        box = self.query_one("#rule-text", TextLines)
        self._set("rule-text", fit_lines(head, box.content_size.width
                                         or max(20, self.size.width - 2),
                                         SENTENCE_LINES, self.app.console))
        parts = ("held_out", "train") if studio.has_held_out else ("train",)
        metrics = {(which, part): studio.metrics(which, part)
                   for which in WHICH for part in parts}
        self._set("metrics", metrics_lines(metrics, provisional=studio.fit is None))

    def _set(self, name: str, text: Text | list[Text]) -> None:
        """Show `text` in #name: only its lines that changed repaint (tui.widgets.text_lines)."""
        self.query_one(f"#{name}", TextLines).update(text)
