"""Layouts: how the feature-level prior B_feat (P x P) maps onto sequence positions.

- "features": position p is feature p (dataset column order), L = P, labels = feature names.
- "lags": positions are the distinct lags present, ascending, labelled "lag 7";
  B_lag[t, u] = sum of B_feat[i, j] over features i with lag t and j with lag u (summing over
  the variables). Features whose name carries no lag have no position and are left out.

Design choice — one summation order, written once. The prior is edited one vote at a time and
must stay bitwise equal to a full rebuild, but float32 addition is not associative, so "the
same sum" is only the same number when it is added up in the same order. Every lag sum here is a
pairwise (binary-tree) sum over the features of a lag in dataset order, zero-padded to a common
power-of-two width: fold the second half onto the first until one term is left. The tree depends
only on that width, so the full rebuild and the one-row / one-column updates — which call the
functions below on different slices of the same arrays — produce each value with the identical
float32 additions. Folding is log2(width) vectorised additions (a left-to-right loop would be
`width` Python-level steps per edit, and np.add.accumulate along a leading axis is ~20x slower).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rap_core.errors import RapError
from rap_nanochat.artifact_spec import LAYOUTS


@dataclass(frozen=True, eq=False)
class Layout:
    """A layout over P features.

    members[t] lists the features at position t in dataset order, padded with the sentinel P
    (a zero row/column of the padded B_feat); position_of[i] is feature i's position (-1: none).
    """

    name: str
    features: tuple[str, ...]
    lags: tuple[int | None, ...]
    labels: tuple[str, ...]
    members: np.ndarray  # int64 (L, K); K = a power of two >= the most features at one position
    position_of: np.ndarray  # int64 (P,)

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def n_features(self) -> int:
        return len(self.features)


def make_layout(name: str, features: Sequence[str], lags: Sequence[int | None]) -> Layout:
    """The layout `name` for these features (dataset order) and their lags (None: no lag)."""
    features = tuple(str(f) for f in features)
    lags = tuple(None if lag is None else int(lag) for lag in lags)
    n = len(features)
    if len(lags) != n:
        raise RapError(f"got {len(lags)} lags for {n} features; give one lag (or None) per feature")
    if name == "features":
        members = np.arange(n, dtype=np.int64).reshape(n, 1)
        return Layout(name, features, lags, features, members, np.arange(n, dtype=np.int64))
    if name != "lags":
        raise RapError(f"unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}")
    distinct = sorted({lag for lag in lags if lag is not None})
    if not distinct:
        raise RapError("layout 'lags' needs feature names ending in a lag number (like V3_t7), "
                       "and none does; use the 'features' layout")
    rank = {lag: t for t, lag in enumerate(distinct)}
    position_of = np.array([-1 if lag is None else rank[lag] for lag in lags], dtype=np.int64)
    groups = [np.flatnonzero(position_of == t) for t in range(len(distinct))]
    width = 1 << (max(g.size for g in groups) - 1).bit_length()  # a power of two
    members = np.full((len(distinct), width), n, dtype=np.int64)
    for t, g in enumerate(groups):
        members[t, :g.size] = g
    labels = tuple(f"lag {lag}" for lag in distinct)
    return Layout(name, features, lags, labels, members, position_of)


def _tree_total(block: np.ndarray, axis: int) -> np.ndarray:
    """Pairwise sum along `axis` (length a power of two): the one reduction order we use."""
    block = np.moveaxis(block, axis, 0)
    width = block.shape[0]
    while width > 1:
        width //= 2
        block = block[:width] + block[width:2 * width]
    return block[0]


# Stage 1: R[i, u] = sum over j in lag u of B_feat[i, j]; `padded` is B_feat with a zero row and
# column appended (shape (P+1, P+1)), exactly symmetric, so R has a zero last row as well.

def partial_full(padded: np.ndarray, layout: Layout) -> np.ndarray:
    """R (P+1, L) float32."""
    return _tree_total(padded[:, layout.members], axis=2)


def partial_row(padded: np.ndarray, layout: Layout, i: int) -> np.ndarray:
    """R[i, :] (L,): what changes when row i of B_feat changes."""
    return _tree_total(padded[i, layout.members], axis=1)


def partial_column(padded: np.ndarray, layout: Layout, t: int) -> np.ndarray:
    """R[:, t] (P+1,): what changes when a column of lag t changes. Reads rows (B_feat is exactly
    symmetric, so row j is column j) because rows are contiguous."""
    return _tree_total(padded[layout.members[t], :], axis=0)


# Stage 2: B_lag[t, u] = sum over i in lag t of R[i, u]; `partial` is R (P+1, L), zero last row.

def total_full(partial: np.ndarray, layout: Layout) -> np.ndarray:
    """B_lag (L, L) float32."""
    return _tree_total(partial[layout.members], axis=1)


def total_row(partial: np.ndarray, layout: Layout, t: int) -> np.ndarray:
    """B_lag[t, :] (L,)."""
    return _tree_total(partial[layout.members[t]], axis=0)


def total_column(partial: np.ndarray, layout: Layout, u: int) -> np.ndarray:
    """B_lag[:, u] (L,)."""
    return _tree_total(partial[layout.members, u], axis=1)


def pad(b_feat: np.ndarray) -> np.ndarray:
    """B_feat with a zero row and column appended (the sentinel position of `members`)."""
    n = b_feat.shape[0]
    out = np.zeros((n + 1, n + 1), dtype=np.float32)
    out[:n, :n] = b_feat
    return out


def aggregate(b_feat: np.ndarray, layout: Layout) -> np.ndarray:
    """B_feat (P, P) float32 mapped onto the layout's positions: (L, L) float32."""
    if layout.name == "features":
        return np.array(b_feat, dtype=np.float32, copy=True)
    return total_full(partial_full(pad(b_feat), layout), layout)
