"""Rules: what a fit's model becomes when a person edits it, and how it reads.

The contract a user relies on: the rule shown for a fit decides every row exactly as the fit's
model does (polished m-of-k or plain L1), and the sentence says what the rule does.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from rap_core.errors import RapError
from rap_core.ranges import make_ranges
from rap_core.rules import Rule, provisional_rule, rule_from_fit, rule_text

FEATURES = ("V1_t0", "V2_t1", "V3_t2", "V4_t3", "V5_t4", "V6_t5")


def ranges_for(features=FEATURES):
    p = len(features)
    rmin = np.array([0.12, -1.0, 0.41, np.nan, np.nan, -0.2][:p], dtype=np.float64)
    rmax = np.array([np.nan, 1.0, 0.97, 2.5, np.nan, 0.3][:p], dtype=np.float64)
    return make_ranges(features, rmin, rmax)


def fake_fit(coef, intercept, *, adopted, K=10.0):
    return SimpleNamespace(coef=np.asarray(coef, dtype=np.float64), intercept=float(intercept),
                           adopted=adopted, K=K, ranges=ranges_for())


def cutlass_mofk_intercept(K, k, m):
    """cutlass's b_for_mofk: the 0.5 boundary between m-1 and m aligned votes."""
    return -K * (2 * int(m) - k - 1)


def random_indicators(n, p, seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((n, p)) < 0.5, 1, -1).astype(np.int8)


def test_polished_fit_becomes_an_m_of_k_rule():
    K = 10.0
    coef = np.array([0, K, 0, -K, K, 0])
    rule = rule_from_fit(fake_fit(coef, cutlass_mofk_intercept(K, 3, 2), adopted=True, K=K))
    assert rule.m == 2.0 and rule.K == K
    assert [(f, s, w) for _, f, s, w in rule.votes()] == [
        ("V2_t1", 1, 1.0), ("V4_t3", -1, 1.0), ("V5_t4", 1, 1.0)]
    unused = [0, 2, 5]
    assert not rule.enabled[unused].any(), "features the fit did not use carry votes that are off"
    assert np.all(rule.weight[unused] == 0) and np.all(rule.sign[unused] == 1)


def test_l1_fit_keeps_the_models_logit_exactly():
    coef = np.array([0.5, 0.0, -2.0, 1.0, 0.0, 0.25])
    b = 0.3
    rule = rule_from_fit(fake_fit(coef, b, adopted=False))
    assert rule.K == 2.0
    np.testing.assert_allclose(rule.weight, [0.25, 0, 1.0, 0.5, 0, 0.125])
    x = random_indicators(500, len(FEATURES))
    np.testing.assert_allclose(rule.logit(x), x @ coef + b, atol=1e-9,
                               err_msg="the editable rule must score rows as the L1 model does")
    np.testing.assert_array_equal(rule.predict(x), x @ coef + b >= 0)


@pytest.mark.parametrize("k", range(1, 7))
def test_m_of_k_semantics_match_cutlass_for_every_m(k):
    K = 10.0
    x = random_indicators(400, len(FEATURES), seed=k)
    rng = np.random.default_rng(100 + k)
    signs = rng.choice([-1, 1], size=k)
    votes = rng.permutation(len(FEATURES))[:k]
    for m in range(0, k + 2):
        sign = np.ones(len(FEATURES), np.int8)
        sign[votes] = signs
        enabled = np.zeros(len(FEATURES), bool)
        enabled[votes] = True
        rule = Rule.make(FEATURES, sign, enabled.astype(np.float32), enabled, K, m)
        cutlass_logit = K * (x[:, votes] * signs).sum(axis=1) + cutlass_mofk_intercept(K, k, m)
        np.testing.assert_allclose(rule.logit(x), cutlass_logit, atol=1e-9)
        np.testing.assert_array_equal(rule.predict(x), cutlass_logit >= 0,
                                      err_msg=f"decision differs from cutlass at k={k}, m={m}")


def test_polished_rule_round_trips_through_cutlass_intercept():
    for k in range(1, 6):
        for m in range(1, k + 1):
            coef = np.zeros(len(FEATURES))
            coef[:k] = 10.0
            rule = rule_from_fit(fake_fit(coef, cutlass_mofk_intercept(10.0, k, m), adopted=True))
            assert rule.m == m, f"k={k}: m recovered as {rule.m}"


def test_provisional_rule_is_an_and_of_every_feature():
    rule = provisional_rule(ranges_for())
    assert len(rule.votes()) == len(FEATURES) and rule.m == len(FEATURES)
    assert np.all(rule.sign == 1) and np.all(rule.effective_weights() == 1)


def test_votes_are_ordered_by_weight_then_index():
    rule = Rule.make(FEATURES, [1] * 6, [0.5, 2, 0, 2, 1, 3], [True, True, True, True, True,
                                                                  False], 10.0, 1)
    assert [i for i, *_ in rule.votes()] == [1, 3, 4, 0], "off and zero-weight votes are hidden"


def test_rules_are_immutable_and_validated():
    rule = provisional_rule(ranges_for())
    with pytest.raises(ValueError):
        rule.weight[0] = 5.0
    with pytest.raises(RapError, match="sign"):
        Rule.make(FEATURES, [0] * 6, [1] * 6, [True] * 6, 10.0, 1)
    with pytest.raises(RapError, match="K"):
        Rule.make(FEATURES, [1] * 6, [1] * 6, [True] * 6, 0.0, 1)


def unit_rule(votes, m, signs=None):
    sign = np.ones(len(FEATURES), np.int8)
    weight = np.zeros(len(FEATURES), np.float32)
    for j, i in enumerate(votes):
        weight[i] = 1.0
        if signs:
            sign[i] = signs[j]
    return Rule.make(FEATURES, sign, weight, weight > 0, 10.0, m)


def test_rule_text_reads_like_the_rule():
    text = rule_text(unit_rule([2, 5, 0], 2, signs=[1, -1, 1]), ranges_for())
    assert text == "at least 2 of 3: V1_t0 ≥ 0.12, V3_t2 in [0.41, 0.97], V6_t5 outside [-0.2, 0.3]"
    both = rule_text(unit_rule([2, 3], 2), ranges_for())
    assert both == "all of: V3_t2 in [0.41, 0.97], V4_t3 ≤ 2.5"
    assert rule_text(unit_rule([3], 1, signs=[-1]), ranges_for()) == "V4_t3 > 2.5"
    assert "V5_t4 any value" in rule_text(unit_rule([4], 1), ranges_for())


def test_rule_text_shows_weights_and_degenerate_thresholds():
    weighted = Rule.make(FEATURES, [1] * 6, [0, 0, 1.5, 0, 0, 1], [False, False, True, False,
                                                                     False, True], 10.0, 2)
    text = rule_text(weighted, ranges_for())
    assert text.startswith("active weight ≥ 1.5 of 2.5: ") and "V3_t2 in [0.41, 0.97] ×1.5" in text
    assert rule_text(unit_rule([2, 3], 0), ranges_for()).startswith("always positive")
    assert rule_text(unit_rule([2, 3], 3), ranges_for()).startswith("never positive")
    assert rule_text(unit_rule([], 1), ranges_for()) == "no enabled votes (never positive)"
    assert rule_text(unit_rule([], 0), ranges_for()) == "no enabled votes (always positive)"
    assert not math.isnan(unit_rule([], 0).m)
