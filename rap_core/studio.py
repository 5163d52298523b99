"""Studio: the editing state behind the TUI and `rap export` (data, fit, rule, prior, history).

Why a facade: the TUI must hold no model logic, and `rap export --session S.json` must produce the
byte-identical prior the TUI exports. Both go through this one object, so there is exactly one code
path from (dataset, fit, edits) to a prior.

Every edit is data (`rap_core.edits.Edit`), applied in O(P) to the rule, the prior (one row and
column of B) and the metrics; undo/redo walk the same log; the session file is that log.

Design choices:
- The expensive step, the co-activation counts (one n x P x P product), runs once per dataset,
  when the prior is first read (the heatmap, an export), not in the constructor: the first screen
  shows the rule and its metrics, and the counts and B were ~30 % of opening a 5,000 x 1,000
  table (issue 13). Edits made before then only change the rule; B is built from the rule as it
  is then, which equals the incrementally kept B bitwise (tests/test_studio.py). Everything after
  it is O(P) per edit (PriorBuilder) or O(k n) (metrics).
- Undo applies the inverse: each history entry keeps the vote (or K / m) as it was before the
  edit, so undo restores those exact values instead of replaying the log from the fit.
- Only weight, on/off and sign reach the prior (B = diag(w) S diag(w) depends on nothing else);
  K and m change the metrics and the rule text only.
- Autosave writes the whole (small) session atomically after every change, on a writer thread:
  the fsync of an atomic write takes 1 to 20 ms on a busy disk, which an edit must not wait for.
  Snapshots are immutable and coalesce (only the newest pending one is written), the thread is a
  daemon (it must never keep a hung-up process alive), and `flush(timeout)` blocks until the file
  holds the current edits, or says it does not. A failed write is reported by the next flush or
  edit, and `save_state` says it until a later write succeeds.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rap_core.change import Change
from rap_core.edits import Edit, apply_edit, restore, vote_state
from rap_core.errors import RapError
from rap_core.layout import make_layout
from rap_core.metrics import MetricsEngine, RuleMetrics
from rap_core.prior import PriorBuilder
from rap_core.ranges import indicators as compute_indicators
from rap_core.ranges import inside_rates, split_feature_name
from rap_core.rules import Rule, provisional_rule, rule_from_fit
from rap_core.rules import rule_text as render_rule_text
from rap_core.session import (
    MAX_NOTE,
    Session,
    SessionWriter,
    Stamp,
    check_fingerprint,
    load_session,
)
from rap_core.session import save_session as write_session
from rap_core.split import dataset_split, train_dataset
from rap_core.statistic import DEFAULT_STATISTIC, STATISTICS, CoactivationCounts

__all__ = ["SAME", "Change", "RuleMetrics", "Step", "Studio"]

SAME = "same"  # `autosave=SAME`: edits autosave to the session file they were replayed from


@dataclass(frozen=True)
class _Entry:
    """One applied edit, what it overwrote (for an exact undo), when, and the user's note."""

    edit: Edit
    before: object
    stamp: Stamp
    rule: Rule  # the rule after this edit (the history view measures it)


@dataclass(frozen=True)
class Step:
    """One line of the history: an edit, its time and note, and the rule it produced.

    `position` is how many edits are applied at that point (1 for the first edit); `done`
    says whether it is applied now (False: it is on the redo side)."""

    position: int
    edit: Edit
    stamp: Stamp
    rule: Rule
    done: bool


