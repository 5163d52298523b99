"""How a rule classifies the dataset: Youden's J, ROC AUC, TPR and FPR, fast enough for every edit.

A rule's score on a row is its *active weight*: the sum of the effective weights of the votes
active there (rap_core.rules). It predicts positive iff score >= m - 1/2. The metrics must be
recomputed on every edit (n = 100,000 rows, up to 64 votes, < 10 ms on two cores), so:

- Activation is stored once, feature-major, as uint8 `inside[v, r]` = 1 when row r lies inside
  feature v's range. A vote with sign -1 is active exactly where inside is 0, so with
  c_v = sign_v * w_v the score is  const + sum_v c_v * inside[v]  (const = weight of the -1 votes).
  One feature's row is contiguous: summing votes touches k rows of n bytes, no gather.
- Votes with equal c_v are summed as small integers first (uint8 adds): a polished rule has one
  weight, so its score takes at most k + 1 values. When every weight is a multiple of one power
  of two (1, 0.5, 1.25 ...), the score is that quantum times a small integer, and one `bincount`
  over (integer score, label) is a per-class histogram; AUC, TPR and FPR all come from it
  without sorting the rows. Repeated weights that are not dyadic (0.7) use a mixed-radix key of
  the group counts the same way when the key space is small.
- Otherwise (many distinct weights, e.g. an L1 rule) the score is built in float64 — eight votes
  at a time through a 256-entry table of their partial sums — and each class is sorted on its
  own (numpy's SIMD sort: ~1 ms for 100k); ties are counted by searchsorted.
- Float64 sums of a few float32 weights are exact, so ties in the score are real ties, and the AUC
  equals the Mann-Whitney statistic cutlass.roc_auc_score computes (tests pin both to 1e-9; J, TPR
  and FPR to cutlass.calculate_youden_j).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rap_core.errors import RapError

# Largest number of (count-tuple) keys the histogram path accepts; beyond it, sort the scores
# (building and reducing a table of more keys costs more than sorting 100k scores).
_MAX_KEYS = 4096
# Largest number of distinct integer scores the quantised path histograms (2 bins each).
_MAX_LEVELS = 1 << 16
# _BITS[code, j] = bit j of code: the table of a byte of votes is _BITS @ their coefficients.
_BITS = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(np.float64)


@dataclass(frozen=True)
class RuleMetrics:
    """How a rule classifies the dataset's rows (threshold: active weight >= m - 1/2)."""

    j: float  # Youden's J = TPR - FPR
    auc: float  # ROC AUC of the active-weight score (NaN when a class is empty)
    tpr: float
    fpr: float
    k: int  # number of enabled votes (on, weight > 0)


