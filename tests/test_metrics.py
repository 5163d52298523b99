"""Rule metrics equal cutlass's own functions on every evaluation path.

The numbers in the metrics panel are what a user compares edits by, so they must be the numbers
cutlass itself would report: roc_auc_score of the active-weight score and calculate_youden_j of
the m - 1/2 decision. Every evaluation path is checked against them: integer levels (weights that
are multiples of a power of two), a mixed-radix key (few repeated weights), and sorting (many).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from cutlass import calculate_youden_j, roc_auc_score
from hypothesis import given, settings
from hypothesis import strategies as st

import rap_core.metrics as metrics_module
from rap_core.metrics import MetricsEngine
from rap_core.rules import Rule

N, P = 1500, 12
FEATURES = tuple(f"V{i}_t{i % 4}" for i in range(P))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    ind = np.where(rng.random((N, P)) < 0.55, 1, -1).astype(np.int8)
    logit = ind[:, :4].sum(axis=1) + rng.normal(scale=1.0, size=N)
    y = (logit > 1.0).astype(np.int8)
    return ind, y


def reference(rule, ind, y):
    score = (ind == rule.sign[None, :]).astype(np.float64) @ rule.effective_weights().astype(
        np.float64)
    predicted = score >= rule.m - 0.5
    tpr = predicted[y == 1].mean()
    fpr = predicted[y == 0].mean()
    return roc_auc_score(y, score), calculate_youden_j(y, predicted), tpr, fpr


def make_rule(sign, weight, m):
    weight = np.asarray(weight, dtype=np.float32)
    return Rule.make(FEATURES, sign, weight, weight > 0, 10.0, m)


RULES = {
    "and of 4": (np.ones(P), [1, 1, 1, 1] + [0] * 8, 4),
    "2 of 5, mixed signs": ([1, -1, 1, 1, -1] + [1] * 7, [1] * 5 + [0] * 7, 2),
    "repeated weights": ([1, 1, -1, 1, 1, 1, -1, 1, 1, 1, 1, 1], [2, 2, 0.5, 0.5, 1, 1, 1, 0, 0,
                                                                  0, 0, 0], 3.25),
    "all distinct weights": ([1, 1, 1, 1, -1, -1, 1, 1, 1, -1, 1, 1],
                             [1.5, 1.25, 0.75, 2.0, 0.375, 0.5, 3.0, 0.125, 0.25, 1.75, 2.5,
                              0.625], 6.0),
    "repeated non-dyadic weights": ([1, -1] * 6, [0.7] * 5 + [0.3] * 4 + [0] * 3, 2.1),
    "no votes": (np.ones(P), [0] * P, 1),
    "always true": (np.ones(P), [1] * 3 + [0] * 9, 0),
}


@pytest.mark.parametrize("path", ["levels", "radix", "sorting"])
@pytest.mark.parametrize("name", list(RULES))
def test_metrics_equal_cutlass(data, monkeypatch, path, name):
    if path in ("radix", "sorting"):
        monkeypatch.setattr(metrics_module, "_MAX_LEVELS", 0)
    if path == "sorting":
        monkeypatch.setattr(metrics_module, "_MAX_KEYS", 0)
    ind, y = data
    rule = make_rule(*RULES[name])
    got = MetricsEngine(ind, y).evaluate(rule)
    auc, j, tpr, fpr = reference(rule, ind, y)
    assert got.auc == pytest.approx(auc, abs=1e-9), f"{name}: AUC differs from cutlass"
    assert got.j == pytest.approx(j, abs=1e-12), f"{name}: J differs from cutlass"
    assert got.tpr == pytest.approx(tpr, abs=1e-12) and got.fpr == pytest.approx(fpr, abs=1e-12)
    assert got.k == len(rule.votes())


@settings(max_examples=40, deadline=None)
@given(weights=st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 3.0]), min_size=P,
                        max_size=P),
       signs=st.lists(st.sampled_from([1, -1]), min_size=P, max_size=P),
       m=st.sampled_from([0.0, 0.5, 1.0, 2.0, 2.75, 4.0, 9.0]))
def test_any_rule_matches_cutlass(data, weights, signs, m):
    ind, y = data
    rule = make_rule(signs, weights, m)
    got = MetricsEngine(ind, y).evaluate(rule)
    auc, j, _, _ = reference(rule, ind, y)
    assert got.auc == pytest.approx(auc, abs=1e-9)
    assert got.j == pytest.approx(j, abs=1e-12)


def test_perfect_rule_scores_one():
    rng = np.random.default_rng(5)
    ind = np.where(rng.random((300, P)) < 0.5, 1, -1).astype(np.int8)
    y = ((ind[:, 0] == 1) & (ind[:, 1] == -1)).astype(np.int8)
    rule = make_rule([1, -1] + [1] * 10, [1, 1] + [0] * 10, 2)
    got = MetricsEngine(ind, y).evaluate(rule)
    assert (got.j, got.auc, got.tpr, got.fpr, got.k) == (1.0, 1.0, 1.0, 0.0, 2)


def test_one_class_has_no_auc_but_still_a_rate():
    ind = np.ones((10, P), dtype=np.int8)
    got = MetricsEngine(ind, np.ones(10, np.int8)).evaluate(make_rule(np.ones(P), [1] + [0] * 11,
                                                                      1))
    assert math.isnan(got.auc) and got.tpr == 1.0
