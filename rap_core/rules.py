"""The rule: one vote per feature (sign, weight, on/off), a logit scale K and a threshold m.

Semantics (the shared design, docs/PRIOR.md for the words): vote v is *active* on a row when the
row's indicator equals the vote's sign. With effective weights w = weight * enabled, the rule
predicts positive iff  sum of w over active votes >= m - 1/2,  and its logit is
2K (active_weight - m + 1/2).

Why this form: with every weight 1 it is exactly cutlass's m-of-k compression. cutlass scores
K * sum_v sign_v x_v + b with b = -K(2m - k - 1); since sign_v x_v = 2 A_v - 1 for x in {±1}, that
is 2K(a - m + 1/2) with a the number of active votes. A non-polished (L1) model
sum_v c_v x_v + b is the same with K = max|c|, w = |c| / K and m = (W - b/K)/2 + 1/2, so editing
either kind of fit is editing one object.

Every feature carries a vote; features the fit did not use carry a disabled vote (weight 0,
sign +1) that a user may turn on. Rules are immutable: arrays are read-only, edits make new rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rap_core.errors import RapError
from rap_core.ranges import format_range

DEFAULT_K = 10.0


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Rule:
    """Votes (dataset feature order) plus K (logit scale) and m (threshold).

    `positions` maps a feature name to its index; it is built once per feature list and shared
    by every rule derived from this one (an edit looks a name up in O(1), not O(P)).
    """

    features: tuple[str, ...]
    sign: np.ndarray  # int8 (P,) +1 "inside votes positive", -1 "outside votes positive"
    weight: np.ndarray  # float32 (P,) >= 0
    enabled: np.ndarray  # bool (P,)
    K: float
    m: float
    positions: dict[str, int] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.positions is None:
            object.__setattr__(self, "positions",
                               {name: i for i, name in enumerate(self.features)})

    @classmethod
    def make(cls, features, sign, weight, enabled, K: float, m: float) -> Rule:
        """Validated construction (copies the arrays)."""
        features = tuple(str(f) for f in features)
        p = len(features)
        sign = np.array(sign, dtype=np.int8)
        weight = np.array(weight, dtype=np.float32)
        enabled = np.array(enabled, dtype=bool)
        for name, arr in (("sign", sign), ("weight", weight), ("enabled", enabled)):
            if arr.shape != (p,):
                raise RapError(f"rule {name} must have one entry per feature ({p}), "
                               f"got shape {arr.shape}")
        if not np.all((sign == 1) | (sign == -1)):
            raise RapError("a vote's sign must be +1 or -1")
        if not np.all(np.isfinite(weight) & (weight >= 0)):
            raise RapError("vote weights must be finite and >= 0")
        if not (math.isfinite(K) and K > 0):
            raise RapError(f"K must be a finite number > 0, got {K!r}")
        if not (math.isfinite(m) and m >= 0):
            raise RapError(f"m must be a finite number >= 0, got {m!r}")
        return cls(features, _frozen(sign), _frozen(weight), _frozen(enabled),
                   float(K), float(m))

    @property
    def n_features(self) -> int:
        return len(self.features)

    def index(self, feature: str) -> int:
        try:
            return self.positions[feature]
        except (KeyError, TypeError):
            raise RapError(f"unknown feature {feature!r}; this data has "
                           f"{self.n_features} features such as {self.features[0]!r}") from None

    def effective_weights(self) -> np.ndarray:
        """float32 (P,): weight where enabled, else 0 (what the prior and metrics use)."""
        return np.where(self.enabled, self.weight, np.float32(0)).astype(np.float32)

    def votes(self) -> list[tuple[int, str, int, float]]:
        """Enabled votes (on, weight > 0) as (index, feature, sign, weight), heaviest first."""
        w = self.effective_weights()
        enabled = np.flatnonzero(w > 0)
        order = enabled[np.lexsort((enabled, -w[enabled]))]
        return [(int(i), self.features[i], int(self.sign[i]), float(w[i])) for i in order]

    def with_vote(self, i: int, *, sign: int | None = None, weight: float | None = None,
                  enabled: bool | None = None) -> Rule:
        """A copy with vote i changed (O(P))."""
        s, w, e = self.sign.copy(), self.weight.copy(), self.enabled.copy()
        if sign is not None:
            s[i] = sign
        if weight is not None:
            w[i] = weight
        if enabled is not None:
            e[i] = enabled
        return Rule(self.features, _frozen(s), _frozen(w), _frozen(e), self.K, self.m,
                    self.positions)

    def with_params(self, *, K: float | None = None, m: float | None = None) -> Rule:
        """A copy with another K or m (the arrays are shared: they are read-only)."""
        return Rule(self.features, self.sign, self.weight, self.enabled,
                    self.K if K is None else float(K), self.m if m is None else float(m),
                    self.positions)

    def same_as(self, other: Rule) -> bool:
        """Identical votes, K and m (bitwise)."""
        return (self.features == other.features and self.K == other.K and self.m == other.m
                and np.array_equal(self.sign, other.sign)
                and self.weight.tobytes() == other.weight.tobytes()
                and np.array_equal(self.enabled, other.enabled))

    def predict(self, indicators: np.ndarray) -> np.ndarray:
        """bool (n,): the rule's decision on rows of ±1 indicators (reference, not fast)."""
        active = np.asarray(indicators) == self.sign[None, :]
        score = active.astype(np.float64) @ self.effective_weights().astype(np.float64)
        return score >= self.m - 0.5

    def logit(self, indicators: np.ndarray) -> np.ndarray:
        """float64 (n,): 2K (active weight - m + 1/2)."""
        active = np.asarray(indicators) == self.sign[None, :]
        score = active.astype(np.float64) @ self.effective_weights().astype(np.float64)
        return 2.0 * self.K * (score - self.m + 0.5)