class MetricsEngine:
    """Evaluate rules on one dataset's indicators; built once, then O(k n) per evaluation."""

    def __init__(self, indicators: np.ndarray, y: np.ndarray) -> None:
        ind = np.asarray(indicators)
        labels = np.asarray(y)
        if ind.ndim != 2 or labels.shape != (ind.shape[0],):
            raise RapError(f"indicators (rows, features) and labels (rows,) disagree: "
                           f"{ind.shape} vs {labels.shape}")
        # Rows are stored positives first, then negatives (every metric is order-free), so each
        # class of a score is a contiguous slice to sort in place: no gather per evaluation.
        positive = labels == 1
        order = np.concatenate([np.flatnonzero(positive), np.flatnonzero(~positive)])
        self._order = order
        # Feature-major so that one vote's activation is one contiguous row of n bytes.
        self._inside = np.ascontiguousarray((ind[order] == 1).T).view(np.uint8)
        self._y = positive[order].astype(np.intp)
        self.n_pos = int(positive.sum())
        self.n_neg = int(labels.shape[0] - self.n_pos)

    @property
    def n_rows(self) -> int:
        return int(self._y.shape[0])

    @property
    def n_features(self) -> int:
        return int(self._inside.shape[0])

    def inside(self, i: int) -> np.ndarray:
        """uint8 (n,): 1 where row r (dataset order) lies inside feature i's range."""
        out = np.empty(self.n_rows, dtype=np.uint8)
        out[self._order] = self._inside[i]
        return out

    def score(self, rule) -> np.ndarray:
        """float64 (n,): the active weight of every row, dataset order (what AUC ranks)."""
        const, groups = self._groups(rule)
        out = np.empty(self.n_rows, dtype=np.float64)
        out[self._order] = self._float_score(const, groups)
        return out

    def evaluate(self, rule) -> RuleMetrics:
        """J, AUC, TPR, FPR and k of `rule` on these rows."""
        if rule.sign.shape[0] != self.n_features:
            raise RapError(f"the rule has {rule.sign.shape[0]} votes but the data has "
                           f"{self.n_features} features")
        const, groups = self._groups(rule)
        k = sum(len(members) for _, members in groups)
        threshold = float(rule.m) - 0.5
        quantum = _quantum([c for c, _ in groups], [len(m) for _, m in groups])
        if quantum is not None:
            values, pos, neg = self._levels(const, groups, quantum)
            return _from_histogram(values, pos, neg, threshold, k)
        radix = [len(members) + 1 for _, members in groups]
        if int(np.prod(radix, dtype=np.float64)) <= _MAX_KEYS:
            values, pos, neg = self._histogram(const, groups, radix)
            return _from_histogram(values, pos, neg, threshold, k)
        return self._from_scores(self._float_score(const, groups), threshold, k)

    # -- internals -----------------------------------------------------------------------------
    @staticmethod
    def _groups(rule) -> tuple[float, list[tuple[float, np.ndarray]]]:
        """(const, [(c, vote indices)]) with score = const + sum_c c * (#inside among indices)."""
        w = np.asarray(rule.effective_weights(), dtype=np.float64)
        enabled = np.flatnonzero(w > 0)
        c = w[enabled] * rule.sign[enabled].astype(np.float64)
        const = float(w[enabled][c < 0].sum()) if enabled.size else 0.0
        if not enabled.size:
            return 0.0, []
        values, inverse = np.unique(c, return_inverse=True)
        return const, [(float(v), enabled[inverse == g]) for g, v in enumerate(values)]

    def _count(self, members: np.ndarray) -> np.ndarray:
        dtype = np.uint8 if members.size < 255 else np.uint16
        if members.size == 1:
            return self._inside[members[0]]
        acc = self._inside[members[0]].astype(dtype)
        for v in members[1:]:
            np.add(acc, self._inside[v], out=acc)
        return acc

    def _float_score(self, const: float, groups) -> np.ndarray:
        score = np.full(self.n_rows, const, dtype=np.float64)
        tmp = np.empty(self.n_rows, dtype=np.float64)
        singles = [(c, members[0]) for c, members in groups if members.size == 1]
        for c, members in groups:
            if members.size > 1:
                np.multiply(self._count(members), c, out=tmp)
                score += tmp
        # Eight single votes at a time: their inside bits form a byte, and a 256-entry table of
        # exact partial sums turns 16 float64 passes into 16 byte adds and one lookup (2x faster).
        code = np.empty(self.n_rows, dtype=np.uint8)
        for start in range(0, len(singles), 8):
            batch = singles[start:start + 8]
            np.copyto(code, self._inside[batch[-1][1]])
            for _, v in batch[-2::-1]:
                np.add(code, code, out=code)
                np.add(code, self._inside[v], out=code)
            table = _BITS[:, :len(batch)] @ np.array([c for c, _ in batch], dtype=np.float64)
            np.take(table, code, out=tmp)
            score += tmp
        return score

    def _levels(self, const: float, groups, quantum: float):
        """Histogram of the score when every weight is a multiple of `quantum` (a power of 2).

        The score is then const + quantum * I with I a small integer: integer adds, one bincount.
        """
        ints = [int(round(c / quantum)) for c, _ in groups]
        low = sum(i * len(m) for i, (_, m) in zip(ints, groups, strict=True) if i < 0)
        high = sum(i * len(m) for i, (_, m) in zip(ints, groups, strict=True) if i > 0)
        level = np.full(self.n_rows, -low, dtype=np.int32)
        for i, (_, members) in zip(ints, groups, strict=True):
            count = self._count(members).astype(np.int32)
            if i != 1:
                count *= i
            level += count
        level *= 2
        level += self._y
        hist = np.bincount(level, minlength=2 * (high - low + 1)).reshape(-1, 2)
        values = const + quantum * (np.arange(high - low + 1, dtype=np.float64) + low)
        used = hist.sum(axis=1) > 0
        return values[used], hist[used, 1].astype(np.float64), hist[used, 0].astype(np.float64)

    def _histogram(self, const: float, groups, radix: list[int]):
        """Distinct score values (ascending) with their positive and negative row counts."""
        key = self._y.copy()  # key = 2 * mixed_radix(counts) + label
        stride = 2
        for (_, members), base in zip(groups, radix, strict=True):
            key += self._count(members).astype(np.intp) * stride
            stride *= base
        hist = np.bincount(key, minlength=stride).reshape(-1, 2)
        # The score of every key, in the same float64 order as _float_score.
        n_keys = stride // 2
        codes = np.arange(n_keys)
        key_score = np.full(n_keys, const, dtype=np.float64)
        for (c, _), base in zip(groups, radix, strict=True):
            key_score += (codes % base) * c
            codes //= base
        used = hist.sum(axis=1) > 0
        values, inverse = np.unique(key_score[used], return_inverse=True)
        pos = np.bincount(inverse, weights=hist[used, 1], minlength=values.size)
        neg = np.bincount(inverse, weights=hist[used, 0], minlength=values.size)
        return values, pos, neg

    def _from_scores(self, score: np.ndarray, threshold: float, k: int) -> RuleMetrics:
        pos, neg = score[:self.n_pos], score[self.n_pos:]  # views of a fresh array
        pos.sort()
        neg.sort()
        tp = pos.size - int(np.searchsorted(pos, threshold, side="left"))
        fp = neg.size - int(np.searchsorted(neg, threshold, side="left"))
        if pos.size and neg.size:
            below = np.searchsorted(neg, pos, side="left")
            # Ties: only positives whose score some negative shares need the right-hand search.
            tied = neg[np.minimum(below, neg.size - 1)] == pos
            ties = (np.searchsorted(neg, pos[tied], side="right") - below[tied]).sum()
            auc = (below.sum(dtype=np.float64) + 0.5 * float(ties)) / (pos.size * neg.size)
        else:
            auc = float("nan")
        return _metrics(tp, fp, pos.size, neg.size, auc, k)


