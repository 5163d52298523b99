"""The pair inspector's numbers: counts equal a brute-force count over the indicators, the class
terms give S exactly as the prior holds it, and B is the exported value."""

from __future__ import annotations

import numpy as np
import pytest

from rap_core.layout import make_layout
from rap_core.pair_stats import pair_stats, strongest_pair
from rap_core.prior import PriorBuilder
from rap_core.statistic import STATISTICS, CoactivationCounts

NAMES = ("A_t1", "A_t2", "B_t1", "B_t2", "C_t3", "extra")
LAGS = (1, 2, 1, 2, 3, None)


def _prior(statistic: str, layout: str = "features", seed: int = 3):
    rng = np.random.default_rng(seed)
    ind = np.where(rng.random((500, len(NAMES))) < 0.4, 1, -1).astype(np.int8)
    ind[:, 1] = ind[:, 0]  # two redundant votes, like the drill's pair that got -0.81
    y = (rng.random(500) < 0.35).astype(np.int8)
    signs = np.array([1, 1, -1, 1, -1, 1], dtype=np.int8)
    weights = np.array([1.5, 0.8, 0.0, 2.0, 0.3, 1.0])
    counts = CoactivationCounts.from_indicators(ind, y)
    builder = PriorBuilder(counts, signs, weights, make_layout(layout, NAMES, LAGS), statistic)
    return builder, ind, y, signs, weights


@pytest.mark.parametrize("statistic", STATISTICS)
def test_counts_terms_s_and_b_are_the_priors(statistic):
    prior, ind, y, signs, weights = _prior(statistic)
    active = ind == signs[None, :]
    bias = prior.bias()
    for i in range(len(NAMES)):
        for j in range(len(NAMES)):
            st = pair_stats(prior, i, j)
            for cls, counts in ((1, st.positives), (0, st.negatives)):
                rows = active[y == cls]
                assert counts.n == rows.shape[0]
                assert counts.both == int((rows[:, i] & rows[:, j]).sum())
                assert counts.first == int(rows[:, i].sum())
                assert counts.second == int(rows[:, j].sum())
            assert st.s == float(prior.statistic_matrix()[i, j])
            if i != j:  # the diagonal is 0 by definition, whatever the terms say
                expected = st.positives.term - (0.0 if statistic == "pmi" else st.negatives.term)
                assert st.s == pytest.approx(expected, rel=1e-5, abs=1e-5)
            assert st.b == pytest.approx(float(bias[i, j]), rel=1e-6, abs=1e-7)
            assert st.b_raw == pytest.approx(st.s * weights[i] * weights[j], rel=1e-6, abs=1e-7)
            assert (st.weight_i, st.weight_j) == (pytest.approx(weights[i]),
                                                  pytest.approx(weights[j]))


def test_redundant_votes_read_as_firing_together_in_both_classes():
    prior, *_ = _prior("cpmi")
    st = pair_stats(prior, 0, 1)
    assert st.positives.both == st.positives.first == st.positives.second
    assert st.negatives.both == st.negatives.first == st.negatives.second


def test_strongest_pair_in_a_lag_block_names_the_largest_feature_entry():
    prior, *_ = _prior("cpmi", layout="lags")
    # lag positions: 0 = lag 1 (A_t1, B_t1), 1 = lag 2 (A_t2, B_t2), 2 = lag 3 (C_t3)
    i, j, n = strongest_pair(prior, range(0, 1), range(1, 2))
    assert n == 4
    b_feat = prior.feature_prior()
    assert abs(b_feat[i, j]) == np.abs(b_feat[np.ix_([0, 2], [1, 3])]).max()
    assert strongest_pair(prior, range(5, 6), range(0, 1)) is None  # no feature there