class _Engine:
    """What one dataset + ranges cost to build once: indicators -> counts, metrics, rates.

    The counts (the prior), the inside rates and the train metrics come from the training rows;
    `held_out` (None without a split) evaluates rules on the rows the fit never saw.
    """

    def __init__(self, train, ranges, held_out=None) -> None:
        if tuple(ranges.features) != tuple(train.features):
            raise RapError("the ranges do not match this dataset's features; refit the data")
        ind = compute_indicators(train.X, ranges)
        self.ranges = ranges
        self._counted = (ind, train.y)  # counted when first asked for (`counts`)
        self._counts: CoactivationCounts | None = None
        self._lock = threading.Lock()
        self.metrics = MetricsEngine(ind, train.y)
        self.held_out = None
        if held_out is not None:
            X, y = held_out
            self.held_out = MetricsEngine(compute_indicators(X, ranges), y)
        self.inside_pos, self.inside_neg = inside_rates(ind, train.y)

    @property
    def counts(self) -> CoactivationCounts:
        """The co-activation counts of the training rows, counted on first use (thread-safe)."""
        with self._lock:
            if self._counts is None:
                self._counts = CoactivationCounts.from_indicators(*self._counted)
                self._counted = None
            return self._counts

    def same_ranges(self, ranges) -> bool:
        a, b = self.ranges, ranges
        return (tuple(a.features) == tuple(b.features)
                and np.array_equal(a.rmin, b.rmin, equal_nan=True)
                and np.array_equal(a.rmax, b.rmax, equal_nan=True))