def _quantum(coefs: list[float], sizes: list[int]) -> float | None:
    """A power of two every coefficient is an integer multiple of, if the levels stay few."""
    if not coefs:
        return 1.0
    c = np.abs(np.asarray(coefs, dtype=np.float64))
    span = float(np.dot(c, sizes))
    for shift in range(0, 17):  # multiplying by 2**shift is exact
        scaled = c * float(2 ** shift)
        if span * 2 ** shift >= _MAX_LEVELS:
            return None
        if np.all(scaled == np.round(scaled)):
            return 2.0 ** -shift
    return None


def _from_histogram(values, pos, neg, threshold: float, k: int) -> RuleMetrics:
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    predicted = values >= threshold
    tp, fp = float(pos[predicted].sum()), float(neg[predicted].sum())
    if n_pos and n_neg:
        neg_below = np.cumsum(neg) - neg  # negatives with a strictly lower score
        auc = float(np.dot(pos, neg_below + 0.5 * neg)) / (n_pos * n_neg)
    else:
        auc = float("nan")
    return _metrics(tp, fp, n_pos, n_neg, auc, k)


def _metrics(tp, fp, n_pos, n_neg, auc, k: int) -> RuleMetrics:
    # The same arithmetic as cutlass.calculate_youden_j: sensitivity + specificity - 1.
    tpr = tp / n_pos if n_pos > 0 else 0.0
    spec = (n_neg - fp) / n_neg if n_neg > 0 else 0.0
    fpr = fp / n_neg if n_neg > 0 else 0.0
    return RuleMetrics(j=float(tpr + spec - 1.0), auc=float(auc), tpr=float(tpr),
                       fpr=float(fpr), k=int(k))
