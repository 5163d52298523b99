"""The prior B: diag(w) S diag(w) mapped onto positions by a layout, kept exact under edits.

B_feat[i, j] = S[i, j] * (w_i * w_j) in float32, with w the effective vote weights (0 for a vote
that is off) and S the co-activation statistic (rap_core.statistic). A layout (rap_core.layout)
maps B_feat onto positions; the exported bias is B / max|B| (all zero when max|B| = 0).

Design choices:
- `build_prior` is the definition; `PriorBuilder` is the same numbers kept up to date one vote at a
  time, and the two are equal bitwise (np.array_equal), in both layouts, after any sequence of
  edits. That holds by construction: each value is produced by the same float32 operations in the
  same order whichever path computes it — w_i * w_j is commutative, so B_feat is exactly
  symmetric and row i can be written into column i; lag sums use the running-sum order of
  rap_core.layout for both the full rebuild and the one-row/one-column update.
- An edit to vote i touches row and column i of S (sign flip only) and of B_feat: O(P). In the
  lags layout it then touches one row and one column of the per-lag partial sums and of B_lag.
- max|B| (the scale) must not cost a P x P scan per edit. A max-tree per row (node-major, so a
  column rewrite is log2(L) contiguous vector maxima and a row rewrite is O(L)) keeps the maximum
  of every row; the scale is the max over L row maxima. Maxima are exact, so the scale equals
  np.abs(B).max() exactly.
- Everything P x P is float32 (S, B_feat); the edit path allocates only vectors.
"""

from __future__ import annotations

import numpy as np

from rap_core import layout as lay
from rap_core.change import Change
from rap_core.errors import RapError
from rap_core.layout import Layout, make_layout
from rap_core.statistic import (
    DEFAULT_SMOOTHING,
    DEFAULT_STATISTIC,
    CoactivationCounts,
    Statistic,
    check_signs,
)


def _weights(weights, n_features: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_features,):
        raise RapError(f"weights must have one entry per feature ({n_features}), got {w.shape}")
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise RapError("vote weights must be finite and >= 0 (0 turns a vote off)")
    return w.astype(np.float32)


