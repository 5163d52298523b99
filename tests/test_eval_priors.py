"""The arms' priors, the query row and the leak guard (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from rap_core import eval_priors as ep
from rap_core.errors import RapError
from rap_core.eval_task import make_split, resolve_sizes


def _prior():
    bias = np.zeros((6, 6), dtype=np.float32)
    bias[1, 4] = bias[4, 1] = 1.0
    bias[1, 2] = bias[2, 1] = -0.5
    weights = np.array([0, 2.0, 1.0, 0, 4.0, 0])
    return ep.with_query_row(bias, weights)


def test_query_row_comes_from_the_weights():
    prior = _prior()
    assert prior.shape == (7, 7)
    np.testing.assert_allclose(prior[6, :6], [0, 0.5, 0.25, 0, 1.0, 0])
    np.testing.assert_array_equal(prior[:, 6], prior[6, :])
    assert prior[6, 6] == 0


def test_oracle_links_true_positions_and_the_query():
    prior = ep.oracle_prior([1, 3], 5)
    expected = np.zeros((6, 6))
    for i, j in [(1, 3), (1, 5), (3, 5)]:
        expected[i, j] = expected[j, i] = 1
    np.testing.assert_array_equal(prior, expected)


def test_shuffled_keeps_values_and_query_but_moves_positions():
    prior = _prior()
    shuffled = ep.shuffled_prior(prior, seed=3)
    assert sorted(shuffled.ravel()) == sorted(prior.ravel())
    assert sorted(shuffled[6]) == sorted(prior[6])  # the query keeps its row's values...
    assert not np.array_equal(shuffled[6], prior[6])  # ...at other positions
    np.testing.assert_array_equal(shuffled, shuffled.T)


def test_random_has_same_rank_norm_and_support_size():
    prior = _prior()
    rnd = ep.random_prior(prior, seed=1)
    np.testing.assert_allclose(rnd, rnd.T, atol=1e-6)
    assert np.linalg.matrix_rank(rnd, tol=1e-5) == np.linalg.matrix_rank(prior, tol=1e-5)
    assert np.linalg.norm(rnd) == pytest.approx(np.linalg.norm(prior), rel=1e-5)
    support = lambda m: int((np.abs(m).sum(1) > 1e-6).sum())  # noqa: E731
    assert support(rnd) == support(prior)


def test_leak_guard_refuses_a_prior_fitted_on_test_rows():
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array([0, 1] * 10)
    hashes = ep.row_hashes(X, y)
    assert len(set(hashes)) == 20
    ep.check_no_leak(hashes[:10], hashes[10:], "ok")  # disjoint: fine
    with pytest.raises(RapError, match="fitted on 2 of the 10 test rows"):
        ep.check_no_leak(hashes[:12], hashes[10:], "demo")


def test_split_is_disjoint_stratified_and_nested():
    y = np.array([1] * 250 + [0] * 750)
    split = make_split(y)
    parts = [set(split.pool), set(split.val), set(split.test)]
    assert sum(map(len, parts)) == 1000 and len(set.union(*parts)) == 1000
    for size in (100, 300):
        assert y[split.train(size)].mean() == pytest.approx(0.25, abs=0.02)
    assert resolve_sizes(["all", "100"], split.pool.size) == [100, split.pool.size]
    with pytest.raises(RapError, match="exceeds"):
        resolve_sizes(["5000"], split.pool.size)


def test_controls_scramble_the_prior_under_test():
    from rap_core.evaluate import arm_prior

    rap = ep.oracle_prior([1, 2], 6)
    session = ep.oracle_prior([3, 4], 6)
    base = {"rap": rap, "session": session, "derive": "rap"}
    assert arm_prior("none", 300, 0, base) == (None, {})
    zero, how = arm_prior("zero", 300, 0, base)
    assert zero is rap and how == {"gate": "frozen", "alpha_init": 0.0}
    shuffled, _ = arm_prior("shuffled", 300, 0, base)
    assert np.array_equal(shuffled, ep.shuffled_prior(rap, 300_000))
    base["derive"] = "session"  # the TUI's quick evaluation: only the edited prior is tested
    shuffled, _ = arm_prior("shuffled", 300, 0, base)
    assert np.array_equal(shuffled, ep.shuffled_prior(session, 300_000))
    other, _ = arm_prior("shuffled", 300, 1, base)
    assert not np.array_equal(other, shuffled)  # a new permutation per seed
