"""The co-activation statistic S: how pairs of votes co-activate among positives versus negatives.

Definitions (docs/PRIOR.md states them in full; this module implements exactly those):

- Vote v is *active* on a row when the row's indicator x_rv (+1 inside the critical range, -1
  outside) equals the vote's sign s_v.
- Per class c (positives, negatives; n_c rows), N^c_ij counts the rows where votes i and j are
  both active, and N^c_i = N^c_ii.

Design choices:
- Signs are factored out of the expensive part. With x in {+1, -1}, "active" is (1 + s x)/2, so
  4 N_ij = n_c + s_i m_i + s_j m_j + s_i s_j G_ij with the Gram matrix G = X^T X and the column
  sums m = X^T 1 of each class. G and m do not depend on the signs: `CoactivationCounts` computes
  them once (one n x P x P float32 product for both classes together), and every later sign flip
  recomputes one row of S in O(P).
- The product is float32 because the indicators are +-1: every partial sum is an integer of
  magnitude <= the rows in the chunk, and float32 holds every integer up to 2^24 exactly. Rows go
  through BLAS in chunks far below 2^24 and the chunks are summed in float64 (exact up to 2^53),
  so the counts are exact integers for any row count this machine can hold.
- Every value S_ij is a pure function of (N_ij, a per-vote term for i, the same for j), written
  symmetrically (a_i + a_j, a_i * a_j), so S is exactly symmetric and a row computed alone is
  bitwise equal to the same row of the full matrix. Logarithms come from lookup tables built once
  (log(k + smoothing) for every possible count k), so no result depends on whether numpy took a SIMD
  or a scalar path for a log.
- The diagonal is 0: a vote's co-activation with itself is just its activation rate, which carries
  no pairwise information (and the rule's weights already say how much each vote matters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rap_core.errors import RapError

STATISTICS = ("cpmi", "pmi", "phi")
DEFAULT_STATISTIC = "cpmi"
DEFAULT_SMOOTHING = 1.0  # the additive count in the logarithms (GLOSSARY: smoothing)

# Bytes of float32 indicators handed to BLAS at a time: big enough to run at full speed, small
# enough that 100,000 x 2,048 indicators never exist as one 800 MB float32 copy (measured:
# 16,384-row chunks of 1,024 features run as fast as one product over all rows).
_CHUNK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class CoactivationCounts:
    """The sign-free sufficient statistics of the co-activation counts, per class.

    gram_pos[i, j] = sum over positive rows of x_i * x_j (int64; gram_neg likewise), and
    sum_pos[i] = sum over positive rows of x_i (int64). From these and the signs, every count
    N^c_ij follows exactly (`pair_counts`).
    """

    n_pos: int
    n_neg: int
    gram_pos: np.ndarray
    gram_neg: np.ndarray
    sum_pos: np.ndarray
    sum_neg: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.sum_pos.shape[0])

    @classmethod
    def from_indicators(cls, indicators: np.ndarray, y: np.ndarray) -> CoactivationCounts:
        """Count from indicators (n, P) of +-1 and labels y (n,) in {0, 1}."""
        ind = np.asarray(indicators)
        labels = np.asarray(y)
        if ind.ndim != 2:
            raise RapError(f"indicators must be 2-D (rows, features), got shape {ind.shape}")
        if labels.shape != (ind.shape[0],):
            raise RapError(f"labels must have one value per row ({ind.shape[0]}), "
                           f"got shape {labels.shape}")
        positive = labels == 1
        if not np.all(positive | (labels == 0)):
            raise RapError("labels must be 0 or 1")
        # Values in [-1, 1] here, and no zero (checked on the Gram diagonal below): exactly +-1.
        if ind.size and (ind.min() < -1 or ind.max() > 1):
            raise RapError(_NOT_PM1)
        pos_rows, neg_rows = np.flatnonzero(positive), np.flatnonzero(~positive)
        if ind.shape[0] * ind.shape[1] ** 2 >= _PARALLEL_WORK:
            # A big table (5,000 x 1,000: 100 ms on one core, a third of opening it): the two
            # classes' products run on two cores at once (BLAS releases the GIL; the app pins
            # BLAS to one thread per call, rap_core.threads).
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(1, thread_name_prefix="rap-gram") as pool:
                positives = pool.submit(_class_gram, ind, pos_rows)
                gram_neg, sum_neg, n_neg = _class_gram(ind, neg_rows)
                gram_pos, sum_pos, n_pos = positives.result()
        else:
            gram_pos, sum_pos, n_pos = _class_gram(ind, pos_rows)
            gram_neg, sum_neg, n_neg = _class_gram(ind, neg_rows)
        return cls(n_pos, n_neg, gram_pos, gram_neg, sum_pos, sum_neg)

    def pair_counts(self, signs: np.ndarray, positive: bool = True) -> np.ndarray:
        """N^c (P, P) int64: rows of the class where votes i and j are both active."""
        n_c, gram, sums = self.class_arrays(positive)
        signed = check_signs(signs, self.n_features).astype(np.int64)
        sm = signed * sums
        return _pairs(n_c, sm[:, None], sm[None, :], signed[:, None] * gram * signed[None, :])

    def class_arrays(self, positive: bool) -> tuple[int, np.ndarray, np.ndarray]:
        """(n_c, gram, sums) of the positives (True) or the negatives (False)."""
        if positive:
            return self.n_pos, self.gram_pos, self.sum_pos
        return self.n_neg, self.gram_neg, self.sum_neg


_NOT_PM1 = "indicators must be +1 (inside the critical range) or -1 (outside)"


_PARALLEL_WORK = 200 * 400 * 400  # rows x features^2 from which a second thread pays (~5 ms)


def _class_gram(ind: np.ndarray, rows: np.ndarray):
    """Gram matrix and column sums of the rows `rows` of the +-1 indicators, exact, int64."""
    n_features = ind.shape[1]
    gram = np.zeros((n_features, n_features), dtype=np.float64)
    sums = np.zeros(n_features, dtype=np.float64)
    chunk = max(256, _CHUNK_BYTES // (4 * max(n_features, 1)))  # always far below 2^24 rows
    for start in range(0, rows.size, chunk):
        xf = ind[rows[start:start + chunk]].astype(np.float32)
        # xf.T @ xf on the very same buffer lets numpy call BLAS syrk (half the flops of gemm).
        np.add(gram, xf.T @ xf, out=gram)
        np.add(sums, np.ones(xf.shape[0], dtype=np.float32) @ xf, out=sums)
    if not np.all(np.diagonal(gram) == rows.size):  # sum of x^2 < rows: some indicator is 0
        raise RapError(_NOT_PM1)
    return gram.astype(np.int64), sums.astype(np.int64), int(rows.size)


def check_signs(signs, n_features: int) -> np.ndarray:
    """Signs as int8 (P,) of +-1, or a RapError naming what is wrong."""
    s = np.asarray(signs)
    if s.shape != (n_features,):
        raise RapError(f"signs must have one entry per feature ({n_features}), got shape {s.shape}")
    if not np.all((s == 1) | (s == -1)):
        raise RapError("signs must be +1 or -1")
    return s.astype(np.int8)


def _pairs(n_c: int, sm_i, sm_j, sgs) -> np.ndarray:
    """N_ij from 4 N_ij = n_c + s_i m_i + s_j m_j + s_i s_j G_ij (exact: integer arithmetic)."""
    return (n_c + sm_i + sm_j + sgs) >> 2


class _ClassTables:
    """Per-class constants of the smoothed 2x2 tables: log(k + a), log(k + 2a), log Z, with a
    the smoothing."""

    def __init__(self, n_c: int, smoothing: float) -> None:
        k = np.arange(n_c + 1, dtype=np.float64)
        self.n_c = n_c
        self.smoothing = smoothing
        self.z = n_c + 4.0 * smoothing
        self.log_pair = np.log(k + smoothing)
        self.log_single = np.log(k + 2.0 * smoothing)
        self.log_z = float(np.log(np.float64(self.z)))


class Statistic:
    """S for one set of counts, one statistic name and one smoothing.

    `matrix(signs)` is the full (P, P) float32 S; `row(signs, i)` is row i of that same matrix,
    bitwise, in O(P) — what a sign flip needs.
    """

    def __init__(self, counts: CoactivationCounts, name: str = DEFAULT_STATISTIC,
                 smoothing: float = DEFAULT_SMOOTHING) -> None:
        if name not in STATISTICS:
            raise RapError(f"unknown statistic {name!r}; choose one of {', '.join(STATISTICS)}")
        smoothing = float(smoothing)
        if not (np.isfinite(smoothing) and smoothing > 0):
            raise RapError(f"the smoothing must be a positive number, got {smoothing}")
        self.counts = counts
        self.name = name
        self.smoothing = smoothing
        self._pos = _ClassTables(counts.n_pos, smoothing)
        self._neg = _ClassTables(counts.n_neg, smoothing) if name != "pmi" else None

    @property
    def n_features(self) -> int:
        return self.counts.n_features

    def matrix(self, signs: np.ndarray) -> np.ndarray:
        s = check_signs(signs, self.n_features).astype(np.int64)
        value = self._class_term(True, s, None)
        if self._neg is not None:
            value = value - self._class_term(False, s, None)
        out = value.astype(np.float32)
        np.fill_diagonal(out, 0.0)
        return out

    def row(self, signs: np.ndarray, i: int) -> np.ndarray:
        s = check_signs(signs, self.n_features).astype(np.int64)
        value = self._class_term(True, s, i)
        if self._neg is not None:
            value = value - self._class_term(False, s, i)
        out = value.astype(np.float32)
        out[i] = 0.0
        return out

    def _class_term(self, positive: bool, s: np.ndarray, i: int | None) -> np.ndarray:
        """PMI (cpmi, pmi) or phi of one class, for the full matrix (i None) or for row i."""
        n_c, gram, sums = self.counts.class_arrays(positive)
        tables = self._pos if positive else self._neg
        sm = s * sums
        single = (n_c + sm) >> 1  # N_i = N_ii = (n_c + s_i m_i) / 2
        if i is None:
            pairs = _pairs(n_c, sm[:, None], sm[None, :], s[:, None] * gram * s[None, :])
            per_i, per_j = single[:, None], single[None, :]
        else:
            pairs = _pairs(n_c, sm[i], sm, s[i] * s * gram[i])
            per_i, per_j = single[i], single
        if self.name == "phi":
            return _phi(tables, pairs, per_i, per_j)
        log_single = tables.log_single
        # PMI_ij = log(N_ij + a) + log Z - (log(N_i + 2a) + log(N_j + 2a)): symmetric by form.
        return (tables.log_pair[pairs] + tables.log_z) - (log_single[per_i] + log_single[per_j])


def _phi(tables: _ClassTables, pairs, per_i, per_j) -> np.ndarray:
    """Phi correlation of the smoothed 2x2 table: (Z (N_ij + a) - r_i r_j) / (q_i q_j), with
    r = N_i + 2a and q = sqrt(r (Z - r)), a the smoothing; a > 0 keeps every q positive."""
    a, z = tables.smoothing, tables.z
    r_i = per_i + 2.0 * a
    r_j = per_j + 2.0 * a
    q_i = np.sqrt(r_i * (z - r_i))
    q_j = np.sqrt(r_j * (z - r_j))
    return (z * (pairs + a) - r_i * r_j) / (q_i * q_j)


def coactivation_statistic(counts: CoactivationCounts, signs: np.ndarray,
                           name: str = DEFAULT_STATISTIC,
                           smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """The full S (P, P) float32 for these signs: symmetric, zero diagonal."""
    return Statistic(counts, name, smoothing).matrix(signs)