def feature_prior(s: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """B_feat = S * (w_i * w_j), float32 (P, P), exactly symmetric."""
    w = np.asarray(weights, dtype=np.float32)
    return s * (w[:, None] * w[None, :])


def build_prior(counts: CoactivationCounts, signs, weights, layout: Layout,
                statistic: str = DEFAULT_STATISTIC, *,
                smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """The full rebuild: B_raw (L, L) float32 for these votes, before normalisation."""
    s = Statistic(counts, statistic, smoothing).matrix(signs)
    return lay.aggregate(feature_prior(s, _weights(weights, counts.n_features)), layout)


def normalise(b_raw: np.ndarray) -> tuple[np.ndarray, float]:
    """(B / max|B|, max|B|); all zero with scale 0.0 when B is zero. -0.0 becomes +0.0."""
    scale = float(np.abs(b_raw).max()) if b_raw.size else 0.0
    return _normalised(b_raw, scale), scale


def _normalised(b_raw: np.ndarray, scale: float) -> np.ndarray:
    if scale == 0.0:
        return np.zeros(b_raw.shape, dtype=np.float32)
    out = np.divide(b_raw, np.float32(scale), dtype=np.float32)
    out += np.float32(0.0)  # -0.0 + 0.0 = +0.0: no negative zeros in an exported bias
    return out


class _MaxTree:
    """max|M| of a square float32 matrix under row and column rewrites.

    t[leaves + c, r] = |M[r, c]|; t[k, r] = max(t[2k, r], t[2k+1, r]); t[1, r] = max of row r.
    """

    def __init__(self, m: np.ndarray) -> None:
        n = m.shape[0]
        leaves = 1 << max(0, (n - 1).bit_length())
        self._n, self._leaves = n, leaves
        self._t = np.zeros((2 * leaves, n), dtype=np.float32)
        self._t[leaves:leaves + n] = np.abs(m).T
        size = leaves
        while size > 1:
            half = size // 2
            np.maximum(self._t[size:2 * size:2], self._t[size + 1:2 * size:2],
                       out=self._t[half:size])
            size = half

    def max(self) -> float:
        return float(self._t[1].max()) if self._n else 0.0

    def set_column(self, c: int, values: np.ndarray) -> None:
        t = self._t
        k = self._leaves + c
        np.abs(values, out=t[k])
        k //= 2
        while k >= 1:
            np.maximum(t[2 * k], t[2 * k + 1], out=t[k])
            k //= 2

    def set_row(self, r: int, values: np.ndarray) -> None:
        t = self._t
        t[self._leaves:self._leaves + self._n, r] = np.abs(values)
        size = self._leaves
        while size > 1:
            half = size // 2
            t[half:size, r] = np.maximum(t[size:2 * size:2, r], t[size + 1:2 * size:2, r])
            size = half


class PriorBuilder:
    """The current prior for one set of counts, kept exact under one-vote edits.

    Read `bias_raw()` (live view, float32 (L, L)), `scale`, `bias()` (normalised copy), `labels`.
    Edit with `set_weight`, `set_sign`, `set_layout`; each returns the `Change` it made.
    """

    def __init__(self, counts: CoactivationCounts, signs, weights, layout: Layout,
                 statistic: str = DEFAULT_STATISTIC, *,
                 smoothing: float = DEFAULT_SMOOTHING) -> None:
        p = counts.n_features
        if layout.n_features != p:
            raise RapError(f"layout has {layout.n_features} features but the counts have {p}")
        self.counts = counts
        self._stat = Statistic(counts, statistic, smoothing)
        self._signs = check_signs(signs, p).copy()
        self._w = _weights(weights, p)
        self._s = self._stat.matrix(self._signs)
        self._padded = lay.pad(feature_prior(self._s, self._w))
        self._use_layout(layout)

    # -- reading -------------------------------------------------------------------------------
    @property
    def statistic(self) -> str:
        return self._stat.name

    @property
    def smoothing(self) -> float:
        return self._stat.smoothing

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def labels(self) -> tuple[str, ...]:
        return self._layout.labels

    @property
    def n_features(self) -> int:
        return self.counts.n_features

    @property
    def signs(self) -> np.ndarray:
        return self._signs.copy()

    @property
    def weights(self) -> np.ndarray:
        return self._w.copy()

    @property
    def scale(self) -> float:
        """max|B_raw| (0.0 when every weight is zero)."""
        return self._tree.max()

    def statistic_matrix(self) -> np.ndarray:
        """S (P, P) float32 for the current signs (the pair inspector reads it); a live view, do
        not mutate."""
        return self._s

    def feature_prior(self) -> np.ndarray:
        """B_feat (P, P) float32; a live view, do not mutate."""
        p = self.n_features
        return self._padded[:p, :p]

    def bias_raw(self) -> np.ndarray:
        """B (L, L) float32 in the current layout before scaling; a live view, do not mutate."""
        return self._raw

    def bias(self) -> np.ndarray:
        """B / max|B| as exported (float32 (L, L), a new array; zeros when the scale is 0)."""
        return _normalised(self._raw, self.scale)

    # -- edits ---------------------------------------------------------------------------------
    def set_weight(self, i: int, weight: float) -> Change:
        """Set vote i's effective weight (0 = off): rewrites row and column i of B_feat."""
        i = self._index(i)
        self._w[i] = _weights([weight], 1)[0]
        return self._rewrite_feature(i)

    def set_sign(self, i: int, sign: int) -> Change:
        """Set vote i's sign (+1 / -1): rewrites row and column i of S, then of B_feat."""
        i = self._index(i)
        if sign not in (1, -1):
            raise RapError(f"a vote's sign must be +1 or -1, got {sign!r}")
        self._signs[i] = sign
        row = self._stat.row(self._signs, i)
        self._s[i, :] = row
        self._s[:, i] = row
        return self._rewrite_feature(i)

    def set_layout(self, layout: str | Layout) -> Change:
        """Show B in another layout (every position is new: a `relayout` Change)."""
        if isinstance(layout, str):
            if layout == self._layout.name:
                return Change()
            layout = make_layout(layout, self._layout.features, self._layout.lags)
        if layout.n_features != self.n_features:
            raise RapError(f"layout has {layout.n_features} features but the prior has "
                           f"{self.n_features}")
        self._use_layout(layout)
        return Change.new_layout(layout.size)

    # -- internals -----------------------------------------------------------------------------
    def _index(self, i: int) -> int:
        i = int(i)
        if not 0 <= i < self.n_features:
            raise RapError(f"vote index {i} is out of range 0..{self.n_features - 1}")
        return i

    def _use_layout(self, layout: Layout) -> None:
        self._layout = layout
        if layout.name == "features":
            self._partial = None
            self._raw = self.feature_prior()
        else:
            self._partial = lay.partial_full(self._padded, layout)
            self._raw = lay.total_full(self._partial, layout)
        self._tree = _MaxTree(self._raw)

    def _rewrite_feature(self, i: int) -> Change:
        before = self.scale
        w = self._w
        row = self._s[i] * (w[i] * w)  # the same float32 products as feature_prior()
        p = self.n_features
        self._padded[i, :p] = row
        self._padded[:p, i] = row
        layout = self._layout
        if layout.name == "features":
            self._tree.set_row(i, row)
            self._tree.set_column(i, row)  # symmetric: column i is row i
            return Change(votes=(i,), positions=(i,), rescaled=self.scale != before)
        t = int(layout.position_of[i])
        if t < 0:  # a feature without a lag has no position: B_lag is unchanged
            return Change(votes=(i,))
        self._partial[i, :] = lay.partial_row(self._padded, layout, i)
        self._partial[:, t] = lay.partial_column(self._padded, layout, t)
        self._raw[t, :] = lay.total_row(self._partial, layout, t)
        self._raw[:, t] = lay.total_column(self._partial, layout, t)
        self._tree.set_row(t, self._raw[t, :])
        self._tree.set_column(t, self._raw[:, t])
        return Change(votes=(i,), positions=(t,), rescaled=self.scale != before)
