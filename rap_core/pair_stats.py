"""Why one entry of the prior is what it is: the counts and terms behind B for a pair of votes.

The Prior tab's pair inspector shows, for the pair under the cursor, the two votes, their weights,
how often both are active among positives and among negatives, the per-class terms, S and B. A
user who sees two nearly redundant features get a strongly negative entry can then read that they
fire together in both classes, more so among negatives, which is what the contrastive statistic
rewards with a negative value (docs/PRIOR.md).

Design choices:
- Pure and O(1) per pair: the counts follow from the sign-free sufficient statistics already held
  by `CoactivationCounts` (4 N_ij = n + s_i m_i + s_j m_j + s_i s_j G_ij), so no indicator matrix
  is read and no P x P array is built when the cursor moves.
- The per-class terms are recomputed here in float64 from the same formulas as
  `rap_core.statistic`; `s` is read from the prior itself, so the number shown is the number
  exported, and a test checks that pos_term - neg_term equals it.
- A cursor on a block (zoomed out) or on a lag position stands for many feature pairs:
  `strongest_pair` names the one with the largest |B_feat| there, which is the one worth explaining.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ClassCounts", "PairStats", "features_at", "pair_stats", "strongest_pair"]


@dataclass(frozen=True)
class ClassCounts:
    """One class's 2 x 2 table for a pair of votes: rows, rows where each / both are active."""

    n: int
    both: int
    first: int
    second: int
    term: float  # the statistic's term for this class (PMI for cpmi/pmi, phi for phi)

    @property
    def both_rate(self) -> float:
        return self.both / self.n if self.n else math.nan


@dataclass(frozen=True)
class PairStats:
    """Everything behind B[i, j] for features i and j (dataset order)."""

    i: int
    j: int
    feature_i: str
    feature_j: str
    sign_i: int  # +1 the vote is active inside its critical range, -1 outside
    sign_j: int
    weight_i: float  # effective weight (0: the vote is off)
    weight_j: float
    positives: ClassCounts
    negatives: ClassCounts
    statistic: str
    s: float  # S[i, j] as the prior holds it
    b_raw: float  # S[i, j] * w_i * w_j
    b: float  # b_raw / max|B| (the exported value; 0 when every weight is 0)

    @property
    def diagonal(self) -> bool:
        return self.i == self.j


def _class_counts(counts, positive: bool, i: int, j: int, si: int, sj: int, name: str,
                  smoothing: float) -> ClassCounts:
    n, gram, sums = counts.class_arrays(positive)
    mi, mj = si * int(sums[i]), sj * int(sums[j])
    both = (n + mi + mj + si * sj * int(gram[i, j])) >> 2
    first, second = (n + mi) >> 1, (n + mj) >> 1
    z = n + 4.0 * smoothing
    ri, rj = first + 2.0 * smoothing, second + 2.0 * smoothing
    if name == "phi":
        term = (z * (both + smoothing) - ri * rj) / math.sqrt(ri * (z - ri) * rj * (z - rj))
    else:
        term = math.log(both + smoothing) + math.log(z) - math.log(ri) - math.log(rj)
    return ClassCounts(int(n), int(both), int(first), int(second), float(term))


def pair_stats(prior, i: int, j: int) -> PairStats:
    """The counts, terms, S and B of features i and j in `prior` (a rap_core.prior.PriorBuilder)."""
    i, j = int(i), int(j)
    counts = prior.counts
    signs = prior.signs
    weights = prior.weights
    si, sj = int(signs[i]), int(signs[j])
    name, smoothing = prior.statistic, prior.smoothing
    pos = _class_counts(counts, True, i, j, si, sj, name, smoothing)
    neg = _class_counts(counts, False, i, j, si, sj, name, smoothing)
    s = float(prior.statistic_matrix()[i, j])
    b_raw = float(prior.feature_prior()[i, j])
    scale = prior.scale
    features = prior.layout.features
    return PairStats(i, j, features[i], features[j], si, sj, float(weights[i]), float(weights[j]),
                     pos, neg, name, s, b_raw, b_raw / scale if scale > 0 else 0.0)


def features_at(prior, positions: range) -> np.ndarray:
    """The features (dataset order) whose layout position lies in `positions`."""
    where = prior.layout.position_of
    return np.flatnonzero((where >= positions.start) & (where < positions.stop))


def strongest_pair(prior, rows: range, cols: range) -> tuple[int, int, int] | None:
    """(i, j, n_pairs): the feature pair with the largest |B_feat| among those mapped to these
    positions, and how many feature pairs the positions hold; None when none is mapped."""
    fi, fj = features_at(prior, rows), features_at(prior, cols)
    if fi.size == 0 or fj.size == 0:
        return None
    block = np.abs(prior.feature_prior()[np.ix_(fi, fj)]).astype(np.float64)
    # A vote with itself is 0 by definition: explain a real pair when every entry is 0.
    block[fi[:, None] == fj[None, :]] = -1.0
    r, c = np.unravel_index(int(np.argmax(block)), block.shape)
    return int(fi[r]), int(fj[c]), int(fi.size * fj.size)