def rule_from_fit(fit) -> Rule:
    """The rule a fit adopted: polished votes (weight 1) or the L1 model (weights |c|/K)."""
    coef = np.asarray(fit.coef, dtype=np.float64)
    features = tuple(fit.ranges.features)
    nonzero = coef != 0
    sign = np.where(coef < 0, -1, 1).astype(np.int8)
    b = float(fit.intercept)
    if fit.adopted and np.any(nonzero):
        K = float(fit.K) if fit.K > 0 else float(np.abs(coef).max())
        weight = nonzero.astype(np.float32)
    elif np.any(nonzero):
        K = float(np.abs(coef).max())
        weight = (np.abs(coef) / K).astype(np.float32)
    else:  # nothing survived L1: an empty rule that says what the intercept says
        K = float(fit.K) if fit.K > 0 else DEFAULT_K
        weight = np.zeros(len(features), dtype=np.float32)
    total = float(weight.astype(np.float64).sum())
    m = (total - b / K) / 2.0 + 0.5
    if fit.adopted and abs(m - round(m)) < 1e-6:
        m = float(round(m))  # polished: an integer m-of-k, recovered from a float intercept
    return Rule.make(features, sign, weight, nonzero, K, max(0.0, m))


def provisional_rule(ranges) -> Rule:
    """Preview before the fit ends: every feature votes inside (+1), weight 1, m = P (AND)."""
    p = len(ranges.features)
    return Rule.make(ranges.features, np.ones(p, np.int8), np.ones(p, np.float32),
                     np.ones(p, bool), DEFAULT_K, float(p))


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"


def condition_text(feature: str, sign: int, rmin: float, rmax: float) -> str:
    """When vote `feature` is active: "V3_t2 in [0.41, 0.97]", "V1_t0 ≥ 0.12", "V2 outside …"."""
    lo_open, hi_open = math.isnan(rmin), math.isnan(rmax)
    if sign > 0:
        if lo_open and hi_open:
            return f"{feature} any value"
        if lo_open:
            return f"{feature} ≤ {_number(rmax)}"
        if hi_open:
            return f"{feature} ≥ {_number(rmin)}"
        return f"{feature} in {format_range(rmin, rmax)}"
    if lo_open and hi_open:
        return f"{feature} never"
    if lo_open:
        return f"{feature} > {_number(rmax)}"
    if hi_open:
        return f"{feature} < {_number(rmin)}"
    return f"{feature} outside {format_range(rmin, rmax)}"


def rule_text(rule: Rule, ranges) -> str:
    """The rule as a sentence: "at least 2 of 3: V3_t2 in [0.41, 0.97], V1_t0 ≥ 0.12"."""
    votes = rule.votes()
    if not votes:
        verdict = "always positive" if rule.m <= 0.5 else "never positive"
        return f"no enabled votes ({verdict})"
    unit = all(w == 1.0 for _, _, _, w in votes)
    parts = []
    for i, feature, sign, w in votes:
        text = condition_text(feature, sign, float(ranges.rmin[i]), float(ranges.rmax[i]))
        parts.append(text if unit else f"{text} ×{w:.3g}")
    total = sum(w for _, _, _, w in votes)
    threshold = rule.m - 0.5
    body = ", ".join(parts)
    if threshold <= 0:
        return f"always positive (m = {rule.m:g} ≤ 1/2): {body}"
    if threshold > total:
        return f"never positive (m = {rule.m:g} exceeds the total weight {total:g}): {body}"
    if unit:
        need = math.ceil(threshold)  # a whole number of active votes reaches m - 1/2
        if need == len(votes):
            return body if need == 1 else f"all of: {body}"
        return f"at least {need} of {len(votes)}: {body}"
    return f"active weight ≥ {threshold:.3g} of {total:.3g}: {body}"
