"""rap_core.stats against values computed by hand / published t tables."""

from __future__ import annotations

import math

import pytest

from rap_core.stats import HELPS, HURTS, NO_EFFECT, mean_ci, paired_diff, t_quantile, verdict


@pytest.mark.parametrize("dof, expected", [(1, 12.7062), (4, 2.7764), (9, 2.2622),
                                           (30, 2.0423)])
def test_t_quantile_matches_the_table(dof, expected):
    assert t_quantile(0.95, dof) == pytest.approx(expected, abs=1e-4)


def test_mean_ci_of_one_to_five():
    mean, half = mean_ci([1, 2, 3, 4, 5])
    # sd = sqrt(2.5); half = t(0.975, 4) * sd / sqrt(5)
    assert mean == 3.0
    assert half == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)


def test_mean_ci_edge_cases():
    assert math.isnan(mean_ci([])[0])
    mean, half = mean_ci([0.7])
    assert mean == 0.7 and math.isnan(half)
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 0.0)
    assert mean_ci([1.0, None, float("nan"), 3.0])[0] == 2.0


def test_paired_diff_removes_the_shared_seed_effect():
    none = {0: 0.50, 1: 0.70, 2: 0.30, 3: 0.90}  # large seed-to-seed spread...
    arm = {s: v - 0.10 for s, v in none.items()}  # ...the arm is better by exactly 0.1 each
    diff, half, pairs = paired_diff(arm, none)
    assert diff == pytest.approx(-0.10) and half == pytest.approx(0.0, abs=1e-12)
    assert pairs == 4
    assert verdict(diff, half, lower_is_better=True) == HELPS


def test_paired_diff_uses_only_seeds_present_in_both():
    diff, half, pairs = paired_diff({0: 1.0, 1: 2.0, 5: 9.0}, {0: 0.0, 1: 1.0, 2: 3.0})
    assert pairs == 2 and diff == 1.0 and half == 0.0


@pytest.mark.parametrize("diff, half, lower, expected", [
    (-0.2, 0.1, True, HELPS), (0.2, 0.1, True, HURTS), (0.05, 0.1, True, NO_EFFECT),
    (0.2, 0.1, False, HELPS), (-0.2, 0.1, False, HURTS), (-0.05, 0.1, False, NO_EFFECT),
    (-0.2, float("nan"), True, NO_EFFECT), (-0.1, 0.1, True, NO_EFFECT),
])
def test_verdict_from_the_interval(diff, half, lower, expected):
    assert verdict(diff, half, lower) == expected
