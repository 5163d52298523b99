"""The co-activation statistic S: exact counts, the documented formulas, what a user sees in S."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rap_core.errors import RapError
from rap_core.statistic import STATISTICS, CoactivationCounts, Statistic, coactivation_statistic

SETTINGS = settings(derandomize=True, max_examples=40, deadline=None)


def random_problem(seed: int, n: int, p: int):
    rng = np.random.default_rng(seed)
    ind = np.where(rng.random((n, p)) < rng.uniform(0.1, 0.9, size=p), 1, -1).astype(np.int8)
    y = (rng.random(n) < rng.uniform(0.0, 1.0)).astype(np.int8)
    signs = np.where(rng.random(p) < 0.5, 1, -1).astype(np.int8)
    return ind, y, signs


def reference_pmi(active: np.ndarray, smoothing: float) -> np.ndarray:
    """PMI of one class straight from the definition in docs/PRIOR.md (float64, no shortcuts)."""
    n, p = active.shape
    out = np.zeros((p, p))
    z = n + 4 * smoothing
    for i in range(p):
        for j in range(p):
            n_ij = np.sum(active[:, i] & active[:, j])
            p_ij = (n_ij + smoothing) / z
            p_i = (active[:, i].sum() + 2 * smoothing) / z
            p_j = (active[:, j].sum() + 2 * smoothing) / z
            out[i, j] = np.log(p_ij) - np.log(p_i) - np.log(p_j)
    return out


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), p=st.integers(1, 24))
def test_counts_formula_equals_a_direct_count_of_coactivations(seed, n, p):
    ind, y, signs = random_problem(seed, n, p)
    counts = CoactivationCounts.from_indicators(ind, y)
    active = ind * signs == 1
    for positive, rows in ((True, y == 1), (False, y == 0)):
        direct = active[rows].astype(np.int64).T @ active[rows].astype(np.int64)
        assert np.array_equal(counts.pair_counts(signs, positive), direct)
    assert (counts.n_pos, counts.n_neg) == (int(y.sum()), int(n - y.sum()))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), p=st.integers(1, 24),
       name=st.sampled_from(STATISTICS))
def test_one_row_equals_that_row_of_the_full_matrix_bitwise(seed, n, p, name):
    ind, y, signs = random_problem(seed, n, p)
    stat = Statistic(CoactivationCounts.from_indicators(ind, y), name)
    full = stat.matrix(signs)
    assert full.dtype == np.float32 and full.shape == (p, p)
    assert np.array_equal(full, full.T), "S must be exactly symmetric"
    assert np.all(np.diagonal(full) == 0)
    assert np.all(np.isfinite(full))
    for i in range(p):
        assert np.array_equal(stat.row(signs, i), full[i]), f"{name}: row {i} differs"


@pytest.mark.parametrize("smoothing", [1.0, 0.5])
def test_cpmi_matches_the_definition(smoothing):
    ind, y, signs = random_problem(3, 200, 6)
    active = ind * signs == 1
    expected = reference_pmi(active[y == 1], smoothing) - reference_pmi(active[y == 0], smoothing)
    np.fill_diagonal(expected, 0.0)
    counts = CoactivationCounts.from_indicators(ind, y)
    got = coactivation_statistic(counts, signs, "cpmi", smoothing)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    pmi = coactivation_statistic(counts, signs, "pmi", smoothing)
    expected_pmi = reference_pmi(active[y == 1], smoothing)
    np.fill_diagonal(expected_pmi, 0.0)
    np.testing.assert_allclose(pmi, expected_pmi, rtol=1e-5, atol=1e-6)


def and_rule_data(n: int = 20_000, seed: int = 11):
    """Four independent fair indicators; the target is 'vote 0 and vote 1 both inside'."""
    rng = np.random.default_rng(seed)
    ind = np.where(rng.random((n, 4)) < 0.5, 1, -1).astype(np.int8)
    y = ((ind[:, 0] == 1) & (ind[:, 1] == 1)).astype(np.int8)
    return ind, y


def test_cpmi_is_near_zero_for_independent_votes():
    rng = np.random.default_rng(5)
    ind = np.where(rng.random((20_000, 5)) < 0.5, 1, -1).astype(np.int8)
    y = (rng.random(20_000) < 0.3).astype(np.int8)
    s = coactivation_statistic(CoactivationCounts.from_indicators(ind, y), np.ones(5, np.int8))
    assert np.abs(s).max() < 0.06


def test_cpmi_is_clearly_positive_for_the_pair_of_an_and_rule():
    ind, y = and_rule_data()
    counts = CoactivationCounts.from_indicators(ind, y)
    s = coactivation_statistic(counts, np.ones(4, np.int8), "cpmi")
    assert s[0, 1] > 2.0, "the two votes of an AND rule must stand out"
    others = [s[i, j] for i in range(4) for j in range(4) if i != j and {i, j} != {0, 1}]
    assert max(abs(v) for v in others) < 0.06
    # Why contrastive: among positives both votes are always active, so plain PMI sees nothing.
    pmi = coactivation_statistic(counts, np.ones(4, np.int8), "pmi")
    assert abs(pmi[0, 1]) < 0.01


def test_phi_is_bounded_and_flipping_a_sign_negates_its_row():
    ind, y = and_rule_data(4_000)
    counts = CoactivationCounts.from_indicators(ind, y)
    signs = np.ones(4, np.int8)
    phi = coactivation_statistic(counts, signs, "phi")
    assert np.all(np.abs(phi) <= 2.0)
    assert phi[0, 1] > 0.5
    flipped = signs.copy()
    flipped[0] = -1
    phi_flipped = coactivation_statistic(counts, flipped, "phi")
    np.testing.assert_allclose(phi_flipped[0, 1:], -phi[0, 1:], atol=1e-6)
    np.testing.assert_array_equal(phi_flipped[1:, 1:], phi[1:, 1:])


def test_counts_stay_exact_across_blas_chunks(monkeypatch):
    import rap_core.statistic as statistic

    monkeypatch.setattr(statistic, "_CHUNK_BYTES", 1)  # 256-row chunks
    ind, y, signs = random_problem(9, 1_000, 7)
    counts = CoactivationCounts.from_indicators(ind, y)
    active = (ind * signs == 1)[y == 1].astype(np.int64)
    assert np.array_equal(counts.pair_counts(signs, True), active.T @ active)


@pytest.mark.parametrize("ind, y, message", [
    (np.zeros((3, 2), np.int8), np.zeros(3, np.int8), r"indicators must be \+1"),
    (np.full((3, 2), 2, np.int8), np.zeros(3, np.int8), r"indicators must be \+1"),
    (np.ones((3, 2), np.int8), np.array([0, 1, 2], np.int8), "labels must be 0 or 1"),
    (np.ones((3, 2), np.int8), np.zeros(4, np.int8), "one value per row"),
    (np.ones(3, np.int8), np.zeros(3, np.int8), "must be 2-D"),
])
def test_bad_inputs_raise_one_line_rap_errors(ind, y, message):
    with pytest.raises(RapError, match=message):
        CoactivationCounts.from_indicators(ind, y)


def test_bad_statistic_smoothing_and_signs_raise_rap_errors():
    ind, y, _ = random_problem(1, 50, 3)
    counts = CoactivationCounts.from_indicators(ind, y)
    with pytest.raises(RapError, match="unknown statistic 'pim'; choose one of cpmi, pmi, phi"):
        Statistic(counts, "pim")
    with pytest.raises(RapError, match="smoothing must be a positive number"):
        Statistic(counts, "cpmi", smoothing=0.0)
    with pytest.raises(RapError, match="signs must be"):
        Statistic(counts).matrix(np.array([1, 0, 1]))


def test_a_big_tables_counts_on_two_threads_equal_the_counts_on_one(monkeypatch):
    """From _PARALLEL_WORK on, the two classes' Gram products run at once (a 5,000 x 1,000
    table: 42 -> 26 ms): the counts must be the same integers, and a bad indicator still
    fails with one line from either thread."""
    from rap_core import statistic

    rng = np.random.default_rng(3)
    ind = np.where(rng.random((300, 40)) < 0.4, 1, -1).astype(np.int8)
    y = (rng.random(300) < 0.3).astype(int)
    monkeypatch.setattr(statistic, "_PARALLEL_WORK", 10**12)
    one = CoactivationCounts.from_indicators(ind, y)
    monkeypatch.setattr(statistic, "_PARALLEL_WORK", 0)
    two = CoactivationCounts.from_indicators(ind, y)
    for name in ("gram_pos", "gram_neg", "sum_pos", "sum_neg"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
        assert getattr(two, name).dtype == np.int64
    assert (one.n_pos, one.n_neg) == (two.n_pos, two.n_neg)
    bad = ind.copy()
    bad[np.flatnonzero(y == 1)[0], 0] = 0  # a zero among the positives: the background thread
    with pytest.raises(RapError, match=r"\+1 .* or -1"):
        CoactivationCounts.from_indicators(bad, y)
