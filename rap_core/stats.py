"""Statistics of an evaluation: means with t intervals, paired differences, verdicts (no torch).

- `mean_ci(values)`: mean and the half-width of its 95% confidence interval from the
  t-distribution with n-1 degrees of freedom (scipy.stats.t); half-width NaN for one value.
- `paired_diff(arm, none)`: per-seed differences arm - none (same seed = same initial weights and
  batches), their mean and 95% t interval. Pairing removes the seed-to-seed spread both arms share.
- `verdict(diff, half, lower_is_better)`: "helps" when the whole interval lies on the better side
  of 0, "hurts" when it lies on the worse side, else "no detectable effect" (also for n < 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

HELPS, NO_EFFECT, HURTS = "helps", "no detectable effect", "hurts"
# Metrics and their direction: a smaller test loss is better, larger accuracy and AUC are.
LOWER_IS_BETTER = {"test_loss": True, "test_acc": False, "test_auc": False,
                   "samples_to_threshold": True, "step_ms": True}


def t_quantile(confidence: float, dof: int) -> float:
    """Two-sided t critical value (e.g. 0.95, 4 -> 2.776)."""
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, dof))


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of the CI); NaNs are dropped; (nan, nan) for no values."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if n == 0:
        return math.nan, math.nan
    mean = sum(xs) / n
    if n < 2:
        return mean, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    return mean, t_quantile(confidence, n - 1) * sd / math.sqrt(n)


def paired_diff(arm: dict, none: dict, confidence: float = 0.95) -> tuple[float, float, int]:
    """Paired by seed: {seed: value} of an arm and of none -> (mean diff, half-width, pairs)."""
    diffs = [arm[s] - none[s] for s in sorted(set(arm) & set(none))
             if arm[s] is not None and none[s] is not None
             and math.isfinite(arm[s]) and math.isfinite(none[s])]
    mean, half = mean_ci(diffs, confidence)
    return mean, half, len(diffs)


def verdict(diff: float, half: float, lower_is_better: bool = True) -> str:
    """From the paired difference's interval [diff - half, diff + half]."""
    if not (math.isfinite(diff) and math.isfinite(half)):
        return NO_EFFECT
    low, high = diff - half, diff + half
    better_side = high < 0 if lower_is_better else low > 0
    worse_side = low > 0 if lower_is_better else high < 0
    if better_side:
        return HELPS
    if worse_side:
        return HURTS
    return NO_EFFECT
