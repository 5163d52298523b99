"""Studio: the editing state behind the TUI and `rap export` (dataset + fit + rule + prior + history).

CONTRACT SKELETON — the signatures and docstrings below are the interface the TUI and the CLI code
against; the implementation fills them in without changing them.

Why a facade: the TUI must hold no model logic, and `rap export --session S.json` must produce the
byte-identical prior the TUI exports. Both go through this one object, so there is exactly one code
path from (dataset, fit, edits) to a prior.

Every edit is data (`rap_core.edits.Edit`), applied in O(P) to the rule, the prior (one row and
column of B) and the metrics; undo/redo walk the same log; the session file is that log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RuleMetrics:
    """How a rule classifies the dataset's rows (threshold: active weight >= m - 1/2)."""

    j: float  # Youden's J = TPR - FPR
    auc: float  # ROC AUC of the active-weight score
    tpr: float
    fpr: float
    k: int  # number of active votes (enabled, weight > 0)


@dataclass(frozen=True)
class Change:
    """What an edit (or undo/redo) touched, so a view repaints only that."""

    positions: tuple[int, ...]  # prior positions (rows/cols of B) that changed; () = none
    rescaled: bool  # max|B| changed, so every displayed value changed
    rule_changed: bool


@dataclass(frozen=True)
class ExportResult:
    path: Path
    shape: tuple[int, int]
    bias_sha256: str
    layout: str
    alpha_init: float


class Studio:
    """One dataset + fit + current rule + prior + undo history.

    Attributes (read-only for callers):
        dataset        rap_core.dataset.Dataset
        fit            rap_core.fit.Fit, or None while only the rectifier has run (provisional)
        ranges         rap_core.ranges.Ranges
        rule           rap_core.rules.Rule — the current rule
        fitted_rule    the rule as the fit produced it (before any edit)
        previous_rule  the rule before the last edit/undo/redo
        statistic      name of the co-activation statistic ("cpmi" default)
        layout         current layout name ("features" | "lags")
        session_path   where edits autosave (None = not saved)
    """

    @classmethod
    def from_fit(cls, dataset, fit, *, statistic: str = "cpmi", layout: str = "features",
                 session_path: Path | None = None) -> Studio:
        """Open a fitted dataset; if `session_path` exists, its edits are replayed (refused with a
        RapError if its data fingerprint differs)."""
        raise NotImplementedError

    @classmethod
    def provisional(cls, dataset, ranges, *, statistic: str = "cpmi",
                    layout: str = "features") -> Studio:
        """Preview before the fit ends: every rectified feature votes, sign +1, weight 1."""
        raise NotImplementedError

    # -- edits ---------------------------------------------------------------------------------
    def apply(self, edit) -> Change:
        """Apply one Edit (weight, enable, sign, K, m); clears the redo stack; autosaves."""
        raise NotImplementedError

    def undo(self) -> Change | None:
        raise NotImplementedError

    def redo(self) -> Change | None:
        raise NotImplementedError

    @property
    def edits(self) -> tuple:
        """Applied edits, oldest first (the undo stack)."""
        raise NotImplementedError

    @property
    def can_undo(self) -> bool:
        raise NotImplementedError

    @property
    def can_redo(self) -> bool:
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------------
    def metrics(self, which: str = "current") -> RuleMetrics:
        """Metrics of the "fitted", "previous" or "current" rule on the dataset (fast: < 10 ms)."""
        raise NotImplementedError

    def j_curve(self) -> np.ndarray:
        """Youden's J versus k from the fit's logic polish (empty before the fit)."""
        raise NotImplementedError

    def rule_text(self) -> str:
        """The current rule as a sentence: "at least 2 of: V3_t2 in [0.41, 0.97], ..."."""
        raise NotImplementedError

    def bias_raw(self) -> np.ndarray:
        """The current prior before scaling, float32 (L, L); a live view, do not mutate."""
        raise NotImplementedError

    @property
    def scale(self) -> float:
        """max |B_raw| (0.0 when every weight is zero); bias = bias_raw / scale."""
        raise NotImplementedError

    def bias(self) -> np.ndarray:
        """The normalised prior (max |B| = 1) as exported, float32 (L, L)."""
        raise NotImplementedError

    def labels(self) -> tuple[str, ...]:
        """Position names for the current layout."""
        raise NotImplementedError

    def set_layout(self, layout: str) -> None:
        raise NotImplementedError

    # -- persistence ---------------------------------------------------------------------------
    def save_session(self, path: Path | None = None) -> Path:
        """Write the session (fingerprint + params + edits + redo) atomically."""
        raise NotImplementedError

    def export(self, path: Path, *, layout: str | None = None,
               alpha_init: float = 1.0) -> ExportResult:
        """Write the artifact via nanochat.rap_prior (torch imported here, not before)."""
        raise NotImplementedError
