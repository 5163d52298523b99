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
from tui.widgets.vote_table import VoteTable, header_line

WHICH = ("fitted", "previous", "current")
MAX_SENTENCE = 400
SENTENCE_LINES = 3  # the height of #rule-text in app.tcss


def fit_lines(text: Text, width: int, lines: int, console) -> Text:
    """`text` wrapped at word boundaries into at most `lines` lines of `width` cells; when it is
    longer, the last line ends at a whole word with " …" (the votes table lists every vote)."""
    wrapped = text.wrap(console, max(width, 8))
    if len(wrapped) <= lines:
        return Text("\n").join(wrapped)
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
    return Text("\n").join(kept)


# The J curve's bars: one per column of the chart, so a prefix this long fills any terminal
# under ~300 columns (longer curves end in "…"); computing all of a 1,000-vote curve on the
# held-out rows took a second before the rule could be shown (tui.panes.warm).
CURVE_K = 256


def metrics_table(metrics: dict, *, provisional: bool = False) -> Text:
    """J, AUC, TPR and FPR of the fitted, previous and current rule: held-out, then train.

    `metrics` maps (which, rows) -> RuleMetrics, rows "held_out" or "train". Held-out comes first
    because it is the honest number: the fit never saw those rows (rap_core.split); train is
    what the fit optimised. k (the votes) is one number per rule, shown once. Fixed-width text
    rather than a Rich Table: it repaints on every keypress, and a Table's layout pass costs more
    than the rest of the rules pane. 3 + 6 x 7 = 45 columns (room for a minus sign in every cell):
it fits 80-column terminals beside the J-versus-k curve.
    Before a fit has finished the first group is the provisional preview, and says so."""
    text = Text()
    labels = [("provisional" if provisional and which == "fitted" else which) for which in WHICH]
    text.append("   " + "".join(f"{label:>14}" for label in labels) + "\n", style="bold")
    text.append("   " + "".join(f"{'held':>7}{'train':>7}" for _ in WHICH) + "\n", style="dim")
    rows = (("J", "j"), ("AUC", "auc"), ("TPR", "tpr"), ("FPR", "fpr"))
    for label, attr in rows:
        text.append(f"{label:<3}", style="bold")
        for which in WHICH:
            for part in ("held_out", "train"):
                m = metrics.get((which, part))
                cell = "–" if m is None else f"{getattr(m, attr):.3f}"
                style = "bold" if which == "current" and part == "held_out" else (
                    "dim" if part == "train" else "")
                text.append(f"{cell:>7}", style=style)
        text.append("\n")
    text.append(f"{'k':<3}", style="bold")
    for which in WHICH:
        m = metrics.get((which, "held_out")) or metrics.get((which, "train"))
        text.append(f"{'–' if m is None else m.k:>7}{'':>7}",
                    style="bold" if which == "current" else "")
    return text


class RulesPane(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._order: list[int] = []
        self._studio = None

    def on_resize(self) -> None:
        if self._studio is not None:  # the sentence is wrapped for the width
            self._refresh_text(self._studio)
        self._shown: dict[str, Text] = {}  # what each Static shows: an equal update is skipped

    def compose(self) -> ComposeResult:
        yield Static("", id="rule-text")
        with Horizontal(id="rule-stats"):
            yield Static("", id="metrics")
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
            Text(header_line(table.name_width, table.range_width), style="bold"))
        fit = studio.fit
        # The chosen k is marked only when the rule shown is that m-of-k rule.
        chosen = fit.k_chosen if fit is not None and fit.adopted else None
        total = 0 if fit is None else len(fit.j_curve)
        self.query_one(JCurve).show(studio.j_curve(length=CURVE_K), chosen,
                                    rows=studio.j_curve_rows, total=total,
                                    note=None if fit is None or fit.adopted else "not adopted")
        self._refresh_text(studio)

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
        box = self.query_one("#rule-text", Static)
        self._set("rule-text", fit_lines(head, box.content_size.width
                                         or max(20, self.size.width - 2),
                                         SENTENCE_LINES, self.app.console))
        parts = ("held_out", "train") if studio.has_held_out else ("train",)
        metrics = {(which, part): studio.metrics(which, part)
                   for which in WHICH for part in parts}
        self._set("metrics", metrics_table(metrics, provisional=studio.fit is None))

    def _set(self, name: str, text: Text) -> None:
        """Update a Static unless it shows this already (a keypress that moves no metric
        re-renders nothing there)."""
        if self._shown.get(name) == text:
            return
        self._shown[name] = text
        self.query_one(f"#{name}", Static).update(text, layout=False)
