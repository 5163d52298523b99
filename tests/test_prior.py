"""The prior B: incremental edits equal a full rebuild bitwise; layouts, scale and symmetry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rap_core.errors import RapError
from rap_core.layout import aggregate, make_layout
from rap_core.prior import PriorBuilder, build_prior, feature_prior, normalise
from rap_core.statistic import STATISTICS, CoactivationCounts, coactivation_statistic

SETTINGS = settings(derandomize=True, max_examples=30, deadline=None)


def problem(seed: int, n: int, p: int, *, lagless: float = 0.2):
    """Random indicators/labels/votes plus feature names and lags (some features without one)."""
    rng = np.random.default_rng(seed)
    ind = np.where(rng.random((n, p)) < rng.uniform(0.1, 0.9, size=p), 1, -1).astype(np.int8)
    y = (rng.random(n) < rng.uniform(0.05, 0.95)).astype(np.int8)
    signs = np.where(rng.random(p) < 0.5, 1, -1).astype(np.int8)
    weights = (rng.random(p) * (rng.random(p) < 0.6)).astype(np.float32)
    lags = [int(v) for v in rng.integers(0, 5, size=p)]
    for i in np.flatnonzero(rng.random(p) < lagless):
        lags[i] = None
    if all(lag is None for lag in lags):
        lags[0] = 3
    names = [f"V{i}_t{lag}" if lag is not None else f"X_{i}x" for i, lag in enumerate(lags)]
    return rng, CoactivationCounts.from_indicators(ind, y), signs, weights, names, lags


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300), p=st.integers(1, 24),
       layout=st.sampled_from(("features", "lags")), statistic=st.sampled_from(STATISTICS))
def test_incremental_edits_equal_the_full_rebuild_bitwise(seed, n, p, layout, statistic):
    rng, counts, signs, weights, names, lags = problem(seed, n, p)
    lay = make_layout(layout, names, lags)
    builder = PriorBuilder(counts, signs, weights, lay, statistic)
    for step in range(25):
        i = int(rng.integers(p))
        if rng.random() < 0.35:
            signs[i] = -signs[i]
            change = builder.set_sign(i, int(signs[i]))
        else:
            weights[i] = np.float32(rng.random() * (rng.random() < 0.8))
            change = builder.set_weight(i, float(weights[i]))
        full = build_prior(counts, signs, weights, lay, statistic)
        assert np.array_equal(builder.bias_raw(), full), f"step {step}: edit of vote {i} drifted"
        assert builder.scale == float(np.abs(full).max())
        expected_positions = () if lay.position_of[i] < 0 else (int(lay.position_of[i]),)
        assert change.positions == expected_positions
    assert np.array_equal(builder.bias(), normalise(full)[0])


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), p=st.integers(1, 24))
def test_switching_layouts_after_edits_equals_a_fresh_build(seed, p):
    rng, counts, signs, weights, names, lags = problem(seed, 120, p)
    builder = PriorBuilder(counts, signs, weights, make_layout("features", names, lags))
    for _ in range(10):
        i = int(rng.integers(p))
        weights[i] = np.float32(rng.random())
        builder.set_weight(i, float(weights[i]))
        builder.set_layout("lags" if rng.random() < 0.5 else "features")
    for name in ("lags", "features"):
        builder.set_layout(name)
        assert np.array_equal(builder.bias_raw(),
                              build_prior(counts, signs, weights, make_layout(name, names, lags)))
        assert builder.labels == make_layout(name, names, lags).labels


def test_features_layout_is_exactly_symmetric_and_normalised():
    _, counts, signs, weights, names, lags = problem(4, 300, 24)
    builder = PriorBuilder(counts, signs, weights, make_layout("features", names, lags))
    raw = builder.bias_raw()
    assert raw.dtype == np.float32 and raw.shape == (24, 24)
    assert np.array_equal(raw, raw.T)
    bias = builder.bias()
    assert bias.dtype == np.float32
    assert np.abs(bias).max() == 1.0
    assert builder.scale > 0
    np.testing.assert_allclose(bias, raw / builder.scale, rtol=1e-6)
    assert not np.any(np.signbit(bias) & (bias == 0)), "no negative zeros in an exported bias"


@pytest.mark.parametrize("layout", ["features", "lags"])
def test_zero_weights_give_a_zero_prior_with_scale_zero(layout):
    _, counts, signs, weights, names, lags = problem(8, 200, 10)
    builder = PriorBuilder(counts, signs, np.zeros(10), make_layout(layout, names, lags))
    assert builder.scale == 0.0
    assert not np.any(builder.bias_raw())
    assert not np.any(builder.bias())
    change = builder.set_weight(2, 0.5)  # one vote alone: S has a zero diagonal, so still zero
    assert builder.scale == 0.0 and not change.rescaled
    if layout == "features":  # a second vote: the pair's S entry appears, scaled by w_2 * w_5
        builder.set_weight(5, 1.0)
        s_25 = coactivation_statistic(counts, signs)[2, 5]
        assert builder.scale == abs(float(s_25 * np.float32(0.5))) > 0


def test_permuting_features_permutes_the_prior():
    rng = np.random.default_rng(2)
    ind = np.where(rng.random((250, 9)) < 0.5, 1, -1).astype(np.int8)
    y = (rng.random(250) < 0.4).astype(np.int8)
    signs = np.where(rng.random(9) < 0.5, 1, -1).astype(np.int8)
    weights = rng.random(9).astype(np.float32)
    names = [f"V{i}" for i in range(9)]
    perm = rng.permutation(9)

    def prior(order):
        counts = CoactivationCounts.from_indicators(ind[:, order], y)
        lay = make_layout("features", [names[i] for i in order], [None] * 9)
        return build_prior(counts, signs[order], weights[order], lay)

    assert np.array_equal(prior(perm), prior(np.arange(9))[np.ix_(perm, perm)])


def test_same_inputs_give_identical_bytes():
    def once():
        _, counts, signs, weights, names, lags = problem(21, 300, 16)
        builder = PriorBuilder(counts, signs, weights, make_layout("lags", names, lags))
        builder.set_weight(3, 0.25)
        builder.set_sign(7, -1)
        return builder.bias().tobytes()

    assert once() == once()


def test_lags_aggregation_equals_an_explicit_loop():
    _, counts, signs, weights, names, lags = problem(13, 300, 20)
    b_feat = feature_prior(coactivation_statistic(counts, signs), weights).astype(np.float64)
    lay = make_layout("lags", names, lags)
    distinct = sorted({lag for lag in lags if lag is not None})
    expected = np.zeros((len(distinct), len(distinct)))
    for i, lag_i in enumerate(lags):
        for j, lag_j in enumerate(lags):
            if lag_i is not None and lag_j is not None:
                expected[distinct.index(lag_i), distinct.index(lag_j)] += b_feat[i, j]
    got = build_prior(counts, signs, weights, lay)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(got, aggregate(b_feat.astype(np.float32), lay))
    assert lay.labels == tuple(f"lag {lag}" for lag in distinct)


def test_a_vote_without_a_lag_changes_nothing_in_the_lags_layout():
    _, counts, signs, weights, names, lags = problem(5, 200, 8, lagless=0.0)
    lags[4], names[4] = None, "X_4x"
    builder = PriorBuilder(counts, signs, weights, make_layout("lags", names, lags))
    before = builder.bias_raw().copy()
    change = builder.set_weight(4, 3.0)
    assert change.positions == () and not change.rescaled
    assert np.array_equal(builder.bias_raw(), before)


def test_layout_and_edit_errors_are_one_line_rap_errors():
    _, counts, signs, weights, names, lags = problem(6, 100, 4)
    with pytest.raises(RapError, match="unknown layout 'time'; choose one of features, lags"):
        make_layout("time", names, lags)
    with pytest.raises(RapError, match="none does; use the 'features' layout"):
        make_layout("lags", ["a", "b"], [None, None])
    builder = PriorBuilder(counts, signs, weights, make_layout("features", names, lags))
    with pytest.raises(RapError, match="out of range"):
        builder.set_weight(4, 1.0)
    with pytest.raises(RapError, match="finite and >= 0"):
        builder.set_weight(0, -1.0)
    with pytest.raises(RapError, match="sign must be"):
        builder.set_sign(0, 0)