class Studio:
    """One dataset + fit + current rule + prior + undo history.

    Attributes (read-only for callers):
        dataset        rap_core.dataset.Dataset (every row)
        split          rap_core.split.Split of the dataset, or None (held_out=False: every row
                       of `dataset` is a training row, as in `rap eval`'s per-size fits)
        train          the training rows as a Dataset: what the fit, the ranges and the prior see
        fit            rap_core.fit.Fit of `train`, or None while only the rectifier has run
                       (provisional)
        ranges         rap_core.ranges.Ranges
        rule           rap_core.rules.Rule — the current rule
        fitted_rule    the rule as the fit produced it (before any edit)
        previous_rule  the rule before the last edit/undo/redo
        statistic      name of the co-activation statistic ("cpmi" default)
        layout         current layout name ("features" | "lags")
        session_path   where edits autosave (None = not saved); assignable
        session_source the session file the edits were replayed from (None: none)
        restored_edits how many edits were replayed from the session file when opened
    """

    def __init__(self, dataset, fit, ranges, rule: Rule, *, statistic: str = DEFAULT_STATISTIC,
                 layout: str = "features", session_path: Path | None = None,
                 engine: _Engine | None = None, held_out: bool = True) -> None:
        self.dataset = dataset
        self.split = dataset_split(dataset) if held_out else None
        self.train = train_dataset(dataset) if held_out else dataset
        self.fit = fit
        self.ranges = ranges
        if engine is None:
            rows = self.split.held_out if self.split is not None else None
            engine = _Engine(self.train, ranges,
                             None if rows is None else (dataset.X[rows], dataset.y[rows]))
        self._engine = engine
        self._j_curve_held_out: np.ndarray | None = None
        self.rule = rule
        self.fitted_rule = rule
        self.previous_rule = rule
        self.session_path = _autosave_path(session_path, dataset)
        self.session_source = self.session_path  # the file edits were replayed from
        self.restored_edits = 0
        self._undo: list[_Entry] = []
        self._redo: list[tuple[Edit, Stamp]] = []  # the next edit to redo last
        self._dirty = False
        self._writer = SessionWriter()
        self._metrics_cache: dict[tuple[int, str], tuple[Rule, RuleMetrics]] = {}
        if statistic not in STATISTICS:  # checked now, although B is built later
            raise RapError(f"unknown statistic {statistic!r}; choose one of "
                           f"{', '.join(STATISTICS)}")
        lags = [split_feature_name(f)[1] for f in dataset.features]
        self._layout = make_layout(layout, dataset.features, lags)
        self._statistic = statistic
        self._builder: PriorBuilder | None = None  # built on first use: `_prior`
        self._prior_lock = threading.Lock()  # the builder is made from the rule as it is then

    @classmethod
    def from_fit(cls, dataset, fit, *, statistic: str = DEFAULT_STATISTIC,
                 layout: str = "features", session_path: Path | None = None,
                 autosave: Path | None | str = SAME, held_out: bool = True) -> Studio:
        """Open a fitted dataset; if `session_path` exists, its edits are replayed (refused with a
        RapError if its data fingerprint differs). Later edits autosave to `autosave`: the same
        file by default, another file (a fork), or nowhere (None: a read-only replay).

        `fit` must be a fit of the dataset's training rows (`rap_core.split.train_dataset`);
        with held_out=False, of every row of `dataset` (which is then training rows only).
        """
        train = train_dataset(dataset) if held_out else dataset
        _check_fit_rows(fit, dataset, train)
        studio = cls(dataset, fit, fit.ranges, rule_from_fit(fit), statistic=statistic,
                     layout=layout, session_path=session_path, held_out=held_out)
        studio._restore(autosave)
        return studio

    @classmethod
    def provisional(cls, dataset, ranges, *, statistic: str = DEFAULT_STATISTIC,
                    layout: str = "features") -> Studio:
        """Preview before the fit ends: every rectified feature votes, sign +1, weight 1
        (`ranges` from the training rows: `rectify(train_dataset(dataset), ...)`)."""
        return cls(dataset, None, ranges, provisional_rule(ranges), statistic=statistic,
                   layout=layout)

    def with_fit(self, fit, *, session_path: Path | None = None,
                 autosave: Path | None | str = SAME) -> Studio:
        """The fitted Studio that follows this preview; reuses the counts when the ranges match.

        Edits made to the preview are not carried over (they were edits of the all-votes AND);
        the session at `session_path`, if any, is replayed as in `from_fit`.
        """
        _check_fit_rows(fit, self.dataset, self.train)
        engine = self._engine if self._engine.same_ranges(fit.ranges) else None
        studio = Studio(self.dataset, fit, fit.ranges, rule_from_fit(fit),
                        statistic=self.statistic, layout=self.layout,
                        session_path=session_path, engine=engine,
                        held_out=self.split is not None)
        studio._restore(autosave)
        return studio

    def _restore(self, autosave: Path | None | str) -> None:
        path = self.session_path
        if autosave != SAME:
            self.session_path = _autosave_path(autosave, self.dataset)
        if path is None or not path.exists():
            return
        session = load_session(path, self.dataset.features)
        check_fingerprint(session, self.dataset.sha256, path)
        for i, edit in enumerate(session.edits):
            self._apply(edit, session.stamp(i))
        self._redo = [(edit, session.redo_stamp(i)) for i, edit in enumerate(session.redo)]
        if session.layout is not None and session.layout in self.layouts():
            self._set_layout(session.layout)
        self.restored_edits = len(session.edits)
        self.previous_rule = self.rule
        self._dirty = False  # the file already holds these edits

    # -- edits ---------------------------------------------------------------------------------
    def apply(self, edit) -> Change:
        """Apply one Edit (weight, enable, sign, K, m); clears the redo stack; autosaves."""
        change = self._apply(edit)
        self._redo.clear()
        self._autosave()
        return change

    def undo(self) -> Change | None:
        if not self._undo:
            return None
        change = self._undo_one()
        self._autosave()
        return change

    def redo(self) -> Change | None:
        if not self._redo:
            return None
        change = self._apply(*self._redo.pop())
        self._autosave()
        return change

    def _undo_one(self) -> Change:
        entry = self._undo.pop()
        change = self._set_rule(restore(self.rule, entry.edit, entry.before), entry.edit)
        self._redo.append((entry.edit, entry.stamp))
        return change

    def goto(self, position: int) -> Change | None:
        """Undo or redo until `position` edits are applied (0: the fitted rule); one autosave.
        The Change covers every step; None when already there."""
        total = len(self._undo) + len(self._redo)
        if not 0 <= position <= total:
            raise RapError(f"history position {position} is out of range 0..{total}")
        change = None
        while len(self._undo) > position:
            step = self._undo_one()
            change = step if change is None else change.merge(step)
        while len(self._undo) < position:
            step = self._apply(*self._redo.pop())
            change = step if change is None else change.merge(step)
        if change is not None:
            self._autosave()
        return change

    def history(self) -> list[Step]:
        """Every edit, applied ones first (oldest first), then those redo would apply."""
        steps = [Step(n, entry.edit, entry.stamp, entry.rule, True)
                 for n, entry in enumerate(self._undo, start=1)]
        rule, n = self.rule, len(self._undo)
        for edit, stamp in reversed(self._redo):
            rule, n = apply_edit(rule, edit), n + 1
            steps.append(Step(n, edit, stamp, rule, False))
        return steps

    def set_note(self, position: int, note: str) -> None:
        """Attach a note to the edit at `position` (1 = the first edit); autosaves."""
        note = " ".join(str(note).split())
        if len(note) > MAX_NOTE:
            raise RapError(f"a note is at most {MAX_NOTE} characters; this one has {len(note)}")
        applied = len(self._undo)
        if 1 <= position <= applied:
            entry = self._undo[position - 1]
            self._undo[position - 1] = replace(entry, stamp=replace(entry.stamp, note=note))
        elif applied < position <= applied + len(self._redo):
            i = len(self._redo) - (position - applied)
            edit, stamp = self._redo[i]
            self._redo[i] = (edit, replace(stamp, note=note))
        else:
            raise RapError(f"no edit at history position {position}")
        self._dirty = True
        self._autosave()

    def replay(self, path: Path) -> Change | None:
        """Apply the edits of another session file (made on other data whose feature names
        match) as new, undoable edits. Refused with one line naming the missing features."""
        session = load_session(path)
        known = set(self.dataset.features)
        missing = sorted({e.feature for e in session.edits
                          if e.feature is not None and e.feature not in known})
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more"
                                              if len(missing) > 5 else "")
            raise RapError(f"cannot replay {Path(path).name}: this data has no feature "
                           f"{shown}; replay it on data with those columns")
        change = None
        for i, edit in enumerate(session.edits):
            stamp = replace(Stamp.now(), note=session.stamp(i).note)
            step = self._apply(edit, stamp)
            change = step if change is None else change.merge(step)
        if change is not None:
            self._redo.clear()
            self._autosave()
        return change

    @property
    def edits(self) -> tuple:
        """Applied edits, oldest first (the undo stack)."""
        return tuple(entry.edit for entry in self._undo)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def _apply(self, edit: Edit, stamp: Stamp | None = None) -> Change:
        if not isinstance(edit, Edit):
            raise RapError(f"not an edit: {edit!r}")
        before = vote_state(self.rule, edit)
        change = self._set_rule(apply_edit(self.rule, edit), edit)
        self._undo.append(_Entry(edit, before, stamp or Stamp.now(), self.rule))
        return change

    def _set_rule(self, new: Rule, edit: Edit) -> Change:
        """Install `new` and update the prior: the Change names the vote, the rows/columns of
        B and whether the scale moved (the prior builder reports the last two)."""
        old = self.rule
        with self._prior_lock:  # a B built meanwhile on another thread sees `new` or this edit
            self.previous_rule, self.rule = old, new
            self._dirty = True
            if edit.feature is None:  # K or m: the prior does not depend on them
                return Change(params=True)
            i = new.index(edit.feature)
            change = Change(votes=(i,))
            prior = self._builder
            if prior is None:  # B not built yet: it will be, from the rule as it is then
                return change
            before = prior.scale
            if new.sign[i] != old.sign[i]:
                change = change.merge(prior.set_sign(i, int(new.sign[i])))
            w_new = new.weight[i] if new.enabled[i] else np.float32(0)
            w_old = old.weight[i] if old.enabled[i] else np.float32(0)
            if w_new != w_old:
                change = change.merge(prior.set_weight(i, float(w_new)))
            # One edit may flip the sign and change the weight: the scale moved if it differs
            # from before both steps (a step's own `rescaled` compares with its own start).
            return replace(change, rescaled=prior.scale != before)

    @property
    def _prior(self) -> PriorBuilder:
        """B's builder, made on first use from the counts and the rule as it is then. The counts
        (the long part) are made outside the lock, so edits on another thread go on meanwhile;
        an edit waits only while the builder itself is made."""
        if self._builder is None:
            counts = self._engine.counts
        with self._prior_lock:
            if self._builder is None:
                rule = self.rule
                self._builder = PriorBuilder(counts, rule.sign, rule.effective_weights(),
                                             self._layout, self._statistic)
            return self._builder

    # -- reading -------------------------------------------------------------------------------
    @property
    def has_held_out(self) -> bool:
        """Are there rows the fit never saw to measure on (False in `rap eval`'s fits)?"""
        return self._engine.held_out is not None

    def metrics(self, which: str = "current", rows: str = "held_out") -> RuleMetrics:
        """Metrics of the "fitted", "previous" or "current" rule on the "held_out" or "train" rows
        (fast: < 10 ms each). Without held-out rows (held_out=False), "held_out" is refused."""
        rules = {"current": self.rule, "previous": self.previous_rule,
                 "fitted": self.fitted_rule}
        if which not in rules:
            raise RapError(f"unknown metrics {which!r}; use current, previous or fitted")
        engines = {"train": self._engine.metrics, "held_out": self._engine.held_out}
        if rows not in engines:
            raise RapError(f"unknown rows {rows!r}; use held_out or train")
        engine = engines[rows]
        if engine is None:
            raise RapError("this studio has no held-out rows (every row is a training row)")
        rule = rules[which]
        cached = self._metrics_cache.get((id(rule), rows))
        if cached is not None and cached[0] is rule:
            return cached[1]
        result = engine.evaluate(rule)
        live = {id(r) for r in rules.values()}
        self._metrics_cache = {key: v for key, v in self._metrics_cache.items()
                               if key[0] in live}
        self._metrics_cache[(id(rule), rows)] = (rule, result)
        return result

    def evaluate(self, rule: Rule, rows: str = "held_out") -> RuleMetrics:
        """Metrics of any rule of this data (a history step's) on "held_out" (the default,
        when there are held-out rows) or "train" rows; O(k n), uncached."""
        if rows not in ("held_out", "train"):
            raise RapError(f"unknown rows {rows!r}; use held_out or train")
        engine = self._engine.held_out if rows == "held_out" else None
        return (engine or self._engine.metrics).evaluate(rule)

    def j_curve(self, rows: str = "held_out", length: int | None = None) -> np.ndarray:
        """Youden's J of the fit's top-k rules, k = 1..len (empty before the fit); with `length`,
        k = 1..length only: a chart shows a few dozen bars, and each held-out k costs one rule
        evaluation (the whole curve of a 1,000-feature fit took a second).

        "train": cutlass's own curve (the logic polish scans it on the rows it fitted).
        "held_out": the same top-k rules (votes in the polish's order, signs of the L1 model,
        weight 1, m as the polish's intercept policy sets it) on the held-out rows; only the m-of-k
        policy fixes m without the training rows, so other policies fall back to "train".
        """
        if self.fit is None:
            return np.zeros(0, dtype=np.float64)
        train = np.array(self.fit.j_curve, dtype=np.float64)
        n = self._curve_length(length)
        if rows == "train" or self.j_curve_rows == "train":
            return train[:n]
        cached = self._j_curve_held_out  # the longest prefix computed so far
        if cached is None or cached.size < n:
            self._j_curve_held_out = cached = _held_out_curve(self.fit, self._engine.held_out, n)
        return cached[:n].copy()

    def has_j_curve(self, length: int | None = None) -> bool:
        """Does `j_curve(length=length)` return at once (no rule to evaluate)? The app draws the
        rule first and the held-out curve when it is computed (tui.app: a 1,000-feature fit's
        256 bars took 0.15 s before the rule could be shown)."""
        if self.j_curve_rows == "train":
            return True
        cached = self._j_curve_held_out
        return cached is not None and cached.size >= self._curve_length(length)

    def _curve_length(self, length: int | None) -> int:
        """How many bars `j_curve(length=length)` has: the fit's whole curve, or its prefix."""
        total = len(self.fit.j_curve)
        return total if length is None else min(max(int(length), 0), total)

    @property
    def j_curve_rows(self) -> str:
        """Which rows `j_curve()` is measured on: "held_out" or "train"."""
        held = (self.fit is not None and self.has_held_out
                and self.fit.params.intercept == "mofk")
        return "held_out" if held else "train"

    def fit_note(self) -> str:
        """What the fit did, in the words the rule header, the status line and `rap rules` share.

        The vote count is the fitted rule's, so k means one thing everywhere: the votes shown.
        """
        fit = self.fit
        if fit is None:
            return "provisional rule: every rectified feature votes until the fit ends"
        n = len(self.fitted_rule.votes())
        if fit.adopted:
            return f"m-of-k rule, k={n}"
        if not fit.params.logic_polish:
            return f"logic polish off: showing the L1 model, {n} votes"
        return f"m-of-k not adopted: showing the L1 model, {n} votes"

    def rule_header(self) -> str:
        """The line above the rule sentence: what the fit did, then the current K and m."""
        rule = self.rule
        k_m = f"K={rule.K:g} m={rule.m:g}"
        if self.fit is None:
            return f"Provisional rule (not fitted yet) {k_m}"
        if self.fit.adopted:
            return f"Rule {k_m}"
        return f"{self.fit_note()} · {k_m}"

    def rule_text(self) -> str:
        """The current rule as a sentence: "at least 2 of: V3_t2 in [0.41, 0.97], ..."."""
        return render_rule_text(self.rule, self.ranges)

    def bias_raw(self) -> np.ndarray:
        """The current prior before scaling, float32 (L, L); a live view, do not mutate."""
        return self._prior.bias_raw()

    @property
    def scale(self) -> float:
        """max |B_raw| (0.0 when every weight is zero); bias = bias_raw / scale."""
        return self._prior.scale

    def bias(self) -> np.ndarray:
        """The normalised prior (max |B| = 1) as exported, float32 (L, L)."""
        return self._prior.bias()

    def labels(self) -> tuple[str, ...]:
        """Position names for the current layout."""
        return tuple(self._prior.labels)

    def set_layout(self, layout: str) -> Change:
        """Show the prior in another layout (a view choice: not an edit, not in the undo log;
        the session remembers it)."""
        change = self._set_layout(layout)
        if not change.empty:
            self._dirty = True
            self._autosave()
        return change

    def _set_layout(self, layout: str) -> Change:
        """`self._layout` is the layout B is shown in, built in or not yet."""
        if layout == self._layout.name:
            return Change()
        with self._prior_lock:  # a B being built meanwhile is built in one layout or the other
            self._layout = make_layout(layout, self._layout.features, self._layout.lags)
            if self._builder is None:
                return Change.new_layout(self._layout.size)
            return self._builder.set_layout(self._layout)

    def layouts(self) -> tuple[str, ...]:
        """The layouts this data supports: "lags" only when some feature name has a lag number."""
        has_lags = any(split_feature_name(f)[1] is not None for f in self.dataset.features)
        return ("features", "lags") if has_lags else ("features",)

    @property
    def layout(self) -> str:
        return self._layout.name

    @property
    def statistic(self) -> str:
        return self._statistic

    @property
    def prior(self) -> PriorBuilder:
        """The live prior (for views that need S or B_feat); edit only through the Studio."""
        return self._prior

    def inside_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Per feature (dataset order), the fraction of training positives and of training
        negatives inside its critical range (copies)."""
        return self._engine.inside_pos.copy(), self._engine.inside_neg.copy()

    @property
    def counts(self) -> CoactivationCounts:
        """The co-activation counts of the training rows (immutable; what B is built from)."""
        return self._engine.counts

    # -- persistence ---------------------------------------------------------------------------
    def session(self) -> Session:
        fit_params = self.fit.params.to_dict() if self.fit is not None else None
        return Session(self.dataset.sha256, self.dataset.target, fit_params, self.statistic,
                       self.edits, tuple(edit for edit, _ in self._redo),
                       split=self.split_info(),
                       stamps=tuple(entry.stamp for entry in self._undo),
                       redo_stamps=tuple(stamp for _, stamp in self._redo),
                       layout=self.layout)

    def split_info(self) -> dict | None:
        """The split as sessions and artifacts record it (None: every row trains)."""
        return self.split.describe() if self.split is not None else None

    def save_session(self, path: Path | None = None) -> Path:
        """Write the session (fingerprint + params + edits + redo) atomically."""
        target = Path(path) if path is not None else self.session_path
        if target is None:
            raise RapError("no session file to save to; give a path")
        self._writer.flush()  # an older background snapshot must not land after this one
        written = write_session(target, self.session())
        if target == self.session_path:
            self._dirty = False
        return written

    def flush(self, timeout: float | None = None) -> None:
        """Block until session_path holds every edit (call on close); raises a failed write, or
        (with `timeout`) a RapError naming the file when the write did not finish in time."""
        self._writer.flush(timeout)
        if self.session_path is not None and self._dirty:
            self.save_session(self.session_path)

    @property
    def save_state(self) -> tuple[str, str | None]:
        """("unsaved" | "saving" | "failed" | "saved", the failure): what the session file holds.

        "unsaved": no session file (read-only); "failed": the last write failed (the message).
        """
        if self.session_path is None:
            return "unsaved", None
        failure = self._writer.failure
        if failure is not None:
            return "failed", failure
        return ("saving" if self._writer.busy else "saved"), None

    def autosave_to(self, path: str | os.PathLike | None) -> None:
        """From now on edits autosave to `path` (None: nowhere); edits made while they had
        nowhere to go are saved there at once. For a session replayed before its lock was taken
        (the app shows the rule first): the lock decides the path afterwards."""
        self.session_path = _autosave_path(path, self.dataset)
        if self._dirty:
            self._autosave()

    def _autosave(self) -> None:
        if self.session_path is not None:
            self._writer.submit(self.session_path, self.session())
            self._dirty = False


def _check_fit_rows(fit, dataset, train) -> None:
    """Refuse a fit of other rows: an all-rows fit is not a fit of the training rows."""
    if fit.data_sha256 == train.sha256:
        return
    if fit.data_sha256 == dataset.sha256:
        raise RapError(f"this fit saw every row of {dataset.name}, held-out rows included; "
                       f"refit on the training rows (the app and `rap fit` do)")
    raise RapError(f"this fit was made for other data (fingerprint {fit.data_sha256[:8]}…, "
                   f"{dataset.name}'s training rows are {train.sha256[:8]}…); refit the data")


def _held_out_curve(fit, engine: MetricsEngine, length: int) -> np.ndarray:
    """J of the top-k m-of-k rules on `engine`'s rows (see Studio.j_curve)."""
    p = len(fit.features)
    order = [int(i) for i in fit.j_order[:length]]
    signs = np.where(fit.l1_coef >= 0, 1, -1)
    wanted = fit.params.m
    out = np.zeros(len(order), dtype=np.float64)
    for k in range(1, len(order) + 1):
        weight = np.zeros(p, dtype=np.float32)
        weight[order[:k]] = 1.0
        m = k if wanted is None else int(min(max(wanted, 1), k))
        rule = Rule.make(fit.features, signs, weight, weight > 0, fit.K, float(m))
        out[k - 1] = engine.evaluate(rule).j
    return out


def _autosave_path(path: str | os.PathLike | None, dataset) -> Path | None:
    """`path` as a Path (None stays None), refused when it is the data file itself: autosaving
    there would destroy the data."""
    if path is None:
        return None
    path = Path(path)
    if _same_file(path, dataset.path):
        raise RapError(f"session file {path} is the data file itself; autosaving there would "
                       f"destroy the data; give another --session path")
    return path


def _same_file(a: Path, b: Path | None) -> bool:
    """Do `a` and `b` name the same file (also through a hard link or symlink)?"""
    if b is None:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
